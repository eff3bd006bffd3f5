"""The app factory: services, middleware, error mapping and one router per domain.

``create_app(settings)`` builds everything a process needs once (log, engine, stores) and is
what ``planner serve`` hands to uvicorn. Each route's allowed roles are read from its guard
and written into its OpenAPI description and an ``x-roles`` extension.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Scope

from api.deps import ALL_ROLES, RoleGuard, current_key
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.middleware import HeadAsGet, ProblemGuard, StrictInput
from api.openapi import Served, install_openapi
from api.routes import (
    closures,
    coaching,
    codes,
    console,
    contacts,
    events,
    exports,
    health,
    incidents,
    log,
    map_layers,
    plan,
    recommendations,
    relocations,
    shift,
    units,
    webhooks,
)
from api.routes.plan import plan_regions
from api.services import Services, build_services
from api.settings import ApiSettings
from planner.errors import PlannerError
from planner.settings import get_settings

API_VERSION = "1"
logger = logging.getLogger(__name__)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """A ready-to-serve app on the database, region and code table of ``settings``."""
    settings = ApiSettings() if settings is None else settings
    services = build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _prime_routes(app)
        ticker = asyncio.create_task(_tick_forever(services)) if settings.tick_s > 0 else None
        follower = asyncio.create_task(_follow_forever(services))
        try:
            yield
        finally:
            if ticker is not None:
                ticker.cancel()
            follower.cancel()
            services.close()

    app = FastAPIOffline(
        title="dispatch-planner API",
        version=API_VERSION,
        description=(
            "Live dispatch centre and stateless solver. Send an API key as the `X-API-Key` "
            "header; each endpoint lists the roles it accepts. Writes accept `Idempotency-Key` "
            "and `If-Match` (the state version)."
        ),
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(HeadAsGet)
    app.add_middleware(StrictInput)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ProblemGuard)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "X-API-Key",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
                "Last-Event-ID",
            ],
            expose_headers=["ETag", "Retry-After", "Idempotent-Replayed", "Location"],
        )
    for module in (
        health,
        plan,
        contacts,
        incidents,
        units,
        recommendations,
        relocations,
        closures,
        coaching,
        shift,
        events,
        log,
        exports,
        webhooks,
        codes,
        console,
        map_layers,
    ):
        _document_roles(module.router)
        app.include_router(module.router)
    region = services.region
    install_openapi(
        app,
        services.codes,
        services.webhook_guard,
        plan_regions(services.settings),
        None if region is None else Served(*region.bbox, max_snap_m=get_settings().max_snap_m),
    )
    return app


async def _prime_routes(app: FastAPI) -> None:
    """Walk the router once before serving: FastAPI builds each included router's routes
    (dependency graphs, validators) on the first request that reaches it, which otherwise
    costs the first callers after a start or a take-over about 0.2 s on the event loop."""
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/-/prime",
        "raw_path": b"/-/prime",
        "root_path": "",
        "query_string": b"",
        "headers": [],
    }
    await app.router(scope, receive, send)


async def _tick_forever(services: Services) -> None:
    """Evaluate the time-based escalation rules every ``tick_s`` seconds while serving."""
    while True:
        await asyncio.sleep(services.settings.tick_s)
        if services.log_problem is not None or not services.leader:
            continue  # only a leader with a log that verifies writes, escalations included
        try:
            await run_in_threadpool(services.engine.tick)
        except PlannerError:
            logger.exception("escalation tick refused")
        await run_in_threadpool(services.maybe_checkpoint)


async def _follow_forever(services: Services) -> None:
    """Keep the write lease, or follow the leader and take over when it dies (PostgreSQL)."""
    if services.lease is None or not services.lease.postgres:
        return
    while True:
        await asyncio.sleep(services.settings.follow_s)
        try:
            await run_in_threadpool(services.follow)
        except Exception:
            logger.exception("following the log failed; retrying")


def services_of(app: FastAPI) -> Services:
    """The services an app was built with (tests and the CLI use this)."""
    services: Services = app.state.services
    return services


def _guards(dependant: Dependant) -> list[object]:
    """The role guards (and bare key checks) a route depends on, outermost first."""
    found: list[object] = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, RoleGuard) or dep.call is current_key:
            found.append(dep.call)
        found.extend(_guards(dep))
    return found


def _document_roles(router: APIRouter) -> None:
    """Write each route's allowed roles into its OpenAPI description (from its guard)."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or route.description.startswith("**Roles:**"):
            continue
        guards = _guards(route.dependant)
        if not guards:
            roles: list[str] = []
            line = "**Roles:** none (no API key needed)."
        elif isinstance(guards[0], RoleGuard):
            roles = [r.value for r in guards[0].roles]
            line = f"**Roles:** {', '.join(roles)}."
        else:
            roles = [r.value for r in ALL_ROLES]
            line = "**Roles:** any valid key."
        route.description = f"{line}\n\n{route.description or ''}".strip()
        route.openapi_extra = {**(route.openapi_extra or {}), "x-roles": roles}

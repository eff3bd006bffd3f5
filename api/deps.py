"""Typed dependencies: the services, the caller's API key and the role each route allows.

Routes declare who may call them with one of the ``Annotated`` aliases below (``Operator``,
``Reader``…); the app factory reads the guards back to write each route's allowed roles into
its OpenAPI description, so the documentation cannot drift from what is enforced.

Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool,
and each such hand-over costs a thread switch and an event-loop wake-up on every request. The
key check reads the database in the thread pool only for a key it has not confirmed within
the last second (``KeyStore.recent``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from api.services import Services
from planner.centre.engine import Engine
from planner.log.api_keys import ApiKey, Role
from planner.log.incident_log import IncidentLog

API_KEY_HEADER = "X-API-Key"

_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="An API key from `planner keys create --role ROLE --name NAME`.",
)


async def get_services(request: Request) -> Services:
    """The services the app factory built (log, engine, key store…)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_log(services: ServicesDep) -> IncidentLog:
    return services.log


LogDep = Annotated[IncidentLog, Depends(get_log)]


async def get_engine(services: ServicesDep) -> Engine:
    return services.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


async def current_key(
    services: ServicesDep, token: Annotated[str | None, Security(_api_key)] = None
) -> ApiKey:
    """The caller's live API key; 401 when the header is missing or the key is not valid, 429
    (with ``Retry-After``) when the key exceeds its rate limit."""
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"missing {API_KEY_HEADER} header",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
    key = services.keys.recent(token) or await run_in_threadpool(services.keys.authenticate, token)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown or revoked API key",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
    wait = services.rate_limiter.take(key.prefix)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"rate limit of {services.settings.rate_limit_per_s:g} requests/s exceeded",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return key


CurrentKey = Annotated[ApiKey, Depends(current_key)]


class RoleGuard:
    """A dependency that lets only the given roles through (403 for the others)."""

    def __init__(self, roles: Iterable[Role]) -> None:
        self.roles = tuple(roles)

    async def __call__(self, key: CurrentKey) -> ApiKey:
        if key.role not in self.roles:
            allowed = ", ".join(r.value for r in self.roles)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {key.role.value!r} may not call this endpoint (allowed: {allowed})",
            )
        return key


ALL_ROLES = tuple(Role)
OPERATOR_ROLES = (Role.DISPATCHER, Role.SUPERVISOR)
FEED_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.INTEGRATOR)
SOLVE_ROLES = (Role.PLANNER, Role.DISPATCHER, Role.SUPERVISOR, Role.INTEGRATOR)
TIMELINE_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.AUDITOR)
AUDIT_ROLES = (Role.SUPERVISOR, Role.AUDITOR)
EXPORT_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.INTEGRATOR)
FLEET_ROLES = (Role.SUPERVISOR, Role.INTEGRATOR)

Reader = Annotated[ApiKey, Depends(RoleGuard(ALL_ROLES))]
"""Any valid key: operational reads (no personal data unless the role allows it)."""
Operator = Annotated[ApiKey, Depends(RoleGuard(OPERATOR_ROLES))]
"""Dispatchers and supervisors: incident handling and hand-over."""
Feed = Annotated[ApiKey, Depends(RoleGuard(FEED_ROLES))]
"""Operators and machines (telephony, AVL): contacts, unit status and position, closures."""
Solver = Annotated[ApiKey, Depends(RoleGuard(SOLVE_ROLES))]
"""Stateless solves."""
TimelineReader = Annotated[ApiKey, Depends(RoleGuard(TIMELINE_ROLES))]
"""Incident timelines, which may carry personal data."""
Auditor = Annotated[ApiKey, Depends(RoleGuard(AUDIT_ROLES))]
"""The whole log and its verification."""
Exporter = Annotated[ApiKey, Depends(RoleGuard(EXPORT_ROLES))]
"""CAP and EIDO exports for partner agencies."""
Fleet = Annotated[ApiKey, Depends(RoleGuard(FLEET_ROLES))]
"""Supervisors and fleet systems: registering units."""

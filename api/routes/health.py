"""Liveness and readiness: for load balancers and orchestrators, no key needed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
def health() -> dict[str, str]:
    """Always 200 while the process serves requests. No API key needed."""
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: database reachable, region loaded",
    responses={503: {"description": "Not ready; the body says which check failed"}},
)
def ready(services: ServicesDep) -> JSONResponse:
    """200 when the database answers and the configured region (if any) is loaded; else 503.
    No API key needed."""
    checks = {
        "database": services.db_reachable(),
        "region": services.settings.region is None or services.region is not None,
    }
    body = {
        "status": "ready" if all(checks.values()) else "not ready",
        "checks": checks,
        "region": None if services.region is None else services.region.name,
    }
    return JSONResponse(status_code=200 if all(checks.values()) else 503, content=body)

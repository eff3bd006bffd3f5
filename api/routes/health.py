"""Liveness and readiness: for load balancers and orchestrators, no key needed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from api.errors import PROBLEM_MEDIA_TYPE, problem

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
def health() -> dict[str, str]:
    """Always 200 while the process serves requests. No API key needed."""
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: database reachable, region loaded",
    responses={503: {"description": "Not ready: a problem+json whose ``checks`` say which failed"}},
)
def ready(services: ServicesDep) -> JSONResponse:
    """200 when the database answers, the configured region (if any) is loaded and the log
    verified at start-up; else 503. No API key needed."""
    checks = {
        "database": services.db_reachable(),
        "region": services.settings.region is None or services.region is not None,
        "log_intact": services.log_problem is None,
    }
    region = None if services.region is None else services.region.name
    if all(checks.values()):
        role = "leader" if services.leader else "standby"  # a standby serves reads
        return JSONResponse(
            {
                "status": "ready",
                "checks": checks,
                "region": region,
                "role": role,
                "version": services.engine.version,
            }
        )
    failed = ", ".join(name for name, ok in checks.items() if not ok)
    body = {**problem(503, f"not ready: {failed}"), "checks": checks, "region": region}
    return JSONResponse(status_code=503, content=body, media_type=PROBLEM_MEDIA_TYPE)

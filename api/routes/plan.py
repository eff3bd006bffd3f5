"""``POST /v1/plan``: the stateless solve, the same JSON in and out as ``planner solve``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ServicesDep, Solver
from api.settings import ApiSettings
from planner.dispatch.problem_io import PlanOut, ProblemIn, plan_to_json, problem_from_model
from planner.dispatch.solver import solve
from planner.errors import InputError
from planner.network.loader import REGION_NAMES

router = APIRouter(prefix="/v1", tags=["plan"])


def plan_regions(settings: ApiSettings) -> list[str]:
    """The region names a stateless plan may name: the known ones and this server's own."""
    return sorted({*REGION_NAMES, *([settings.region] if settings.region else [])})


@router.post("/plan", summary="Solve a dispatch problem (stateless)", response_model=PlanOut)
def plan(problem: ProblemIn, _key: Solver, services: ServicesDep) -> dict[str, Any]:
    """Recommend which units go where for the units, incidents and travel times given; nothing
    is stored. ``region`` may only name a known region (never a server path);
    ``options.time_limit_s`` is capped by the server's ``max_solve_s``."""
    limit = services.settings.max_solve_s
    if problem.options.time_limit_s > limit:
        raise InputError(
            f"must be at most {limit:g} s on this server", field="options.time_limit_s"
        )
    if problem.region is not None:
        allowed = plan_regions(services.settings)
        if problem.region not in allowed:
            raise InputError(
                f"unknown region {problem.region!r} (use one of: {', '.join(allowed)})",
                field="region",
            )
    parsed = problem_from_model(problem)
    return plan_to_json(solve(parsed.problem, parsed.options, previous=parsed.previous))

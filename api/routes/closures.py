"""Road closures and slow-downs: travel times change, the engine re-solves."""

from __future__ import annotations

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.bodies import ClosureIn
from api.deps import EngineDep, Feed, Reader, ServicesDep
from api.schemas import ClosureList
from api.writes import WRITE_RESPONSES, WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import RoadClosureOff, RoadClosureOn

router = APIRouter(prefix="/v1/closures", tags=["closures"])

ClosureId = Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


@router.get("", summary="Active road closures", response_model=ClosureList)
def list_closures(_key: Reader, engine: EngineDep) -> ClosureList:
    version = engine.version
    closures = sorted(engine.state.closures.values(), key=lambda c: c.id)
    return ClosureList(version=version, closures=closures)


@router.post(
    "",
    summary="Close or slow roads",
    status_code=201,
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def close_roads(
    body: ClosureIn, key: Feed, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """A circle (``centre`` + ``radius_m``) or ``polygon``; ``factor`` > 1 slows instead of
    closing."""
    return submit_event(services, RoadClosureOn, body, key=key, headers=headers, status_code=201)


@router.delete(
    "/{closure_id}",
    summary="Lift a road closure",
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def lift_closure(
    key: Feed, services: ServicesDep, headers: WriteHeadersDep, closure_id: str = ClosureId
) -> Response:
    """Travel times return exactly to what they were; 409 if no such closure is active."""
    return submit_event(
        services, RoadClosureOff, None, key=key, headers=headers, closure_id=closure_id
    )

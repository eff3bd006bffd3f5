"""Road closures and slow-downs: travel times change, the engine re-solves."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.bodies import ClosureIn
from api.deps import EngineDep, Feed, Reader, ServicesDep
from api.pagination import list_etag
from api.schemas import ClosureList, ClosureOut
from api.versions import etag, not_modified
from api.writes import WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import ID_PATTERN, RoadClosureOff, RoadClosureOn
from planner.errors import NotFoundError

router = APIRouter(prefix="/v1/closures", tags=["closures"])

ClosureId = Path(min_length=1, max_length=80, pattern=ID_PATTERN)


@router.get(
    "",
    summary="Active road closures",
    response_model=ClosureList,
    openapi_extra={"x-etag": True},
)
def list_closures(
    _key: Reader, engine: EngineDep, request: Request, response: Response
) -> ClosureList | Response:
    """Every active closure by id; the ``ETag`` is the state version."""
    version = engine.version
    if (cached := list_etag(request, response, version)) is not None:
        return cached
    closures = sorted(engine.state.closures.values(), key=lambda c: c.id)
    return ClosureList(version=version, closures=closures)


@router.get(
    "/{closure_id}",
    summary="One road closure",
    response_model=ClosureOut,
    openapi_extra={"x-etag": True},
)
def get_closure(
    _key: Reader,
    services: ServicesDep,
    request: Request,
    response: Response,
    closure_id: str = ClosureId,
) -> ClosureOut | Response:
    """The active closure; ``ETag`` is its own version (404 once lifted)."""
    closure = services.engine.state.closures.get(closure_id)
    version = services.versions.version("closure", closure_id)
    if closure is None or version is None:
        raise NotFoundError(f"no active closure {closure_id!r}", field="closure_id")
    if (cached := not_modified(request, version)) is not None:
        return cached
    response.headers["ETag"] = etag(version)
    return ClosureOut(version=version, closure=closure)


@router.post(
    "",
    summary="Close or slow roads",
    status_code=201,
    response_model=WriteResult,
)
def close_roads(
    body: ClosureIn, key: Feed, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """A circle (``centre`` + ``radius_m``) or ``polygon``; ``factor`` > 1 slows instead of
    closing."""
    return submit_event(
        services,
        RoadClosureOn,
        body,
        key=key,
        headers=headers,
        resource="closure",
        status_code=201,
    )


@router.delete(
    "/{closure_id}",
    summary="Lift a road closure",
    response_model=WriteResult,
)
def lift_closure(
    key: Feed, services: ServicesDep, headers: WriteHeadersDep, closure_id: str = ClosureId
) -> Response:
    """Travel times return exactly to what they were; 409 if no such closure is active."""
    return submit_event(
        services,
        RoadClosureOff,
        None,
        key=key,
        headers=headers,
        resource="closure",
        closure_id=closure_id,
    )

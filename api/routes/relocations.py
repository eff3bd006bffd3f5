"""Move-up (relocation) recommendations: the pending ones, and a dispatcher's accept or decline.

The engine recommends where free units should wait when a unit becomes free and on the
centre's relocation timer (policy ``DISPATCH+dmexclp`` or ``DISPATCH+mip``); each answer is one
logged event (``relocation_accepted`` / ``relocation_declined``, with who, when and why).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.bodies import RelocationAcceptIn, RelocationDeclineIn
from api.deps import EngineDep, Operator, Reader, ServicesDep
from api.pagination import list_etag
from api.routes.units import UnitId, unit_event
from api.schemas import RelocationsOut
from api.writes import WRITE_RESPONSES, WriteHeadersDep, WriteResult
from planner.centre.events import RelocationAccepted, RelocationDeclined

router = APIRouter(prefix="/v1/relocations", tags=["relocations"])


@router.get(
    "",
    summary="The pending relocation recommendations",
    response_model=RelocationsOut,
    openapi_extra={"x-etag": True},
)
def pending(
    _key: Reader, engine: EngineDep, request: Request, response: Response
) -> RelocationsOut | Response:
    """Moves not yet accepted or declined (a unit that stops being free loses its), each with
    its origin and destination station, drive time and what it adds to expected coverage of
    priority-1 demand; ``ETag`` is the state version."""
    version = engine.version
    if (cached := list_etag(request, response, version)) is not None:
        return cached
    state = engine.state
    return RelocationsOut(
        version=version,
        policy=engine.config.solver.policy,
        moves=sorted(state.relocations.values(), key=lambda m: m.unit),
        recommendation=state.relocation,
    )


@router.post(
    "/{unit_id}/accept",
    summary="Accept a unit's relocation",
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def accept(
    key: Operator,
    services: ServicesDep,
    headers: WriteHeadersDep,
    body: RelocationAcceptIn | None = None,
    unit_id: str = UnitId,
) -> Response:
    """The unit drives to the recommended station and stays dispatchable from where it is on
    the way; it waits there from its first position report at the station (or, if it was
    returning, when it reports ``available``). 409 when no relocation of it is pending or
    ``to_station`` names another station."""
    return unit_event(services, RelocationAccepted, body, key=key, headers=headers, unit_id=unit_id)


@router.post(
    "/{unit_id}/decline",
    summary="Decline a unit's relocation",
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def decline(
    key: Operator,
    services: ServicesDep,
    headers: WriteHeadersDep,
    body: RelocationDeclineIn | None = None,
    unit_id: str = UnitId,
) -> Response:
    """The unit stays where it waits; it is not proposed again until its status changes.
    Say why in ``reason``. 409 when no relocation of it is pending."""
    return unit_event(services, RelocationDeclined, body, key=key, headers=headers, unit_id=unit_id)

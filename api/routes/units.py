"""Units: the fleet, its status and AVL positions, acknowledgements and arrivals."""

from __future__ import annotations

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.bodies import UnitAckIn, UnitArriveIn, UnitIn, UnitPositionIn, UnitStatusIn
from api.deps import EngineDep, Feed, Fleet, Reader, ServicesDep
from api.schemas import UnitList
from api.writes import WRITE_RESPONSES, WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import (
    UnitAcknowledged,
    UnitArrived,
    UnitMoved,
    UnitRegistered,
    UnitStatusChanged,
)

router = APIRouter(prefix="/v1/units", tags=["units"])

UnitId = Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


@router.get("", summary="The fleet", response_model=UnitList)
def list_units(_key: Reader, engine: EngineDep) -> UnitList:
    """Every unit with its status, position and current incident."""
    version = engine.version
    units = sorted(engine.state.units.values(), key=lambda u: u.id)
    return UnitList(version=version, units=units)


@router.post(
    "",
    summary="Register a unit",
    status_code=201,
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def register_unit(
    body: UnitIn, key: Fleet, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """Add a unit to the fleet (capabilities must be in the code table)."""
    return submit_event(services, UnitRegistered, body, key=key, headers=headers, status_code=201)


@router.post(
    "/{unit_id}/status",
    summary="Change a unit's status",
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def change_status(
    body: UnitStatusIn,
    key: Feed,
    services: ServicesDep,
    headers: WriteHeadersDep,
    unit_id: str = UnitId,
) -> Response:
    """E.g. ``en_route`` after dispatch, ``on_scene``, ``available``, ``out_of_service``; the
    engine refuses transitions the state forbids (409)."""
    return submit_event(
        services, UnitStatusChanged, body, key=key, headers=headers, unit_id=unit_id
    )


@router.post(
    "/{unit_id}/position",
    summary="Report a unit's position (AVL)",
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def report_position(
    body: UnitPositionIn,
    key: Feed,
    services: ServicesDep,
    headers: WriteHeadersDep,
    unit_id: str = UnitId,
) -> Response:
    """A position report; the engine re-solves with the new ETAs."""
    return submit_event(services, UnitMoved, body, key=key, headers=headers, unit_id=unit_id)


@router.post(
    "/{unit_id}/acknowledge",
    summary="The unit acknowledges its dispatch",
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def acknowledge(
    key: Feed,
    services: ServicesDep,
    headers: WriteHeadersDep,
    body: UnitAckIn | None = None,
    unit_id: str = UnitId,
) -> Response:
    """The crew confirms the dispatch (stops the not-acknowledged escalation clock)."""
    return submit_event(services, UnitAcknowledged, body, key=key, headers=headers, unit_id=unit_id)


@router.post(
    "/{unit_id}/arrive",
    summary="The unit arrives on scene",
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def arrive(
    key: Feed,
    services: ServicesDep,
    headers: WriteHeadersDep,
    body: UnitArriveIn | None = None,
    unit_id: str = UnitId,
) -> Response:
    """The unit is on scene at its incident (409 if it was not dispatched)."""
    return submit_event(services, UnitArrived, body, key=key, headers=headers, unit_id=unit_id)

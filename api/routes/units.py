"""Units: the fleet, its status and AVL positions, acknowledgements, arrivals and removal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api.bodies import UnitAckIn, UnitArriveIn, UnitIn, UnitPositionIn, UnitRemoveIn, UnitStatusIn
from api.deps import EngineDep, Feed, Fleet, Reader, ServicesDep
from api.pagination import (
    DEFAULT_LIMIT,
    UNIT_CURSOR,
    Limit,
    cursor_query,
    list_etag,
    paginate,
)
from api.schemas import UnitList, UnitOut
from api.services import Services
from api.versions import etag, not_modified
from api.writes import WriteHeaders, WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import (
    ID_PATTERN,
    UnitAcknowledged,
    UnitArrived,
    UnitMoved,
    UnitRegistered,
    UnitRemoved,
    UnitStatusChanged,
)
from planner.dispatch.domain import UnitStatus
from planner.errors import NotFoundError
from planner.log.api_keys import ApiKey

router = APIRouter(prefix="/v1/units", tags=["units"])

UnitId = Path(min_length=1, max_length=80, pattern=ID_PATTERN)
"""The ``unit_id`` path parameter of every unit route (here and under ``/v1/relocations``)."""


def unit_event(
    services: Services,
    event_type: type[BaseModel],
    body: BaseModel | None,
    *,
    key: ApiKey,
    headers: WriteHeaders,
    unit_id: str,
) -> Response:
    """A write about the unit in the path: ``If-Match`` is that unit's version, the response's
    ``ETag`` its new one."""
    return submit_event(
        services, event_type, body, key=key, headers=headers, resource="unit", unit_id=unit_id
    )


@router.get("", summary="The fleet", response_model=UnitList, openapi_extra={"x-etag": True})
def list_units(
    _key: Reader,
    engine: EngineDep,
    request: Request,
    response: Response,
    status: Annotated[UnitStatus | None, Query(description="Only units in this status.")] = None,
    capability: Annotated[
        str | None,
        Query(max_length=80, pattern=ID_PATTERN, description="Only units with this capability."),
    ] = None,
    incident: Annotated[
        str | None,
        Query(
            max_length=80, pattern=ID_PATTERN, description="Only units committed to this incident."
        ),
    ] = None,
    cursor: Annotated[str | None, cursor_query(UNIT_CURSOR)] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> UnitList | Response:
    """Units with their status, position and current incident, by id, a page at a time. The
    ``ETag`` is the state version."""
    version = engine.version
    if (cached := list_etag(request, response, version)) is not None:
        return cached
    units = [
        u
        for u in engine.state.units.values()
        if (status is None or u.status == status)
        and (capability is None or capability in u.capabilities)
        and (incident is None or u.incident == incident)
    ]
    after = None if cursor is None else (cursor,)
    page, next_cursor = paginate(units, lambda u: (u.id,), after=after, limit=limit)
    return UnitList(version=version, units=list(page), next_cursor=next_cursor)


@router.get(
    "/{unit_id}",
    summary="One unit",
    response_model=UnitOut,
    openapi_extra={"x-etag": True},
)
def get_unit(
    _key: Reader,
    services: ServicesDep,
    request: Request,
    response: Response,
    unit_id: str = UnitId,
) -> UnitOut | Response:
    """The unit's status, position and incident; ``ETag`` is the unit's own version."""
    unit = services.engine.state.units.get(unit_id)
    version = services.versions.version("unit", unit_id)
    if unit is None or version is None:
        raise NotFoundError(f"unknown unit {unit_id!r}", field="unit_id")
    if (cached := not_modified(request, version)) is not None:
        return cached
    response.headers["ETag"] = etag(version)
    return UnitOut(version=version, unit=unit)


@router.post("", summary="Register a unit", status_code=201, response_model=WriteResult)
def register_unit(
    body: UnitIn, key: Fleet, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """Add a unit to the fleet (capabilities must be in the code table)."""
    return submit_event(
        services, UnitRegistered, body, key=key, headers=headers, resource="unit", status_code=201
    )


@router.delete("/{unit_id}", summary="Remove a unit from the fleet", response_model=WriteResult)
def remove_unit(
    key: Fleet,
    services: ServicesDep,
    headers: WriteHeadersDep,
    body: UnitRemoveIn | None = None,
    unit_id: str = UnitId,
) -> Response:
    """The unit leaves the fleet (logged as ``unit_removed`` with the optional ``reason``);
    409 while it is committed to an incident: stand it down first."""
    return unit_event(services, UnitRemoved, body, key=key, headers=headers, unit_id=unit_id)


@router.post(
    "/{unit_id}/status",
    summary="Change a unit's status",
    response_model=WriteResult,
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
    return unit_event(services, UnitStatusChanged, body, key=key, headers=headers, unit_id=unit_id)


@router.post(
    "/{unit_id}/position",
    summary="Report a unit's position (AVL)",
    response_model=WriteResult,
)
def report_position(
    body: UnitPositionIn,
    key: Feed,
    services: ServicesDep,
    headers: WriteHeadersDep,
    unit_id: str = UnitId,
) -> Response:
    """A position report; the engine re-solves with the new ETAs."""
    return unit_event(services, UnitMoved, body, key=key, headers=headers, unit_id=unit_id)


@router.post(
    "/{unit_id}/acknowledge",
    summary="The unit acknowledges its dispatch",
    response_model=WriteResult,
)
def acknowledge(
    key: Feed,
    services: ServicesDep,
    headers: WriteHeadersDep,
    body: UnitAckIn | None = None,
    unit_id: str = UnitId,
) -> Response:
    """The crew confirms the dispatch (stops the not-acknowledged escalation clock)."""
    return unit_event(services, UnitAcknowledged, body, key=key, headers=headers, unit_id=unit_id)


@router.post(
    "/{unit_id}/arrive",
    summary="The unit arrives on scene",
    response_model=WriteResult,
)
def arrive(
    key: Feed,
    services: ServicesDep,
    headers: WriteHeadersDep,
    body: UnitArriveIn | None = None,
    unit_id: str = UnitId,
) -> Response:
    """The unit is on scene at its incident (409 if it was not dispatched)."""
    return unit_event(services, UnitArrived, body, key=key, headers=headers, unit_id=unit_id)

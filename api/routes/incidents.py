"""Incidents: read the open ones; open, update, escalate, downgrade, link contacts, hand over
(accept or override the recommendation), notes, queries, complaints, agencies, close.

Every write is one engine event (see :mod:`api.writes`); the engine decides whether it is
allowed. Refused transitions (e.g. escalating a closed incident) are 409, nothing changes.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import Response

from api.bodies import (
    AcceptIn,
    AgencyIn,
    CloseIn,
    ComplaintIn,
    DowngradeIn,
    EscalateIn,
    IncidentIn,
    IncidentUpdateIn,
    LinkContactIn,
    NoteIn,
    OverrideIn,
    QueryIn,
)
from api.deps import Feed, Operator, Reader, ServicesDep
from api.schemas import IncidentDetail, IncidentList
from api.writes import WRITE_RESPONSES, WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import (
    AgencyNotified,
    ComplaintRecorded,
    ContactLinked,
    DispatchAccepted,
    DispatchOverridden,
    IncidentClosed,
    IncidentDowngraded,
    IncidentEscalated,
    IncidentOpened,
    IncidentUpdated,
    NoteAdded,
    QueryRecorded,
)
from planner.centre.state import IncidentState

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

IncidentId = Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


def open_incident_or_404(services: ServicesDep, incident_id: str) -> IncidentState:
    """The open incident, or 404 that says whether it is closed or unknown."""
    state = services.engine.state
    incident = state.incidents.get(incident_id)
    if incident is not None:
        return incident
    detail = (
        f"incident {incident_id!r} is closed; its record is in the timeline"
        if incident_id in state.closed_incidents
        else f"unknown incident {incident_id!r}"
    )
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail=detail)


@router.get("", summary="Open incidents", response_model=IncidentList)
def list_incidents(_key: Reader, services: ServicesDep) -> IncidentList:
    """Every open incident (operational record only, no personal data), most urgent first."""
    version = services.engine.version
    incidents = sorted(
        services.engine.state.incidents.values(), key=lambda i: (i.priority, i.opened_at, i.id)
    )
    return IncidentList(version=version, incidents=incidents)


@router.get("/{incident_id}", summary="One open incident", response_model=IncidentDetail)
def get_incident(
    _key: Reader, services: ServicesDep, incident_id: str = IncidentId
) -> IncidentDetail:
    """The incident, its committed units and the current recommendation for it; 404 if closed
    or unknown."""
    version = services.engine.version
    incident = open_incident_or_404(services, incident_id)
    state = services.engine.state
    code = services.codes.get(incident.code)
    rec = state.recommendation
    return IncidentDetail(
        version=version,
        incident=incident,
        label=code.label if code is not None else incident.code,
        units=[u for u in state.units.values() if u.incident == incident.id],
        recommended=[a for a in rec.assignments if a.incident == incident.id] if rec else [],
        unmet=[m for m in rec.unmet if m.incident == incident.id] if rec else [],
    )


@router.post(
    "",
    summary="Open an incident",
    status_code=201,
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def open_incident(
    body: IncidentIn, key: Operator, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """Open an incident (optionally from a contact); the engine re-solves at once."""
    return submit_event(services, IncidentOpened, body, key=key, headers=headers, status_code=201)


@router.patch(
    "/{incident_id}",
    summary="Update an incident",
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def update_incident(
    body: IncidentUpdateIn,
    key: Operator,
    services: ServicesDep,
    headers: WriteHeadersDep,
    incident_id: str = IncidentId,
) -> Response:
    """Change location, code, priority or details; omitted fields stay as they are."""
    return submit_event(
        services, IncidentUpdated, body, key=key, headers=headers, incident_id=incident_id
    )


def _incident_write(
    event_type: type[IncidentEscalated]
    | type[IncidentDowngraded]
    | type[ContactLinked]
    | type[DispatchAccepted]
    | type[DispatchOverridden]
    | type[NoteAdded]
    | type[QueryRecorded]
    | type[ComplaintRecorded]
    | type[AgencyNotified]
    | type[IncidentClosed],
    *,
    path: str,
    summary: str,
    doc: str,
    body_type: type,
    guard: type,
    status_code: int = 200,
) -> None:
    """Register ``POST /v1/incidents/{id}/<path>`` that turns its body into ``event_type``."""

    def handler(
        body: body_type,  # type: ignore[valid-type]
        key: guard,  # type: ignore[valid-type]
        services: ServicesDep,
        headers: WriteHeadersDep,
        incident_id: str = IncidentId,
    ) -> Response:
        return submit_event(
            services,
            event_type,
            body,
            key=key,
            headers=headers,
            status_code=status_code,
            incident_id=incident_id,
        )

    handler.__name__ = f"{path}_incident"
    handler.__doc__ = doc
    handler.__annotations__ = {  # resolved here: the names above are local to this factory
        "body": body_type,
        "key": guard,
        "services": ServicesDep,
        "headers": WriteHeadersDep,
        "incident_id": str,
        "return": Response,
    }
    router.post(
        f"/{{incident_id}}/{path}",
        summary=summary,
        status_code=status_code,
        response_model=WriteResult,
        responses=WRITE_RESPONSES,
    )(handler)


_incident_write(
    IncidentEscalated,
    path="escalate",
    summary="Escalate an incident",
    doc="Raise the level (more resources by the response plan); say why in ``cause``.",
    body_type=EscalateIn,
    guard=Operator,
)
_incident_write(
    IncidentDowngraded,
    path="downgrade",
    summary="Downgrade an incident",
    doc="Lower the level; say why in ``cause``.",
    body_type=DowngradeIn,
    guard=Operator,
)
_incident_write(
    ContactLinked,
    path="contacts",
    summary="Link a further contact (duplicate caller)",
    doc="Attach a contact already received to this incident instead of opening another.",
    body_type=LinkContactIn,
    guard=Feed,
)
_incident_write(
    DispatchAccepted,
    path="accept",
    summary="Accept the recommendation (hand-over)",
    doc="Dispatch the recommended units (all of them for this incident unless ``units`` "
    "names some); units not recommended need ``override``.",
    body_type=AcceptIn,
    guard=Operator,
)
_incident_write(
    DispatchOverridden,
    path="override",
    summary="Override the recommendation",
    doc="Dispatch other units than recommended, with the dispatcher's reason.",
    body_type=OverrideIn,
    guard=Operator,
)
_incident_write(
    NoteAdded,
    path="notes",
    summary="Add a note",
    doc="Free text (personal data: stored apart, readable only by allowed roles).",
    body_type=NoteIn,
    guard=Operator,
    status_code=201,
)
_incident_write(
    QueryRecorded,
    path="queries",
    summary="Record a query about the incident",
    doc="A caller's or agency's query (e.g. 'where is the ambulance?').",
    body_type=QueryIn,
    guard=Operator,
    status_code=201,
)
_incident_write(
    ComplaintRecorded,
    path="complaints",
    summary="Record a complaint about the incident",
    doc="A complaint with its category; the text is personal data.",
    body_type=ComplaintIn,
    guard=Operator,
    status_code=201,
)
_incident_write(
    AgencyNotified,
    path="agencies",
    summary="Record that an external agency was notified",
    doc="Which agency, by which channel, with their reference if any.",
    body_type=AgencyIn,
    guard=Operator,
    status_code=201,
)
_incident_write(
    IncidentClosed,
    path="close",
    summary="Close an incident",
    doc="Close with an outcome; units still committed become available.",
    body_type=CloseIn,
    guard=Operator,
)

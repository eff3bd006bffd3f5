"""Incidents: read the open ones; open, update, escalate, downgrade, link contacts, hand over
(accept or override the recommendation), notes, queries, complaints, agencies, close.

Every write is one engine event (see :mod:`api.writes`); the engine decides whether it is
allowed. Refused transitions (e.g. escalating a closed incident) are 409, nothing changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import Response

from api.bodies import (
    AcceptIn,
    AgencyIn,
    CloseIn,
    ComplaintIn,
    DowngradeIn,
    EscalateIn,
    IncidentIn,
    IncidentPatchIn,
    IncidentUpdateIn,
    LinkContactIn,
    NoteIn,
    OverrideIn,
    QueryIn,
    merge_methane,
)
from api.deps import Feed, Operator, Reader, ServicesDep
from api.pagination import (
    DEFAULT_LIMIT,
    INCIDENT_CURSOR,
    NO_WINDOW,
    Limit,
    TimeWindow,
    cursor_query,
    decode_cursor,
    list_etag,
    micros,
    paginate,
    time_window,
)
from api.routes.log import NO_STORE, Purpose, check_personal_purpose
from api.schemas import IncidentDetail, IncidentList
from api.versions import etag, not_modified
from api.writes import WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import (
    ID_PATTERN,
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
    Methane,
    NoteAdded,
    QueryRecorded,
)
from planner.centre.search import address_of, incidents_at_address, matches_words
from planner.centre.state import IncidentState

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

IncidentId = Path(min_length=1, max_length=80, pattern=ID_PATTERN)


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


IncidentStatus = Literal["open", "closed"]


@router.get(
    "",
    summary="Incidents, open or closed",
    response_model=IncidentList,
    openapi_extra={"x-etag": True},
)
def list_incidents(
    key: Reader,
    services: ServicesDep,
    request: Request,
    response: Response,
    status: Annotated[
        IncidentStatus,
        Query(description="open (default): in ``incidents``; closed: in ``closed``."),
    ] = "open",
    priority: Annotated[int | None, Query(ge=1, le=5, description="Only this priority.")] = None,
    code: Annotated[
        str | None, Query(max_length=80, pattern=ID_PATTERN, description="Only this code.")
    ] = None,
    opened: Annotated[TimeWindow, Depends(time_window("Opened"))] = NO_WINDOW,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Words that must all occur in the id, code or code label "
            "(case-insensitive; 'cardiac arrest' finds CARDIAC_ARREST).",
        ),
    ] = None,
    address: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Words that must all occur in the incident's address or exact location "
            "(personal data: roles that may read it, with ``purpose``; the address of each "
            "incident returned is read and the read logged, and sent in ``addresses``).",
        ),
    ] = None,
    purpose: Purpose = None,
    cursor: Annotated[str | None, cursor_query(INCIDENT_CURSOR)] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> IncidentList | Response:
    """Open incidents (operational record only, no personal data), most urgent first; or, with
    ``status=closed``, closed ones, the latest closed first; a page at a time. ``q`` and
    ``address`` search them. The ``ETag`` is the state version."""
    version = services.engine.version
    at_address: dict[str, int] | None = None
    why = ""
    if address is not None:
        why = check_personal_purpose(key, purpose)
        at_address = incidents_at_address(services.log, address)
        response.headers["ETag"] = etag(version)
    elif (cached := list_etag(request, response, version)) is not None:
        return cached

    def wanted(i: str, c: str, p: int | None, opened_at: datetime) -> bool:
        found = services.codes.get(c)
        label = found.label if found is not None else None
        return (
            (priority is None or p == priority)
            and (code is None or c == code)
            and opened_at in opened
            and (q is None or matches_words(q, i, c, label))
            and (at_address is None or i in at_address)
        )

    def addresses(ids: list[str]) -> dict[str, str] | None:
        """The matched address of each listed incident, each read recorded in the log."""
        if at_address is None:
            return None
        response.headers.update(NO_STORE)
        out: dict[str, str] = {}
        for rid in ids:
            read = services.log.read_personal(at_address[rid], reader=key.actor, purpose=why)
            if read is not None and (text := address_of(read)) is not None:
                out[rid] = text
        return out

    parts = None if cursor is None else decode_cursor(cursor)
    if status == "closed":
        closed, next_cursor = paginate(
            (s for s in services.history.closed() if wanted(s.id, s.code, s.priority, s.opened_at)),
            lambda s: (micros(s.closed_at or s.opened_at), s.id),
            after=None if parts is None else tuple(parts[-2:]),
            limit=limit,
            descending=True,
        )
        return IncidentList(
            version=version,
            incidents=[],
            closed=list(closed),
            next_cursor=next_cursor,
            addresses=addresses([s.id for s in closed]),
        )
    page, next_cursor = paginate(
        (
            i
            for i in services.engine.state.incidents.values()
            if wanted(i.id, i.code, i.priority, i.opened_at)
        ),
        lambda i: (i.priority, micros(i.opened_at), i.id),
        after=None if parts is None else tuple(parts if len(parts) == 3 else [0, *parts]),
        limit=limit,
    )
    return IncidentList(
        version=version,
        incidents=list(page),
        next_cursor=next_cursor,
        addresses=addresses([i.id for i in page]),
    )


@router.get(
    "/{incident_id}",
    summary="One open incident",
    response_model=IncidentDetail,
    openapi_extra={"x-etag": True},
)
def get_incident(
    _key: Reader,
    services: ServicesDep,
    request: Request,
    response: Response,
    incident_id: str = IncidentId,
) -> IncidentDetail | Response:
    """The incident, its committed units and the current recommendation for it; 404 if closed
    (list those with ``?status=closed``) or unknown. The ``ETag`` is the incident's own
    version: its record and which units are committed to it (the recommendation part is
    versioned by ``GET /v1/recommendations``)."""
    incident = open_incident_or_404(services, incident_id)
    version = services.versions.version("incident", incident_id) or services.engine.version
    if (cached := not_modified(request, version)) is not None:
        return cached
    state = services.engine.state
    code = services.codes.get(incident.code)
    rec = state.recommendation
    response.headers["ETag"] = etag(version)
    return IncidentDetail(
        version=version,
        incident=incident,
        label=code.label if code is not None else incident.code,
        units=[u for u in state.units.values() if u.incident == incident.id],
        recommended=[a for a in rec.assignments if a.incident == incident.id] if rec else [],
        unmet=[m for m in rec.unmet if m.incident == incident.id] if rec else [],
    )


@router.post("", summary="Open an incident", status_code=201, response_model=WriteResult)
def open_incident(
    body: IncidentIn, key: Operator, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """Open an incident (optionally from a contact); the engine re-solves at once."""
    return submit_event(
        services,
        IncidentOpened,
        body,
        key=key,
        headers=headers,
        resource="incident",
        status_code=201,
    )


@router.patch("/{incident_id}", summary="Update an incident", response_model=WriteResult)
def update_incident(
    body: IncidentPatchIn,
    key: Operator,
    services: ServicesDep,
    headers: WriteHeadersDep,
    incident_id: str = IncidentId,
) -> Response:
    """Change location, code, priority or details; omitted fields stay as they are.
    ``methane`` is a JSON Merge Patch (RFC 7396; ``application/merge-patch+json`` or
    ``application/json``): members sent replace the current ones, ``null`` resets one, absent
    ones stay. ``exact_location`` is personal data, kept in the log and not in the state: a
    patch that omits it leaves the one logged earlier as it is."""
    incident = open_incident_or_404(services, incident_id)
    update = body
    patch = getattr(body, "methane", None)
    if patch is not None:
        merged = merge_methane(current_methane(incident), patch)
        update = IncidentUpdateIn.model_validate(
            {**body.model_dump(exclude={"methane"}, exclude_unset=True), "methane": merged}
        )
    return submit_event(
        services,
        IncidentUpdated,
        update,
        key=key,
        headers=headers,
        resource="incident",
        incident_id=incident_id,
    )


def current_methane(incident: IncidentState) -> Methane:
    """The METHANE report the state holds (its personal ``exact_location`` is in the log)."""
    return Methane(
        major_incident=incident.major_incident,
        type=incident.methane_type,
        hazards=list(incident.hazards),
        access=incident.access,
        casualties=incident.casualties,
        services_present=list(incident.services_present),
        services_required=list(incident.services_required),
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
            resource="incident",
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

"""The control room's current picture as a pure fold over events.

``apply(state, event, codes=...)`` validates one event against the state and returns a new
state; it never mutates its input, so a rejected event (an :class:`InvalidTransitionError`
naming the field and the reason) changes nothing. Only the collections an event touches are
copied. The state holds no personal data: it never reads the events' personal fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from planner.centre.codes import COMMAND_LEVELS, CodeTable, CommandLevel, IncidentCode
from planner.centre.config import EngineConfig
from planner.centre.events import (
    AgencyNotified,
    AlertAcknowledged,
    CentreConfigured,
    CoachingRecorded,
    ComplaintRecorded,
    ContactLinked,
    ContactReceived,
    DispatchAccepted,
    DispatchOverridden,
    Event,
    HandoverAcknowledged,
    HoldReleased,
    IncidentClosed,
    IncidentDowngraded,
    IncidentEscalated,
    IncidentOpened,
    IncidentUpdated,
    Methane,
    NoteAdded,
    QueryRecorded,
    RecommendationIssued,
    RelocationAccepted,
    RelocationDeclined,
    RelocationMove,
    RelocationRecommended,
    RoadClosureOff,
    RoadClosureOn,
    ShiftHandedOver,
    UnitAcknowledged,
    UnitArrived,
    UnitMoved,
    UnitRegistered,
    UnitRemoved,
    UnitStatusChanged,
)
from planner.dispatch.domain import BUSY_AT_INCIDENT_STATUSES, COMMITTED_STATUSES, UnitStatus
from planner.errors import InvalidTransitionError, NotFoundError
from planner.network.geo import Location, haversine_m

FREE_STATUSES = frozenset({UnitStatus.AVAILABLE, UnitStatus.RETURNING})
"""Statuses of a unit that waits at (or heads back to) a station: the ones a move-up places."""

ARRIVAL_RADIUS_M = 150.0
"""A relocating unit whose position report lies this close to its new station has arrived."""


@dataclass(frozen=True, slots=True)
class UnitState:
    id: str
    capabilities: frozenset[str]
    home: Location
    location: Location
    status: UnitStatus
    status_since: datetime
    call_sign: str | None = None
    station: str | None = None
    incident: str | None = None
    dispatched_at: datetime | None = None
    acknowledged: bool = False
    base: str | None = None
    """The station it waits at after a relocation (``None``: its own ``station``)."""
    relocating_to: str | None = None
    """The station an accepted relocation sends it to (it stays dispatchable on the way)."""
    relocating_position: Location | None = None
    moves: int = 0
    """Accepted move-ups of this unit while idle, this shift (reset when it goes off duty)."""
    declined: bool = False
    """A relocation of it was declined: not proposed again until its status changes."""

    @property
    def waits_at(self) -> str | None:
        """The station it waits at, or is heading to."""
        return self.relocating_to or self.base or self.station


@dataclass(frozen=True, slots=True)
class IncidentState:
    id: str
    code: str
    priority: int
    level: int
    location: Location
    opened_at: datetime
    contacts: tuple[str, ...] = ()
    major_incident: bool = False
    command_level: CommandLevel | None = None
    casualties: int | None = None
    hazards: tuple[str, ...] = ()
    methane_type: str | None = None
    access: str | None = None
    services_present: tuple[str, ...] = ()
    services_required: tuple[str, ...] = ()
    escalated_at: datetime | None = None
    fired: frozenset[tuple[str, int]] = frozenset()
    """``(rule id, level it fired at)`` of every escalation rule that fired here."""
    units_sent: tuple[str, ...] = ()
    first_arrival_at: datetime | None = None
    unmet_since: datetime | None = None
    """Since when the recommendation has left part of the response unmet."""
    overrides: int = 0
    notes: int = 0
    queries: int = 0
    complaints: int = 0
    agencies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContactState:
    id: str
    channel: str
    received_at: datetime
    incident: str | None = None


@dataclass(frozen=True, slots=True)
class ClosureState:
    id: str
    centre: Location | None
    radius_m: float | None
    polygon: tuple[Location, ...]
    factor: float | None
    since: datetime
    reason: str | None = None
    """Why the roads are closed, as the dispatcher said it (shown beside the closure)."""


@dataclass(frozen=True, slots=True)
class CentreState:
    """Everything the engine knows now. Open incidents only; closed ones are remembered by id."""

    config: EngineConfig | None = None
    units: Mapping[str, UnitState] = field(default_factory=dict)
    incidents: Mapping[str, IncidentState] = field(default_factory=dict)
    closed_incidents: frozenset[str] = frozenset()
    contacts: Mapping[str, ContactState] = field(default_factory=dict)
    closures: Mapping[str, ClosureState] = field(default_factory=dict)
    recommendation: RecommendationIssued | None = None
    last_at: datetime | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    """Accepted events by type."""
    alerts_acknowledged: Mapping[str, AlertAck] = field(default_factory=dict)
    """Console alerts taken on, by alert id (those of closed incidents are dropped)."""
    relocations: Mapping[str, RelocationMove] = field(default_factory=dict)
    """Pending move-up recommendations by unit (neither accepted nor declined yet; a unit
    that stops being free loses its)."""
    relocation: RelocationRecommended | None = None
    """The latest move-up recommendation."""
    handovers: Mapping[str, Handover] = field(default_factory=dict)
    """Shift hand-over notes by id, in the order given, acknowledged or not."""


@dataclass(frozen=True, slots=True)
class Handover:
    """A shift hand-over note and, once read, who acknowledged it and when."""

    id: str
    actor: str
    at: datetime
    note: str
    incidents: tuple[str, ...] = ()
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlertAck:
    """Who took an alert on, and when."""

    alert_id: str
    kind: str
    actor: str
    at: datetime
    incident: str | None = None
    unit: str | None = None


def apply(state: CentreState, event: Event, *, codes: CodeTable) -> CentreState:
    """The state after ``event``; raises and changes nothing when the event is forbidden.

    :class:`InvalidTransitionError` when the state forbids it, :class:`NotFoundError` (a
    subclass) when it names a unit, incident or contact that never existed, and
    ``UnknownCodeError`` (an ``InputError``) for a code not in the table.
    """
    at = event.at
    if at is None:
        raise InvalidTransitionError("the event has no time; the engine stamps it", field="at")
    if state.last_at is not None and at < state.last_at:
        raise InvalidTransitionError(
            f"{at.isoformat()} is earlier than the last event ({state.last_at.isoformat()})",
            field="at",
        )
    if state.config is None and not isinstance(event, CentreConfigured):
        raise InvalidTransitionError(
            "the centre is not configured: the first event must be centre_configured",
            field="type",
        )
    handler = _HANDLERS[type(event)]
    new = _prune_relocations(handler(state, event, at, codes))
    counts = dict(state.counts)
    counts[event.type] = counts.get(event.type, 0) + 1
    return replace(new, last_at=at, counts=counts)


# -- lookups that reject with the field named -------------------------------------------------


def _unit(state: CentreState, unit_id: str, name: str = "unit_id") -> UnitState:
    unit = state.units.get(unit_id)
    if unit is None:
        raise NotFoundError(f"unknown unit {unit_id!r}", field=name)
    return unit


def _open_incident(state: CentreState, incident_id: str, *, action: str) -> IncidentState:
    incident = state.incidents.get(incident_id)
    if incident is not None:
        return incident
    if incident_id in state.closed_incidents:
        raise InvalidTransitionError(
            f"incident {incident_id!r} is closed and cannot be {action}", field="incident_id"
        )
    raise NotFoundError(f"unknown incident {incident_id!r}", field="incident_id")


def _known_incident(state: CentreState, incident_id: str) -> IncidentState | None:
    """The open incident, ``None`` if closed; unknown ids are rejected."""
    if incident_id in state.closed_incidents:
        return None
    return _open_incident(state, incident_id, action="referenced")


def _code(codes: CodeTable, code: str) -> IncidentCode:
    """The code's entry; an unknown code is bad input (``UnknownCodeError``, field ``code``)."""
    return codes[code]


def _with_unit(state: CentreState, unit: UnitState) -> CentreState:
    return replace(state, units={**state.units, unit.id: unit})


def _with_incident(state: CentreState, incident: IncidentState) -> CentreState:
    return replace(state, incidents={**state.incidents, incident.id: incident})


def _higher_command(*levels: CommandLevel | None) -> CommandLevel | None:
    named = [c for c in levels if c is not None]
    return max(named, key=COMMAND_LEVELS.index) if named else None


# -- handlers ----------------------------------------------------------------------------------


def _configured(state: CentreState, e: CentreConfigured, at: datetime, c: CodeTable) -> CentreState:
    return replace(state, config=e.config())


def _unit_registered(
    state: CentreState, e: UnitRegistered, at: datetime, codes: CodeTable
) -> CentreState:
    if e.unit_id in state.units:
        raise InvalidTransitionError(f"unit {e.unit_id!r} is already registered", field="unit_id")
    unknown = sorted(set(e.capabilities) - codes.capabilities)
    if unknown:
        raise InvalidTransitionError(
            f"capabilities not in the code table: {', '.join(unknown)}", field="capabilities"
        )
    home = e.home.location()
    unit = UnitState(
        id=e.unit_id,
        capabilities=frozenset(e.capabilities),
        home=home,
        location=e.location.location() if e.location else home,
        status=UnitStatus(e.status),
        status_since=at,
        call_sign=e.call_sign,
        station=e.station,
    )
    return _with_unit(state, unit)


def _unit_removed(state: CentreState, e: UnitRemoved, at: datetime, c: CodeTable) -> CentreState:
    unit = _unit(state, e.unit_id)
    if unit.status in BUSY_AT_INCIDENT_STATUSES:
        raise InvalidTransitionError(
            f"unit {unit.id!r} is {unit.status} at {unit.incident!r}; stand it down first",
            field="unit_id",
        )
    units = dict(state.units)
    del units[unit.id]
    return replace(state, units=units)


def _contact_received(
    state: CentreState, e: ContactReceived, at: datetime, c: CodeTable
) -> CentreState:
    if e.contact_id in state.contacts:
        raise InvalidTransitionError(f"contact {e.contact_id!r} already exists", field="contact_id")
    contact = ContactState(id=e.contact_id, channel=e.channel, received_at=at)
    return replace(state, contacts={**state.contacts, contact.id: contact})


def _free_contact(state: CentreState, contact_id: str) -> ContactState:
    contact = state.contacts.get(contact_id)
    if contact is None:
        raise NotFoundError(f"unknown contact {contact_id!r}", field="contact_id")
    if contact.incident is not None:
        raise InvalidTransitionError(
            f"contact {contact_id!r} is already linked to incident {contact.incident!r}",
            field="contact_id",
        )
    return contact


def _methane_fields(methane: Methane) -> dict[str, Any]:
    return {
        "casualties": methane.casualties,
        "hazards": tuple(methane.hazards),
        "methane_type": methane.type,
        "access": methane.access,
        "services_present": tuple(methane.services_present),
        "services_required": tuple(methane.services_required),
    }


def _incident_opened(
    state: CentreState, e: IncidentOpened, at: datetime, codes: CodeTable
) -> CentreState:
    if e.incident_id in state.incidents or e.incident_id in state.closed_incidents:
        raise InvalidTransitionError(
            f"incident {e.incident_id!r} already exists", field="incident_id"
        )
    code = _code(codes, e.code)
    contacts = state.contacts
    linked: tuple[str, ...] = ()
    if e.contact_id is not None:
        contact = _free_contact(state, e.contact_id)
        contacts = {**contacts, contact.id: replace(contact, incident=e.incident_id)}
        linked = (contact.id,)
    incident = IncidentState(
        id=e.incident_id,
        code=code.code,
        priority=e.priority if e.priority is not None else code.default_priority,
        level=1,
        location=e.location.location(),
        opened_at=at,
        contacts=linked,
        major_incident=e.methane.major_incident,
        command_level=code.command_level(1),
        **_methane_fields(e.methane),
    )
    return replace(_with_incident(state, incident), contacts=contacts)


def _contact_linked(
    state: CentreState, e: ContactLinked, at: datetime, c: CodeTable
) -> CentreState:
    contact = _free_contact(state, e.contact_id)
    incident = _open_incident(state, e.incident_id, action="linked to")
    new = _with_incident(state, replace(incident, contacts=(*incident.contacts, contact.id)))
    return replace(
        new, contacts={**state.contacts, contact.id: replace(contact, incident=incident.id)}
    )


def _incident_updated(
    state: CentreState, e: IncidentUpdated, at: datetime, codes: CodeTable
) -> CentreState:
    incident = _open_incident(state, e.incident_id, action="updated")
    changes: dict[str, Any] = {}
    if e.code is not None and e.code != incident.code:
        code = _code(codes, e.code)
        changes["code"] = code.code
        changes["level"] = min(incident.level, code.max_level)
        if e.priority is None:
            changes["priority"] = code.default_priority
    if e.priority is not None:
        changes["priority"] = e.priority
    if e.location is not None:
        changes["location"] = e.location.location()
    if e.methane is not None:
        changes.update(_methane_fields(e.methane))
        changes["major_incident"] = incident.major_incident or e.methane.major_incident
    return _with_incident(state, replace(incident, **changes))


def _escalated(
    state: CentreState, e: IncidentEscalated, at: datetime, codes: CodeTable
) -> CentreState:
    incident = _open_incident(state, e.incident_id, action="escalated")
    code = _code(codes, incident.code)
    if e.level < incident.level:
        raise InvalidTransitionError(
            f"level {e.level} is below the current level {incident.level}; use incident_downgraded",
            field="level",
        )
    if e.level > code.max_level:
        raise InvalidTransitionError(
            f"level {e.level} is above the highest level {code.max_level} of code {code.code}",
            field="level",
        )
    raises_command = _higher_command(incident.command_level, e.command_level) != (
        incident.command_level
    )
    declares = bool(e.major_incident) and not incident.major_incident
    if e.level == incident.level and not (raises_command or declares or e.rule):
        raise InvalidTransitionError(
            f"incident is already at level {e.level}; an escalation must raise the level, "
            "the command level or declare a major incident",
            field="level",
        )
    fired = incident.fired
    if e.rule is not None:
        key = (e.rule, e.from_level if e.from_level is not None else incident.level)
        if key in fired:
            raise InvalidTransitionError(
                f"rule {e.rule!r} already fired at level {key[1]}", field="rule"
            )
        fired = fired | {key}
    escalated = replace(
        incident,
        level=e.level,
        command_level=_higher_command(
            incident.command_level, e.command_level, code.command_level(e.level)
        ),
        major_incident=incident.major_incident or bool(e.major_incident),
        escalated_at=at,
        fired=fired,
    )
    return _with_incident(state, escalated)


def _downgraded(
    state: CentreState, e: IncidentDowngraded, at: datetime, c: CodeTable
) -> CentreState:
    incident = _open_incident(state, e.incident_id, action="downgraded")
    if e.level >= incident.level:
        raise InvalidTransitionError(
            f"level {e.level} is not below the current level {incident.level}", field="level"
        )
    return _with_incident(state, replace(incident, level=e.level))


_ALLOWED_FROM: Mapping[UnitStatus, frozenset[UnitStatus]] = {
    UnitStatus.EN_ROUTE: frozenset({UnitStatus.DISPATCHED}),
    UnitStatus.ON_SCENE: COMMITTED_STATUSES,
    UnitStatus.TRANSPORTING: frozenset({UnitStatus.ON_SCENE}),
    UnitStatus.AT_HOSPITAL: frozenset({UnitStatus.TRANSPORTING}),
    UnitStatus.RETURNING: frozenset(
        {UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL}
    ),
    UnitStatus.AVAILABLE: frozenset(UnitStatus) - {UnitStatus.AVAILABLE},
    UnitStatus.OUT_OF_SERVICE: frozenset(UnitStatus)
    - BUSY_AT_INCIDENT_STATUSES
    - {UnitStatus.OUT_OF_SERVICE},
}


def _status_changed(
    state: CentreState, e: UnitStatusChanged, at: datetime, c: CodeTable
) -> CentreState:
    unit = _unit(state, e.unit_id)
    if e.status == UnitStatus.DISPATCHED:
        raise InvalidTransitionError(
            "units are dispatched by dispatch_accepted or dispatch_overridden", field="status"
        )
    if unit.status not in _ALLOWED_FROM[e.status]:
        raise InvalidTransitionError(
            f"unit {unit.id!r} cannot go {e.status} from {unit.status}", field="status"
        )
    if e.status == UnitStatus.ON_SCENE:
        return _arrive(state, unit, at)
    unit = _relocation_after_status(unit, e.status)
    keeps_incident = e.status in (
        UnitStatus.EN_ROUTE,
        UnitStatus.TRANSPORTING,
        UnitStatus.AT_HOSPITAL,
    )
    return _with_unit(
        state,
        replace(
            unit,
            status=e.status,
            status_since=at,
            incident=unit.incident if keeps_incident else None,
            acknowledged=unit.acknowledged or e.status == UnitStatus.EN_ROUTE,
            dispatched_at=unit.dispatched_at if keeps_incident else None,
        ),
    )


def _relocation_after_status(unit: UnitState, status: UnitStatus) -> UnitState:
    """A status change ends a decline; a relocating unit that reports ``available`` from
    ``returning`` has arrived at its new station; one that stops being free gives it up; a unit
    going off duty starts a new shift of moves."""
    unit = replace(unit, declined=False)
    if unit.relocating_to is not None:
        if status == UnitStatus.AVAILABLE and unit.status == UnitStatus.RETURNING:
            unit = _relocated(unit)
        elif status not in FREE_STATUSES:
            unit = replace(unit, relocating_to=None, relocating_position=None)
    if status == UnitStatus.OUT_OF_SERVICE:
        unit = replace(unit, moves=0)
    return unit


def _relocated(unit: UnitState) -> UnitState:
    """The unit is at the station its relocation sent it to: it waits there from now on."""
    return replace(
        unit,
        base=unit.relocating_to,
        location=unit.relocating_position or unit.location,
        relocating_to=None,
        relocating_position=None,
    )


def _moved(state: CentreState, e: UnitMoved, at: datetime, c: CodeTable) -> CentreState:
    unit = replace(_unit(state, e.unit_id), location=e.location.location())
    target = unit.relocating_position
    if target is not None and (
        haversine_m(target.lat, target.lon, unit.location.lat, unit.location.lon)
        <= ARRIVAL_RADIUS_M
    ):
        unit = _relocated(unit)
    return _with_unit(state, unit)


def _relocation_recommended(
    state: CentreState, e: RelocationRecommended, at: datetime, c: CodeTable
) -> CentreState:
    return replace(state, relocation=e, relocations={m.unit: m for m in e.moves})


def _pending_move(state: CentreState, unit_id: str) -> RelocationMove:
    _unit(state, unit_id)
    move = state.relocations.get(unit_id)
    if move is None:
        raise InvalidTransitionError(
            f"no relocation of unit {unit_id!r} is recommended", field="unit_id"
        )
    return move


def _without_move(state: CentreState, unit_id: str) -> dict[str, RelocationMove]:
    return {u: m for u, m in state.relocations.items() if u != unit_id}


def _relocation_accepted(
    state: CentreState, e: RelocationAccepted, at: datetime, c: CodeTable
) -> CentreState:
    move = _pending_move(state, e.unit_id)
    if e.to_station is not None and e.to_station != move.to_station:
        raise InvalidTransitionError(
            f"unit {e.unit_id!r} is recommended to {move.to_station!r}, not {e.to_station!r}",
            field="to_station",
        )
    unit = state.units[e.unit_id]
    unit = replace(
        unit,
        relocating_to=move.to_station,
        relocating_position=move.to.location(),
        moves=unit.moves + (0 if move.freed else 1),
    )
    if (
        haversine_m(move.to.lat, move.to.lon, unit.location.lat, unit.location.lon)
        <= (ARRIVAL_RADIUS_M)
        and unit.status == UnitStatus.AVAILABLE
    ):
        unit = _relocated(unit)
    return replace(_with_unit(state, unit), relocations=_without_move(state, e.unit_id))


def _relocation_declined(
    state: CentreState, e: RelocationDeclined, at: datetime, c: CodeTable
) -> CentreState:
    _pending_move(state, e.unit_id)
    unit = replace(state.units[e.unit_id], declined=True)
    return replace(_with_unit(state, unit), relocations=_without_move(state, e.unit_id))


def _prune_relocations(state: CentreState) -> CentreState:
    """Drop pending moves of units that are gone, no longer free or already relocating."""
    if not state.relocations:
        return state
    kept = {
        u: m
        for u, m in state.relocations.items()
        if (unit := state.units.get(u)) is not None
        and unit.status in FREE_STATUSES
        and unit.relocating_to is None
    }
    return state if len(kept) == len(state.relocations) else replace(state, relocations=kept)


def _recommendation(
    state: CentreState, e: RecommendationIssued, at: datetime, c: CodeTable
) -> CentreState:
    short = {u.incident for u in e.unmet}
    incidents = dict(state.incidents)
    for incident in state.incidents.values():
        if incident.id in short and incident.unmet_since is None:
            incidents[incident.id] = replace(incident, unmet_since=at)
        elif incident.id not in short and incident.unmet_since is not None:
            incidents[incident.id] = replace(incident, unmet_since=None)
    return replace(state, recommendation=e, incidents=incidents)


def recommended_units(state: CentreState, incident_id: str) -> list[str]:
    """Units the current recommendation sends to ``incident_id``, in recommendation order."""
    if state.recommendation is None:
        return []
    return [a.unit for a in state.recommendation.assignments if a.incident == incident_id]


def _dispatch(
    state: CentreState, incident: IncidentState, unit_ids: list[str], at: datetime
) -> CentreState:
    if len(set(unit_ids)) != len(unit_ids):
        raise InvalidTransitionError("a unit is listed twice", field="units")
    units = dict(state.units)
    for unit_id in unit_ids:
        unit = _unit(state, unit_id, "units")
        if unit.incident == incident.id and unit.status in BUSY_AT_INCIDENT_STATUSES:
            raise InvalidTransitionError(
                f"unit {unit_id!r} is already committed to {incident.id!r}", field="units"
            )
        if unit.status != UnitStatus.AVAILABLE and unit.status not in COMMITTED_STATUSES:
            raise InvalidTransitionError(
                f"unit {unit_id!r} is {unit.status} and cannot be dispatched", field="units"
            )
        units[unit_id] = replace(
            unit,
            status=UnitStatus.DISPATCHED,
            status_since=at,
            incident=incident.id,
            dispatched_at=at,
            acknowledged=False,
            relocating_to=None,
            relocating_position=None,
            declined=False,
        )
    sent = replace(incident, units_sent=(*incident.units_sent, *unit_ids))
    return replace(state, units=units, incidents={**state.incidents, incident.id: sent})


def _dispatch_accepted(
    state: CentreState, e: DispatchAccepted, at: datetime, c: CodeTable
) -> CentreState:
    incident = _open_incident(state, e.incident_id, action="dispatched to")
    recommended = recommended_units(state, incident.id)
    chosen = recommended if e.units is None else e.units
    if not chosen:
        raise InvalidTransitionError(
            f"no units are recommended for incident {incident.id!r}", field="units"
        )
    stray = [u for u in chosen if u not in recommended]
    if stray:
        raise InvalidTransitionError(
            f"{', '.join(stray)} not recommended for {incident.id!r}; "
            "use dispatch_overridden with a reason",
            field="units",
        )
    left = [u for u in recommended if u not in chosen]
    if e.not_sent is not None and sorted(e.not_sent) != sorted(left):
        raise InvalidTransitionError(
            f"must list the recommended units not sent ({', '.join(left) or 'none'})",
            field="not_sent",
        )
    return _dispatch(state, incident, list(chosen), at)


def _dispatch_overridden(
    state: CentreState, e: DispatchOverridden, at: datetime, c: CodeTable
) -> CentreState:
    incident = _open_incident(state, e.incident_id, action="dispatched to")
    new = _dispatch(state, incident, e.units, at)
    sent = new.incidents[incident.id]
    return _with_incident(new, replace(sent, overrides=sent.overrides + 1))


def _acknowledged(
    state: CentreState, e: UnitAcknowledged, at: datetime, c: CodeTable
) -> CentreState:
    unit = _unit(state, e.unit_id)
    if unit.status != UnitStatus.DISPATCHED:
        raise InvalidTransitionError(
            f"unit {unit.id!r} is {unit.status}; only a dispatched unit acknowledges",
            field="unit_id",
        )
    return _with_unit(
        state, replace(unit, status=UnitStatus.EN_ROUTE, status_since=at, acknowledged=True)
    )


def _arrive(state: CentreState, unit: UnitState, at: datetime) -> CentreState:
    if unit.status not in COMMITTED_STATUSES or unit.incident is None:
        raise InvalidTransitionError(
            f"unit {unit.id!r} is {unit.status} and was not dispatched", field="unit_id"
        )
    incident = state.incidents[unit.incident]
    arrived = replace(unit, status=UnitStatus.ON_SCENE, status_since=at, location=incident.location)
    new = _with_unit(state, arrived)
    if incident.first_arrival_at is None:
        new = _with_incident(new, replace(incident, first_arrival_at=at))
    return new


def _arrived(state: CentreState, e: UnitArrived, at: datetime, c: CodeTable) -> CentreState:
    return _arrive(state, _unit(state, e.unit_id), at)


def _closed(state: CentreState, e: IncidentClosed, at: datetime, c: CodeTable) -> CentreState:
    incident = _open_incident(state, e.incident_id, action="closed again")
    units = dict(state.units)
    for unit in state.units.values():
        if unit.incident != incident.id:
            continue
        if unit.status in BUSY_AT_INCIDENT_STATUSES:
            units[unit.id] = replace(
                unit,
                status=UnitStatus.AVAILABLE,
                status_since=at,
                incident=None,
                dispatched_at=None,
                declined=False,
            )
        else:
            units[unit.id] = replace(unit, incident=None)
    incidents = dict(state.incidents)
    del incidents[incident.id]
    acks = state.alerts_acknowledged
    return replace(
        state,
        units=units,
        incidents=incidents,
        closed_incidents=state.closed_incidents | {incident.id},
        alerts_acknowledged={k: a for k, a in acks.items() if a.incident != incident.id},
    )


def _check_contact(state: CentreState, contact_id: str | None) -> None:
    if contact_id is not None and contact_id not in state.contacts:
        raise NotFoundError(f"unknown contact {contact_id!r}", field="contact_id")


def _counted(state: CentreState, incident_id: str, counter: str) -> CentreState:
    incident = _known_incident(state, incident_id)
    if incident is None:
        return state
    return _with_incident(state, replace(incident, **{counter: getattr(incident, counter) + 1}))


def _hold_released(state: CentreState, e: HoldReleased, at: datetime, c: CodeTable) -> CentreState:
    _open_incident(state, e.incident_id, action="released")
    return state


def _note(state: CentreState, e: NoteAdded, at: datetime, c: CodeTable) -> CentreState:
    return _counted(state, e.incident_id, "notes")


def _query(state: CentreState, e: QueryRecorded, at: datetime, c: CodeTable) -> CentreState:
    _check_contact(state, e.contact_id)
    return _counted(state, e.incident_id, "queries")


def _complaint(state: CentreState, e: ComplaintRecorded, at: datetime, c: CodeTable) -> CentreState:
    _check_contact(state, e.contact_id)
    return _counted(state, e.incident_id, "complaints")


def _agency(state: CentreState, e: AgencyNotified, at: datetime, c: CodeTable) -> CentreState:
    incident = _open_incident(state, e.incident_id, action="the subject of a notification")
    return _with_incident(state, replace(incident, agencies=(*incident.agencies, e.agency)))


def _coaching(state: CentreState, e: CoachingRecorded, at: datetime, c: CodeTable) -> CentreState:
    return state  # a record for reviews: it changes nothing operational


def _alert_ack(state: CentreState, e: AlertAcknowledged, at: datetime, c: CodeTable) -> CentreState:
    if e.alert_id in state.alerts_acknowledged:
        prior = state.alerts_acknowledged[e.alert_id]
        raise InvalidTransitionError(
            f"alert {e.alert_id!r} was acknowledged by {prior.actor} at {prior.at.isoformat()}",
            field="alert_id",
        )
    if e.incident_id is not None and e.incident_id not in state.incidents:
        raise NotFoundError(f"no open incident {e.incident_id!r}", field="incident_id")
    ack = AlertAck(e.alert_id, e.kind, e.actor, at, e.incident_id, e.unit_id)
    return replace(state, alerts_acknowledged={**state.alerts_acknowledged, e.alert_id: ack})


def _handed_over(state: CentreState, e: ShiftHandedOver, at: datetime, c: CodeTable) -> CentreState:
    if e.handover_id in state.handovers:
        raise InvalidTransitionError(
            f"hand-over {e.handover_id!r} was already given", field="handover_id"
        )
    unknown = [i for i in e.incidents if i not in state.incidents]
    if unknown:
        raise InvalidTransitionError(f"{unknown[0]!r} is not an open incident", field="incidents")
    note = Handover(e.handover_id, e.actor, at, e.note, tuple(e.incidents))
    return replace(state, handovers={**state.handovers, note.id: note})


def _handover_ack(
    state: CentreState, e: HandoverAcknowledged, at: datetime, c: CodeTable
) -> CentreState:
    note = state.handovers.get(e.handover_id)
    if note is None:
        raise NotFoundError(f"no hand-over {e.handover_id!r}", field="handover_id")
    if note.acknowledged_by is not None and note.acknowledged_at is not None:
        raise InvalidTransitionError(
            f"hand-over {note.id!r} was acknowledged by {note.acknowledged_by} at "
            f"{note.acknowledged_at.isoformat()}",
            field="handover_id",
        )
    if note.actor == e.actor:
        raise InvalidTransitionError(
            "the next dispatcher acknowledges a hand-over, not the one who gave it",
            field="handover_id",
        )
    read = replace(note, acknowledged_by=e.actor, acknowledged_at=at)
    return replace(state, handovers={**state.handovers, note.id: read})


def _closure_on(state: CentreState, e: RoadClosureOn, at: datetime, c: CodeTable) -> CentreState:
    if e.closure_id in state.closures:
        raise InvalidTransitionError(f"closure {e.closure_id!r} is already on", field="closure_id")
    circle = e.centre is not None and e.radius_m is not None
    if circle == bool(e.polygon) or (e.centre is None) != (e.radius_m is None):
        raise InvalidTransitionError("give either centre and radius_m, or polygon", field="centre")
    closure = ClosureState(
        id=e.closure_id,
        centre=e.centre.location() if e.centre else None,
        radius_m=e.radius_m,
        polygon=tuple(p.location() for p in e.polygon or ()),
        factor=e.factor,
        since=at,
        reason=e.reason,
    )
    return replace(state, closures={**state.closures, closure.id: closure})


def _closure_off(state: CentreState, e: RoadClosureOff, at: datetime, c: CodeTable) -> CentreState:
    if e.closure_id not in state.closures:
        raise InvalidTransitionError(f"no closure {e.closure_id!r} is on", field="closure_id")
    closures = dict(state.closures)
    del closures[e.closure_id]
    return replace(state, closures=closures)


_HANDLERS: Mapping[type[Any], Callable[[CentreState, Any, datetime, CodeTable], CentreState]] = {
    CentreConfigured: _configured,
    UnitRegistered: _unit_registered,
    UnitRemoved: _unit_removed,
    ContactReceived: _contact_received,
    IncidentOpened: _incident_opened,
    ContactLinked: _contact_linked,
    IncidentUpdated: _incident_updated,
    IncidentEscalated: _escalated,
    HoldReleased: _hold_released,
    IncidentDowngraded: _downgraded,
    UnitStatusChanged: _status_changed,
    UnitMoved: _moved,
    RecommendationIssued: _recommendation,
    DispatchAccepted: _dispatch_accepted,
    DispatchOverridden: _dispatch_overridden,
    UnitAcknowledged: _acknowledged,
    UnitArrived: _arrived,
    IncidentClosed: _closed,
    NoteAdded: _note,
    QueryRecorded: _query,
    ComplaintRecorded: _complaint,
    AgencyNotified: _agency,
    CoachingRecorded: _coaching,
    AlertAcknowledged: _alert_ack,
    ShiftHandedOver: _handed_over,
    HandoverAcknowledged: _handover_ack,
    RoadClosureOn: _closure_on,
    RoadClosureOff: _closure_off,
    RelocationRecommended: _relocation_recommended,
    RelocationAccepted: _relocation_accepted,
    RelocationDeclined: _relocation_declined,
}

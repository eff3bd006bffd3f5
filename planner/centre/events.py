"""Events: the engine's only input and the incident log's content, as validated JSON models.

One pydantic model per event type, in a union discriminated on ``type``; the API accepts the
same JSON. Every event has ``at`` (timezone-aware; filled from the engine clock when absent)
and ``actor`` (``dispatcher:alice``, ``unit:M1``, ``system``). Fields holding personal data
(callers, addresses, free text about patients) are marked with :func:`personal`: the engine
stores them in the log's separate, redactable personal part and never in the operational
payload or the state (:func:`split_personal`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic.fields import FieldInfo

from planner.centre.codes import CommandLevel
from planner.centre.config import (
    CrowFlyConfig,
    EngineConfig,
    EscalationConfig,
    RelocationConfig,
    SolverConfig,
)
from planner.dispatch.domain import UnitStatus
from planner.errors import InputError
from planner.network.geo import Location

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
"""Ids are safe as one URL path segment: no ``/``, so every id stays reachable by the API."""
LOGGED_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
"""The grammar older logs were written with (``/`` allowed); accepted only when reading a log."""
_ID_RE = re.compile(ID_PATTERN)
_LOGGED_ID_RE = re.compile(LOGGED_ID_PATTERN)


def _check_id(value: str, info: ValidationInfo) -> str:
    """Strict grammar for new events; the older one for events read back from a log."""
    logged = isinstance(info.context, Mapping) and info.context.get("logged") is True
    if not (_LOGGED_ID_RE if logged else _ID_RE).match(value):
        raise ValueError(
            "must start with a letter or digit and contain only letters, digits, '.', '_', "
            "':' and '-'"
        )
    return value


Id = Annotated[
    str,
    Field(min_length=1, max_length=80, json_schema_extra={"pattern": ID_PATTERN}),
    AfterValidator(_check_id),
]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Name = Annotated[str, Field(min_length=1, max_length=120)]
CoachingFigure = Literal[
    "answer", "call_handling", "dispatch", "turnout", "travel", "override_rate"
]
Channel = Literal["phone", "sms", "email", "web", "radio", "agency"]
Priority = Annotated[int, Field(ge=1, le=5)]


MAX_PERSONAL_TEXT = 4000
"""Longest personal text (a name, an address, free text about a patient) one field may hold."""


def personal(*, description: str | None = None) -> Any:
    """A field holding personal data: optional, kept out of the operational record, bounded."""
    return Field(
        default=None,
        description=description,
        max_length=MAX_PERSONAL_TEXT,
        json_schema_extra={"personal": True},
    )


def _is_personal(info: FieldInfo) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, dict) and extra.get("personal") is True


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Position(_Model):
    """A WGS84 point."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)

    def location(self) -> Location:
        return Location(self.lat, self.lon)


class Methane(_Model):
    """The structured METHANE/ETHANE report of an incident."""

    major_incident: bool = False
    exact_location: str | None = personal(description="street address or landmark")
    type: str | None = Field(default=None, max_length=200)
    hazards: list[Name] = Field(default_factory=list)
    access: str | None = Field(default=None, max_length=500)
    casualties: int | None = Field(default=None, ge=0, le=100_000)
    services_present: list[Name] = Field(default_factory=list)
    services_required: list[Name] = Field(default_factory=list)


class _Event(_Model):
    at: AwareDatetime | None = None
    actor: Name = "system"


class CentreConfigured(_Event):
    """The engine's configuration; the first event of every log (replay reads it from here)."""

    type: Literal["centre_configured"] = "centre_configured"
    region: str | None = None
    solver: SolverConfig = Field(default_factory=SolverConfig)
    crow_fly: CrowFlyConfig = Field(default_factory=CrowFlyConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    relocation: RelocationConfig = Field(default_factory=RelocationConfig)
    """Move-up timer and limits (used when the policy has a relocation part)."""
    codes_source: str | None = None
    """Where the code table was read from (for people; replay uses ``codes``)."""
    codes: dict[str, Any] | None = None
    """The code table in force from this event on (``CodeTable.to_data()``); the engine fills
    it in from its own table when absent, so every logged configuration carries one."""
    codes_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """``CodeTable.sha256`` of ``codes`` (filled in by the engine)."""
    reason: str | None = Field(default=None, max_length=500)
    """Why the centre was reconfigured (e.g. the code table changed)."""

    def config(self) -> EngineConfig:
        return EngineConfig(
            region=self.region,
            solver=self.solver,
            crow_fly=self.crow_fly,
            escalation=self.escalation,
            relocation=self.relocation,
        )

    @classmethod
    def from_config(cls, config: EngineConfig, **kwargs: Any) -> CentreConfigured:
        return cls(
            region=config.region,
            solver=config.solver,
            crow_fly=config.crow_fly,
            escalation=config.escalation,
            relocation=config.relocation,
            **kwargs,
        )


class UnitRegistered(_Event):
    type: Literal["unit_registered"] = "unit_registered"
    unit_id: Id
    call_sign: Name | None = None
    capabilities: list[Id] = Field(min_length=1)
    station: Id | None = None
    home: Position
    location: Position | None = None
    """Where the unit is now (default: ``home``)."""
    status: Literal[UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE] = UnitStatus.AVAILABLE


class UnitRemoved(_Event):
    type: Literal["unit_removed"] = "unit_removed"
    unit_id: Id
    reason: str | None = Field(default=None, max_length=500)


class ContactReceived(_Event):
    type: Literal["contact_received"] = "contact_received"
    contact_id: Id
    channel: Channel
    answered_at: AwareDatetime | None = None
    """When a call-taker answered (from the telephony queue), if the channel reports it."""
    caller_name: str | None = personal()
    caller_phone: str | None = personal()
    caller_address: str | None = personal()
    summary: str | None = personal(description="what the caller said")


class IncidentOpened(_Event):
    type: Literal["incident_opened"] = "incident_opened"
    incident_id: Id
    contact_id: Id | None = None
    code: Id
    priority: Priority | None = None
    """Overrides the code's default priority."""
    location: Position
    address: str | None = personal()
    details: str | None = personal(description="free text about the incident and patients")
    methane: Methane = Field(default_factory=Methane)


class ContactLinked(_Event):
    """A further contact about an incident already open (a duplicate caller)."""

    type: Literal["contact_linked"] = "contact_linked"
    contact_id: Id
    incident_id: Id


class IncidentUpdated(_Event):
    """Changed details; omitted fields stay as they are, ``methane`` replaces the report."""

    type: Literal["incident_updated"] = "incident_updated"
    incident_id: Id
    location: Position | None = None
    code: Id | None = None
    priority: Priority | None = None
    address: str | None = personal()
    details: str | None = personal()
    methane: Methane | None = None


class IncidentEscalated(_Event):
    type: Literal["incident_escalated"] = "incident_escalated"
    incident_id: Id
    level: int = Field(ge=1, le=20)
    cause: Text
    rule: str | None = None
    """The escalation rule that fired (``None`` for a dispatcher's decision)."""
    from_level: int | None = Field(default=None, ge=1)
    command_level: CommandLevel | None = None
    major_incident: bool | None = None


class HoldReleased(_Event):
    """The engine ends a hold of the ``coverage`` rule at its bound (the call is recommended a
    unit again from here); logged so that replay re-solves at the same moment."""

    type: Literal["hold_released"] = "hold_released"
    incident_id: Id
    reason: Text


class IncidentDowngraded(_Event):
    type: Literal["incident_downgraded"] = "incident_downgraded"
    incident_id: Id
    level: int = Field(ge=1, le=20)
    cause: Text


class UnitStatusChanged(_Event):
    type: Literal["unit_status_changed"] = "unit_status_changed"
    unit_id: Id
    status: UnitStatus
    reason: str | None = Field(default=None, max_length=500)


class UnitMoved(_Event):
    """An AVL position report."""

    type: Literal["unit_moved"] = "unit_moved"
    unit_id: Id
    location: Position


class RecommendedAssignment(_Model):
    unit: str
    incident: str
    capability: str
    eta_s: float
    preempted_from: str | None = None
    rank: int = 1
    next_best_unit: str | None = None
    next_best_eta_s: float | None = None
    notes: list[str] = Field(default_factory=list)


class RecommendedUnmet(_Model):
    incident: str
    capability: str
    missing: int
    reason: str


class RecommendationChanges(_Model):
    added: list[RecommendedAssignment] = Field(default_factory=list)
    removed: list[RecommendedAssignment] = Field(default_factory=list)
    changed: list[RecommendedAssignment] = Field(default_factory=list)
    """The new form of assignments whose unit now goes elsewhere or for another capability."""


class RecommendationIssued(_Event):
    """The engine's new recommendation (engine-generated whenever the plan changes)."""

    type: Literal["recommendation_issued"] = "recommendation_issued"
    status: str
    policy: str
    assignments: list[RecommendedAssignment]
    unmet: list[RecommendedUnmet]
    cost: float
    changes: RecommendationChanges = Field(default_factory=RecommendationChanges)


class DispatchAccepted(_Event):
    """A dispatcher hands recommended units over (default: all recommended for the incident)."""

    type: Literal["dispatch_accepted"] = "dispatch_accepted"
    incident_id: Id
    units: list[Id] | None = None
    not_sent: list[Id] | None = None
    """Recommended units the dispatcher chose not to send (a partial send), filled in by the
    engine, so the log says who chose what; the rest of the requirement is solved again."""


class DispatchOverridden(_Event):
    """A dispatcher sends other units than recommended, and says why."""

    type: Literal["dispatch_overridden"] = "dispatch_overridden"
    incident_id: Id
    units: list[Id] = Field(min_length=1)
    reason: str = Field(min_length=3, max_length=1000)
    instead_of: list[Id] = Field(default_factory=list)


class UnitAcknowledged(_Event):
    type: Literal["unit_acknowledged"] = "unit_acknowledged"
    unit_id: Id


class UnitArrived(_Event):
    type: Literal["unit_arrived"] = "unit_arrived"
    unit_id: Id


class IncidentClosed(_Event):
    """Closing clears the units still committed to the incident (they become available)."""

    type: Literal["incident_closed"] = "incident_closed"
    incident_id: Id
    outcome: Name
    summary: str | None = personal()


class NoteAdded(_Event):
    type: Literal["note_added"] = "note_added"
    incident_id: Id
    text: str | None = personal()


class QueryRecorded(_Event):
    type: Literal["query_recorded"] = "query_recorded"
    incident_id: Id
    contact_id: Id | None = None
    topic: Name
    text: str | None = personal()


class ComplaintRecorded(_Event):
    type: Literal["complaint_recorded"] = "complaint_recorded"
    incident_id: Id
    contact_id: Id | None = None
    category: Name
    text: str | None = personal()


class AgencyNotified(_Event):
    type: Literal["agency_notified"] = "agency_notified"
    incident_id: Id
    agency: Name
    channel: Name
    reference: str | None = Field(default=None, max_length=200)


class CoachingRecorded(_Event):
    """A buddying or coaching session held (criterion 20): who coached whom, on what, about
    which incidents, and when to follow up; reviews show whether the figure moved afterwards."""

    type: Literal["coaching_recorded"] = "coaching_recorded"
    coach: Name
    colleague: Name
    topic: Name
    figure: CoachingFigure | None = None
    """The review figure the session means to move (e.g. ``dispatch``, ``override_rate``)."""
    incidents: list[Id] = Field(default_factory=list, max_length=100)
    follow_up: date | None = None
    notes: str | None = personal(description="what was said, agreed and planned")


AlertKind = Literal["escalation", "unacknowledged", "target", "unmet"]


class AlertAcknowledged(_Event):
    """A dispatcher or supervisor has seen a console alert and taken it on: the log says who
    and when, so a missed escalation can be told from an ignored one."""

    type: Literal["alert_acknowledged"] = "alert_acknowledged"
    alert_id: Id
    """The console's stable name of the alert, e.g. ``escalation:INC-1:2``."""
    kind: AlertKind
    incident_id: Id | None = None
    unit_id: Id | None = None


class RelocationMove(_Model):
    """One recommended move-up: a free unit to wait at another station."""

    unit: str
    from_station: str | None
    """Where it waits (or heads) now."""
    to_station: str
    to: Position
    drive_s: float
    coverage_gain: float
    """Expected covered priority-1 demand (fraction) the move adds over staying."""
    freed: bool = False
    """The unit has just become free: its way back is not counted against its moves."""
    explanation: str


class RelocationRecommended(_Event):
    """The engine's move-up advice (engine-generated when it changes): every pending move.
    Re-computed when a unit becomes free and on the relocation timer."""

    type: Literal["relocation_recommended"] = "relocation_recommended"
    policy: str
    trigger: Literal["unit_freed", "timer"]
    units_freed: list[str] = Field(default_factory=list)
    moves: list[RelocationMove]
    coverage_now: float
    """Expected covered priority-1 demand with the free units where they wait now."""
    coverage_after: float
    """...and with every recommended move made."""
    busy_fraction: float


class RelocationAccepted(_Event):
    """A dispatcher sends a unit to the recommended station; it stays dispatchable on the way."""

    type: Literal["relocation_accepted"] = "relocation_accepted"
    unit_id: Id
    to_station: Id | None = None
    """The recommended station (filled in by the engine; another one is refused)."""
    reason: str | None = Field(default=None, max_length=500)


class RelocationDeclined(_Event):
    """A dispatcher keeps a unit where it is; it is not proposed again until its status
    changes."""

    type: Literal["relocation_declined"] = "relocation_declined"
    unit_id: Id
    reason: str | None = Field(default=None, max_length=500)


class ShiftHandedOver(_Event):
    """A dispatcher ends a shift with a note for whoever comes next; it stays open until
    another dispatcher or a supervisor acknowledges it. The note is operational text (shown
    to every console), not a place for caller details."""

    type: Literal["shift_handed_over"] = "shift_handed_over"
    handover_id: Id
    note: str = Field(min_length=1, max_length=4000)
    incidents: list[Id] = Field(default_factory=list, max_length=200)
    """The open incidents handed over (for the record; the console fills them in)."""


class HandoverAcknowledged(_Event):
    """The next dispatcher has read a hand-over note: the log says who and when."""

    type: Literal["handover_acknowledged"] = "handover_acknowledged"
    handover_id: Id


class RoadClosureOn(_Event):
    """A closure (``factor`` None) or slow-down (``factor`` > 1) of a circle or polygon."""

    type: Literal["road_closure_on"] = "road_closure_on"
    closure_id: Id
    centre: Position | None = None
    radius_m: float | None = Field(default=None, gt=0, le=50_000)
    polygon: list[Position] | None = Field(default=None, min_length=3)
    factor: float | None = Field(default=None, gt=1)
    reason: str | None = Field(default=None, max_length=500)


class RoadClosureOff(_Event):
    type: Literal["road_closure_off"] = "road_closure_off"
    closure_id: Id


Event = Annotated[
    CentreConfigured
    | UnitRegistered
    | UnitRemoved
    | ContactReceived
    | IncidentOpened
    | ContactLinked
    | IncidentUpdated
    | IncidentEscalated
    | HoldReleased
    | IncidentDowngraded
    | UnitStatusChanged
    | UnitMoved
    | RecommendationIssued
    | DispatchAccepted
    | DispatchOverridden
    | UnitAcknowledged
    | UnitArrived
    | IncidentClosed
    | NoteAdded
    | QueryRecorded
    | ComplaintRecorded
    | AgencyNotified
    | CoachingRecorded
    | AlertAcknowledged
    | ShiftHandedOver
    | HandoverAcknowledged
    | RoadClosureOn
    | RoadClosureOff
    | RelocationRecommended
    | RelocationAccepted
    | RelocationDeclined,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_TYPES: dict[str, type[BaseModel]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        CentreConfigured,
        UnitRegistered,
        UnitRemoved,
        ContactReceived,
        IncidentOpened,
        ContactLinked,
        IncidentUpdated,
        IncidentEscalated,
        HoldReleased,
        IncidentDowngraded,
        UnitStatusChanged,
        UnitMoved,
        RecommendationIssued,
        DispatchAccepted,
        DispatchOverridden,
        UnitAcknowledged,
        UnitArrived,
        IncidentClosed,
        NoteAdded,
        QueryRecorded,
        ComplaintRecorded,
        AgencyNotified,
        CoachingRecorded,
        AlertAcknowledged,
        ShiftHandedOver,
        HandoverAcknowledged,
        RoadClosureOn,
        RoadClosureOff,
        RelocationRecommended,
        RelocationAccepted,
        RelocationDeclined,
    )
}

ENGINE_ONLY_TYPES = frozenset({"recommendation_issued", "hold_released", "relocation_recommended"})
"""Event types only the engine itself may emit."""


def parse_event(data: Mapping[str, Any] | Event, *, logged: bool = False) -> Event:
    """Validate event JSON; the error names the first offending field. ``logged``: the event
    is read back from a log, so ids of the older grammar (with ``/``) are accepted."""
    if isinstance(data, BaseModel):
        return data
    if not isinstance(data, Mapping):
        raise InputError("an event must be a JSON object", field="event")
    try:
        return EVENT_ADAPTER.validate_python(dict(data), context={"logged": logged})
    except ValidationError as exc:
        raise _input_error(exc) from None


def _input_error(exc: ValidationError) -> InputError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    if loc and loc[0] in EVENT_TYPES:  # the discriminator's branch name is noise
        loc = loc[1:]
    message = err["msg"]
    if err["type"] == "union_tag_invalid":
        message = f"unknown event type; expected one of {', '.join(sorted(EVENT_TYPES))}"
        loc = ["type"]
    elif err["type"] == "union_tag_not_found":
        loc = ["type"]
        message = "missing event type"
    return InputError(message, field=".".join(loc) or "event")


def personal_fields(cls: type[BaseModel]) -> frozenset[str]:
    """Names of the fields of ``cls`` that hold personal data (nested ones as ``a.b``)."""
    names: set[str] = set()
    for name, info in cls.model_fields.items():
        if _is_personal(info):
            names.add(name)
            continue
        sub = info.annotation
        for candidate in getattr(sub, "__args__", (sub,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names.update(f"{name}.{n}" for n in personal_fields(candidate))
    return frozenset(names)


def split_personal(event: Event) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The operational JSON of ``event`` and, apart, its personal data (``None`` if none)."""
    operational, private = _split(event, event.model_dump(mode="json"))
    return operational, private or None


def _split(model: BaseModel, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    operational: dict[str, Any] = {}
    private: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        value = data.get(name)
        if _is_personal(info):
            if value is not None:
                private[name] = value
            continue
        sub = getattr(model, name)
        if isinstance(sub, BaseModel) and isinstance(value, dict):
            operational[name], nested = _split(sub, value)
            if nested:
                private[name] = nested
        else:
            operational[name] = value
    return operational, private


def without_personal(event: Event) -> Event:
    """The event as the state and live subscribers see it: personal fields emptied."""
    operational, private = split_personal(event)
    return event if private is None else parse_event(operational, logged=True)


def with_personal(payload: Mapping[str, Any], private: Mapping[str, Any] | None) -> dict[str, Any]:
    """Re-assemble the full event JSON from a log entry's payload and its personal part."""
    merged = dict(payload)
    for key, value in (private or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = with_personal(merged[key], value)
        else:
            merged[key] = value
    return merged


def event_incident(event: Event) -> str | None:
    """The incident an event is about, when it names one."""
    incident = getattr(event, "incident_id", None)
    return incident if isinstance(incident, str) else None

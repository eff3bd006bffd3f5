"""What happened, split into owned pieces: the facts reviews aggregate.

One fold of the incident log (with the engine's own state function, so positions and
recommendations are what the dispatcher saw) turns events into records, each owned by exactly
one party, so that no one is charged with another's time:

========================  ===================================================  ============
segment                   from → to                                            owner
========================  ===================================================  ============
``answer``                contact received → answered (when the channel says)  call-taker
``call_handling``         answered (else received) → incident opened/linked    call-taker
``dispatch``              incident opened → first unit assigned                dispatcher
``turnout``               unit assigned → acknowledged / en route              crew (unit)
``travel``                en route → arrived                                   crew (unit)
``on_scene``              arrived → left the scene (or incident closed)        crew (unit)
========================  ===================================================  ============

A contact is counted once, for the person who handled it (who received it, or for contacts
arriving by web/agency feed, who first opened or linked it). A complaint is charged to whoever
handled the contact it names, otherwise to no one. An override's ETA cost compares like with
like (see :func:`_override`), and an override followed within ``reversal_window_s`` by the
dispatch of a unit it had replaced is marked reversed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from planner.centre.codes import CodeTable
from planner.centre.events import (
    CentreConfigured,
    CoachingRecorded,
    ComplaintRecorded,
    ContactLinked,
    ContactReceived,
    DispatchAccepted,
    DispatchOverridden,
    Event,
    IncidentClosed,
    IncidentEscalated,
    IncidentOpened,
    RecommendationIssued,
    UnitAcknowledged,
    UnitArrived,
    UnitStatusChanged,
    parse_event,
)
from planner.centre.state import CentreState, apply
from planner.dispatch.domain import UnitStatus
from planner.errors import InputError, PlannerError
from planner.log.incident_log import LogEntry
from planner.network import crow_fly
from planner.network.geo import Location
from planner.network.loader import load_region
from planner.network.region import Region

STAFF_ROLES = ("dispatcher", "calltaker", "supervisor")
SEGMENTS = ("answer", "call_handling", "dispatch", "turnout", "travel", "on_scene")
PERSON_SEGMENTS = ("answer", "call_handling", "dispatch")
UNIT_SEGMENTS = ("turnout", "travel", "on_scene")
REVIEW_ONLY = "review-only import"
"""How an imported log's first ``centre_configured`` reason begins."""
TIME_COLUMNS = ("received", "answered", "opened", "dispatched", "en_route", "arrived", "cleared")
"""The times an external CAD export may give."""
NEEDS: dict[str, frozenset[str]] = {
    "answer": frozenset({"received", "answered"}),
    "call_handling": frozenset({"received", "opened"}),
    "dispatch": frozenset({"opened", "dispatched"}),
    "turnout": frozenset({"dispatched", "en_route"}),
    "travel": frozenset({"en_route", "arrived"}),
    "on_scene": frozenset({"arrived", "cleared"}),
}
"""The source times each segment needs, for imported logs."""
LEFT_SCENE = frozenset({UnitStatus.TRANSPORTING, UnitStatus.RETURNING, UnitStatus.AVAILABLE})


def person_of(actor: str | None) -> str | None:
    """``dispatcher:alice`` → ``alice``; ``None`` for units and the system."""
    if not actor or ":" not in actor:
        return None
    role, name = actor.split(":", 1)
    return name if role in STAFF_ROLES else None


@dataclass(frozen=True, slots=True)
class Segment:
    """One owned piece of one incident's response."""

    name: str
    incident: str
    code: str
    owner: str | None
    """A person for answer/call handling/dispatch, a unit id for the crew's segments."""
    start: datetime
    seconds: float


@dataclass(slots=True)
class Override:
    person: str | None
    incident: str
    at: datetime
    units: list[str]
    instead_of: list[str]
    reason: str
    replaced: list[str]
    """The recommended units the override replaced (``instead_of``, else those left out)."""
    eta_cost_s: float | None
    """Mean over replaced slots filled like for like (sent ETA − replaced ETA); None if none."""
    like_for_like: list[dict[str, Any]] = field(default_factory=list)
    unfilled: list[dict[str, str]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    reversed_after_s: float | None = None


@dataclass(slots=True)
class Incident:
    id: str
    code: str
    priority: int
    target_s: float
    opened_at: datetime
    opened_by: str | None
    first_contact_at: datetime
    dispatched_at: datetime | None = None
    dispatched_by: str | None = None
    units_sent: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    first_arrival_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    escalations: int = 0
    complaints: int = 0
    timeline: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Contact:
    id: str
    at: datetime
    channel: str
    handler: str | None
    answered_at: datetime | None
    handled: bool = False


@dataclass(slots=True)
class Records:
    """Everything a review needs, for the whole log (windows are applied when aggregating)."""

    segments: list[Segment] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    accepted: list[tuple[str, datetime]] = field(default_factory=list)
    contacts: dict[str, Contact] = field(default_factory=dict)
    links: list[tuple[str, datetime]] = field(default_factory=list)
    opened: list[tuple[str, datetime]] = field(default_factory=list)
    escalations: list[tuple[str, datetime]] = field(default_factory=list)
    complaints: list[tuple[str | None, str, datetime]] = field(default_factory=list)
    """(person charged, incident, when)."""
    coaching: list[CoachingRecorded] = field(default_factory=list)
    incidents: dict[str, Incident] = field(default_factory=dict)
    times: list[datetime] = field(default_factory=list)
    refused: int = 0
    """Events the state function refused."""
    source_times: frozenset[str] | None = None
    """For an imported, review-only log: the times its source gives (else ``None``)."""


@dataclass(slots=True)
class _UnitTrip:
    incident: str
    dispatched_at: datetime
    en_route_at: datetime | None = None
    arrived_at: datetime | None = None


def collect(
    entries: list[LogEntry], codes: CodeTable, *, reversal_window_s: float = 120.0
) -> Records:
    """Fold the log's entries into owned records."""
    folder = _Folder(codes, reversal_window_s)
    for entry in entries:
        try:
            event = parse_event(entry.payload, logged=True)
        except InputError:
            continue  # audit entries (e.g. personal-data reads) are not operational events
        folder.observe(event, event.at or entry.recorded_at)
    return folder.records


class _Folder:
    def __init__(self, codes: CodeTable, reversal_window_s: float) -> None:
        self.codes = codes
        self.window = reversal_window_s
        self.state = CentreState()
        self.region: Region | None = None
        self.records = Records()
        self.trips: dict[str, _UnitTrip] = {}

    def observe(self, event: Event, when: datetime) -> None:
        if isinstance(event, CentreConfigured):
            if event.region is not None:
                self.region = load_region(event.region)
            reason = event.reason or ""
            if reason.startswith(REVIEW_ONLY) and "source times: " in reason:
                given = reason.split("source times: ", 1)[1].split(", ")
                self.records.source_times = frozenset(given)
        if not isinstance(event, RecommendationIssued):
            self.records.times.append(when)
        self._account(event, when)
        if self.records.source_times is not None:
            return  # an external CAD's decisions do not follow this centre's state machine
        try:
            self.state = apply(self.state, event, codes=self.codes)
        except PlannerError:
            self.records.refused += 1

    def _add(self, segment: Segment) -> None:
        """Record a segment unless it is an imported log's and the source lacks its ends."""
        given = self.records.source_times
        if given is None or NEEDS[segment.name] <= given:
            self.records.segments.append(segment)

    def _account(self, event: Event, when: datetime) -> None:
        """Fold one event into the records and the timeline of the incident it concerns."""
        who = person_of(event.actor)
        incident_id = getattr(event, "incident_id", None)
        inc = self.records.incidents.get(incident_id) if isinstance(incident_id, str) else None
        if isinstance(event, ContactReceived | IncidentOpened | ContactLinked):
            inc = self._intake(event, when, who, inc)
        elif isinstance(event, UnitAcknowledged | UnitStatusChanged | UnitArrived):
            inc = self._unit_moved(event, when, inc)
        elif isinstance(event, CoachingRecorded):
            self.records.coaching.append(event.model_copy(update={"at": when}))
        elif inc is not None:
            self._incident_event(event, when, who, inc)
        if inc is not None and not isinstance(event, RecommendationIssued):
            inc.timeline.append(
                {"at": when, "type": event.type, "actor": event.actor, **_detail(event)}
            )

    def _intake(
        self,
        event: ContactReceived | IncidentOpened | ContactLinked,
        when: datetime,
        who: str | None,
        inc: Incident | None,
    ) -> Incident | None:
        """A contact arriving, an incident opened from it, or a contact linked to one."""
        rec = self.records
        if isinstance(event, ContactReceived):
            rec.contacts[event.contact_id] = Contact(
                event.contact_id, when, event.channel, who, event.answered_at
            )
        elif isinstance(event, IncidentOpened):
            inc = self._opened(event, when, who)
        else:
            contact = rec.contacts.get(event.contact_id)
            if who:
                rec.links.append((who, when))
            if contact is not None:
                self._handled(contact, who, when, inc.id if inc else "", inc.code if inc else "")
        return inc

    def _unit_moved(
        self,
        event: UnitAcknowledged | UnitStatusChanged | UnitArrived,
        when: datetime,
        inc: Incident | None,
    ) -> Incident | None:
        """A unit's trip: en route (acknowledged or by status), arrived (at its incident), left."""
        if isinstance(event, UnitAcknowledged):
            self._en_route(event.unit_id, when, acknowledged=True)
        elif isinstance(event, UnitStatusChanged):
            if event.status == UnitStatus.EN_ROUTE:
                self._en_route(event.unit_id, when, acknowledged=False)
            elif event.status in LEFT_SCENE:
                self._left(event.unit_id, when)
        else:
            inc = self._arrived(event.unit_id, when)
        return inc

    def _incident_event(self, event: Event, when: datetime, who: str | None, inc: Incident) -> None:
        """Dispatch, escalation, complaint or closing of a known incident."""
        rec = self.records
        if isinstance(event, DispatchAccepted | DispatchOverridden):
            self._dispatched(event, when, who, inc)
        elif isinstance(event, IncidentEscalated):
            inc.escalations += 1
            if who:
                rec.escalations.append((who, when))
        elif isinstance(event, ComplaintRecorded):
            inc.complaints += 1
            contact = rec.contacts.get(event.contact_id or "")
            rec.complaints.append((contact.handler if contact else None, inc.id, when))
        elif isinstance(event, IncidentClosed):
            inc.closed_at = when
            inc.outcome = event.outcome
            for unit, trip in list(self.trips.items()):
                if trip.incident == inc.id:
                    self._left(unit, when)

    def _opened(self, event: IncidentOpened, when: datetime, who: str | None) -> Incident:
        code = self.codes.get(event.code)
        contact = self.records.contacts.get(event.contact_id or "")
        inc = self.records.incidents[event.incident_id] = Incident(
            id=event.incident_id,
            code=event.code,
            priority=event.priority or (code.default_priority if code else 5),
            target_s=code.target_s if code else float("inf"),
            opened_at=when,
            opened_by=who,
            first_contact_at=contact.at if contact else when,
        )
        if who:
            self.records.opened.append((who, when))
        if contact is not None:
            self._handled(contact, who, when, inc.id, inc.code)
        return inc

    def _handled(
        self, contact: Contact, who: str | None, when: datetime, incident: str, code: str
    ) -> None:
        """The contact's answer and handling segments, once, for its handler."""
        if contact.handled:
            return
        contact.handled = True
        if contact.handler is None:
            contact.handler = who
        answered = contact.answered_at or contact.at
        if contact.answered_at is not None:
            self._add(
                Segment(
                    "answer",
                    incident,
                    code,
                    contact.handler,
                    contact.at,
                    (contact.answered_at - contact.at).total_seconds(),
                )
            )
        self._add(
            Segment(
                "call_handling",
                incident,
                code,
                contact.handler,
                answered,
                (when - answered).total_seconds(),
            )
        )

    def _dispatched(
        self,
        event: DispatchAccepted | DispatchOverridden,
        when: datetime,
        who: str | None,
        inc: Incident,
    ) -> None:
        rec = self.records
        units = list(event.units or [a.unit for a in self._recommended(inc.id)])
        if inc.dispatched_at is None:
            inc.dispatched_at = when
            inc.dispatched_by = who
            self._add(
                Segment(
                    "dispatch",
                    inc.id,
                    inc.code,
                    who,
                    inc.opened_at,
                    (when - inc.opened_at).total_seconds(),
                )
            )
        if isinstance(event, DispatchOverridden):
            rec.overrides.append(self._override(event, when, who))
        elif who:
            rec.accepted.append((who, when))
        for override in rec.overrides:
            late = (when - override.at).total_seconds()
            if (
                override.incident == inc.id
                and override.reversed_after_s is None
                and 0 < late <= self.window
                and set(units) & set(override.replaced)
            ):
                override.reversed_after_s = late
        for unit in units:
            inc.units_sent.append(unit)
            self.trips[unit] = _UnitTrip(inc.id, when)

    def _recommended(self, incident: str) -> list[Any]:
        rec = self.state.recommendation
        return [a for a in rec.assignments if a.incident == incident] if rec else []

    def _override(self, event: DispatchOverridden, when: datetime, who: str | None) -> Override:
        """Like for like: each recommended unit replaced is compared with the fastest unit sent
        instead that can fill the same slot (its capability), both from the positions of that
        moment. Units sent that fill no replaced slot are additions, not costs; a replaced slot
        no sent unit can fill is listed as unfilled."""
        recommended = {a.unit: a.capability for a in self._recommended(event.incident_id)}
        replaced = event.instead_of or [u for u in recommended if u not in event.units]
        out = Override(
            who, event.incident_id, when, list(event.units), list(event.instead_of),
            event.reason, list(replaced), None,
        )  # fmt: skip
        incident = self.state.incidents.get(event.incident_id)
        fresh = [u for u in event.units if u not in recommended and u in self.state.units]
        out.added = list(fresh)
        if incident is None:
            return out
        known = [u for u in {*replaced, *fresh} if u in self.state.units]
        etas = dict(
            zip(
                known,
                self._etas([self.state.units[u].location for u in known], incident.location),
                strict=True,
            )
        )
        costs: list[float] = []
        for unit in replaced:
            capability = recommended.get(unit)
            if capability is None or unit not in etas:
                continue
            able = [u for u in fresh if capability in self.state.units[u].capabilities]
            if not able:
                out.unfilled.append({"unit": unit, "capability": capability})
                continue
            best = min(able, key=lambda u: etas[u])
            if best in out.added:
                out.added.remove(best)
            cost = float(etas[best] - etas[unit])
            costs.append(cost)
            out.like_for_like.append(
                {
                    "replaced": unit,
                    "by": best,
                    "capability": capability,
                    "eta_cost_s": round(cost, 1),
                }
            )
        out.eta_cost_s = round(statistics.fmean(costs), 1) if costs else None
        return out

    def _etas(self, origins: list[Location], destination: Location) -> np.ndarray:
        """ETAs as the engine saw them: the region's roads, else its crow-fly settings."""
        if not origins:
            return np.zeros(0)
        if self.region is None:
            fly = self.state.config.crow_fly if self.state.config else None
            return crow_fly.eta_matrix(
                origins,
                [destination],
                **({"speed_kmh": fly.speed_kmh, "detour_factor": fly.detour_factor} if fly else {}),
            )[:, 0]
        to = self.region.etas_to(self.region.snap(destination.lat, destination.lon).node)
        return np.array([to[self.region.snap(p.lat, p.lon).node] for p in origins])

    def _en_route(self, unit: str, when: datetime, *, acknowledged: bool) -> None:
        trip = self.trips.get(unit)
        if trip is None or trip.en_route_at is not None:
            return
        trip.en_route_at = when
        inc = self.records.incidents.get(trip.incident)
        if inc is not None:
            if acknowledged:
                inc.acknowledged.add(unit)
            self._add(
                Segment(
                    "turnout",
                    inc.id,
                    inc.code,
                    unit,
                    trip.dispatched_at,
                    (when - trip.dispatched_at).total_seconds(),
                )
            )

    def _arrived(self, unit: str, when: datetime) -> Incident | None:
        trip = self.trips.get(unit)
        if trip is None:
            return None
        inc = self.records.incidents.get(trip.incident)
        if inc is None:
            return None
        trip.arrived_at = when
        if inc.first_arrival_at is None:
            inc.first_arrival_at = when
        if trip.en_route_at is not None:
            self._add(
                Segment(
                    "travel",
                    inc.id,
                    inc.code,
                    unit,
                    trip.en_route_at,
                    (when - trip.en_route_at).total_seconds(),
                )
            )
        return inc

    def _left(self, unit: str, when: datetime) -> None:
        trip = self.trips.pop(unit, None)
        if trip is None or trip.arrived_at is None:
            return
        inc = self.records.incidents.get(trip.incident)
        if inc is not None:
            self._add(
                Segment(
                    "on_scene",
                    inc.id,
                    inc.code,
                    unit,
                    trip.arrived_at,
                    (when - trip.arrived_at).total_seconds(),
                )
            )


def _detail(event: Event) -> dict[str, Any]:
    """The operational essentials of an event for the timeline (no personal data)."""
    keep = (
        "code",
        "units",
        "instead_of",
        "reason",
        "level",
        "cause",
        "outcome",
        "unit_id",
        "status",
    )
    data = event.model_dump(mode="json", include=set(keep), exclude_none=True)
    return {k: v for k, v in data.items() if v not in ([], "")}

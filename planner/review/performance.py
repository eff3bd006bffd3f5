"""Performance reviews for supervisors, read from the incident log.

Per dispatcher (the person behind an ``actor`` such as ``dispatcher:alice``) and per team:
contacts handled, time from first contact to first dispatch, recommendations accepted versus
overridden and what the overrides cost in ETA, escalations, complaints and compliance with the
codes' target times; per incident an after-action timeline; and coaching suggestions drawn
from the figures. The log is folded with the engine's own state function, so unit positions
(and thus override ETAs) are exactly what the dispatcher saw.

ETA cost of an override: the mean ETA of the units sent in place of recommended ones minus the
mean ETA of the recommended units they replaced, from the positions at the moment of the
override (road network of the log's region, or crow-fly when it has none).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from planner.centre.codes import CodeTable
from planner.centre.events import (
    CentreConfigured,
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
    UnitArrived,
    parse_event,
)
from planner.centre.state import CentreState, apply
from planner.errors import InputError
from planner.log.incident_log import IncidentLog
from planner.network import crow_fly
from planner.network.geo import Location
from planner.network.loader import load_region
from planner.network.region import Region
from planner.yaml_io import load_yaml

STAFF_ROLES = ("dispatcher", "calltaker", "supervisor")


def load_roster(path: Path) -> dict[str, str]:
    """``{person: team}`` from YAML ``teams: {team: [person, ...]}``."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read roster {path}: {exc.strerror}", field="roster") from None
    raw = load_yaml(text, source=str(path), field="roster")
    teams = raw.get("teams") if isinstance(raw, dict) else None
    if not isinstance(teams, dict):
        raise InputError("a roster is 'teams: {team: [person, ...]}'", field="roster.teams")
    roster: dict[str, str] = {}
    for team, people in teams.items():
        if not isinstance(people, list):
            raise InputError("list the people of each team", field=f"roster.teams.{team}")
        for person in people:
            roster[str(person)] = str(team)
    return roster


def person_of(actor: str | None) -> str | None:
    """``dispatcher:alice`` → ``alice``; ``None`` for units and the system."""
    if not actor or ":" not in actor:
        return None
    role, name = actor.split(":", 1)
    return name if role in STAFF_ROLES else None


@dataclass(slots=True)
class _Incident:
    id: str
    code: str
    priority: int
    target_s: float
    opened_at: datetime
    opened_by: str | None
    first_contact_at: datetime | None = None
    dispatched_at: datetime | None = None
    dispatched_by: str | None = None
    first_arrival_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    escalations: int = 0
    complaints: int = 0
    timeline: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _Person:
    contacts: int = 0
    incidents_opened: int = 0
    accepted: int = 0
    overridden: int = 0
    override_eta_cost_s: list[float] = field(default_factory=list)
    override_reasons: list[str] = field(default_factory=list)
    to_dispatch_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    escalations_made: int = 0
    escalations_on_handled: int = 0
    complaints_on_handled: int = 0
    met: int = 0
    reached: int = 0


def build_review(
    url: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    roster: dict[str, str] | None = None,
    codes: CodeTable | None = None,
) -> dict[str, Any]:
    """The review document for events in ``[start, end]`` of the log at ``url``."""
    log = IncidentLog(url, create=False)
    try:
        entries = log.entries()
    finally:
        log.close()
    codes = codes or CodeTable.load()
    roster = roster or {}
    state = CentreState()
    region: Region | None = None
    incidents: dict[str, _Incident] = {}
    people: dict[str, _Person] = defaultdict(_Person)
    contact_at: dict[str, datetime] = {}
    seen: list[datetime] = []  # times of the events in the period, for its title
    for entry in entries:
        try:
            event = parse_event(entry.payload)
        except InputError:
            continue  # audit entries (e.g. personal-data reads) are not operational events
        when = event.at or entry.recorded_at
        if isinstance(event, CentreConfigured) and event.region is not None:
            region = load_region(event.region)
        in_window = (start is None or when >= start) and (end is None or when <= end)
        if in_window:
            seen.append(when)
            _observe(event, when, state, region, codes, incidents, people, contact_at)
        state = apply(state, event, codes=codes)
    doc = _document(incidents, people, roster, start=start, end=end)
    doc["period"]["first_event"] = min(seen).isoformat() if seen else None
    doc["period"]["last_event"] = max(seen).isoformat() if seen else None
    return doc


def _observe(
    event: Event,
    when: datetime,
    state: CentreState,
    region: Region | None,
    codes: CodeTable,
    incidents: dict[str, _Incident],
    people: dict[str, _Person],
    contact_at: dict[str, datetime],
) -> None:
    """Account one event, seen against the state just before it."""
    who = person_of(event.actor)
    incident_id = getattr(event, "incident_id", None)
    inc = incidents.get(incident_id) if incident_id else None
    if isinstance(event, ContactReceived):
        contact_at[event.contact_id] = when
        if who:
            people[who].contacts += 1
    elif isinstance(event, IncidentOpened):
        code = codes.get(event.code)
        inc = incidents[event.incident_id] = _Incident(
            id=event.incident_id,
            code=event.code,
            priority=event.priority or (code.default_priority if code else 5),
            target_s=code.target_s if code else float("inf"),
            opened_at=when,
            opened_by=who,
            first_contact_at=contact_at.get(event.contact_id or "", when),
        )
        if who:
            people[who].incidents_opened += 1
    elif isinstance(event, ContactLinked) and who:
        people[who].contacts += 1
    elif isinstance(event, DispatchAccepted | DispatchOverridden) and inc is not None:
        if inc.dispatched_at is None:
            inc.dispatched_at = when
            inc.dispatched_by = who
            if who and inc.first_contact_at is not None:
                seconds = (when - inc.first_contact_at).total_seconds()
                people[who].to_dispatch_s[inc.code].append(seconds)
        if who and isinstance(event, DispatchAccepted):
            people[who].accepted += 1
        elif who and isinstance(event, DispatchOverridden):
            people[who].overridden += 1
            people[who].override_reasons.append(event.reason)
            cost = _override_cost(event, state, region)
            if cost is not None:
                people[who].override_eta_cost_s.append(cost)
    elif isinstance(event, UnitArrived):
        unit = state.units.get(event.unit_id)
        target = incidents.get(unit.incident or "") if unit is not None else None
        if target is not None:
            inc = target
            if target.first_arrival_at is None:
                target.first_arrival_at = when
    elif isinstance(event, IncidentEscalated) and inc is not None:
        inc.escalations += 1
        if who:
            people[who].escalations_made += 1
    elif isinstance(event, ComplaintRecorded) and inc is not None:
        inc.complaints += 1
    elif isinstance(event, IncidentClosed) and inc is not None:
        inc.closed_at = when
        inc.outcome = event.outcome
    if inc is not None and not isinstance(event, RecommendationIssued):
        inc.timeline.append(
            {"at": when.isoformat(), "type": event.type, "actor": event.actor, **_detail(event)}
        )


def _detail(event: Event) -> dict[str, Any]:
    """The operational essentials of an event for the timeline (no personal data)."""
    keep = ("code", "units", "instead_of", "reason", "level", "cause", "outcome", "unit_id")
    data = event.model_dump(mode="json", include=set(keep), exclude_none=True)
    return {k: v for k, v in data.items() if v not in ([], "")}


def _override_cost(
    event: DispatchOverridden, state: CentreState, region: Region | None
) -> float | None:
    """Mean ETA of the units sent instead of recommended ones minus the mean ETA of the
    recommended units they replaced, from the positions at the override (when nothing was
    swapped one for one: fastest sent minus fastest recommended)."""
    incident = state.incidents.get(event.incident_id)
    rec = state.recommendation
    if incident is None or rec is None:
        return None
    recommended = {a.unit: a.eta_s for a in rec.assignments if a.incident == event.incident_id}
    units = [u for u in event.units if u in state.units]
    if not recommended or not units:
        return None
    etas = dict(
        zip(
            units,
            _etas([state.units[u].location for u in units], incident.location, region),
            strict=True,
        )
    )
    swapped_in = [etas[u] for u in units if u not in recommended]
    swapped_out = [eta for u, eta in recommended.items() if u not in etas]
    if swapped_in and swapped_out:
        return float(statistics.fmean(swapped_in) - statistics.fmean(swapped_out))
    return float(min(etas.values()) - min(recommended.values()))


def _etas(origins: list[Location], destination: Location, region: Region | None) -> np.ndarray:
    if region is None:
        return crow_fly.eta_matrix(origins, [destination])[:, 0]
    to = region.etas_to(region.snap(destination.lat, destination.lon).node)
    return np.array([to[region.snap(p.lat, p.lon).node] for p in origins])


def _stats(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "mean_s": None, "p90_s": None}
    return {
        "n": len(values),
        "mean_s": round(statistics.fmean(values), 1),
        "p90_s": round(float(np.quantile(values, 0.9)), 1),
    }


def _person_doc(p: _Person) -> dict[str, Any]:
    all_times = [t for ts in p.to_dispatch_s.values() for t in ts]
    dispatches = p.accepted + p.overridden
    return {
        "contacts_handled": p.contacts,
        "incidents_opened": p.incidents_opened,
        "dispatches": dispatches,
        "accepted": p.accepted,
        "overridden": p.overridden,
        "override_rate": round(p.overridden / dispatches, 3) if dispatches else None,
        "override_eta_cost_s": _stats(p.override_eta_cost_s),
        "override_reasons": p.override_reasons,
        "contact_to_dispatch": _stats(all_times),
        "contact_to_dispatch_by_code": {c: _stats(v) for c, v in sorted(p.to_dispatch_s.items())},
        "escalations_made": p.escalations_made,
        "escalations_on_handled": p.escalations_on_handled,
        "complaints_on_handled": p.complaints_on_handled,
        "reached": p.reached,
        "target_met": p.met,
        "compliance": round(p.met / p.reached, 3) if p.reached else None,
    }


def _document(
    incidents: dict[str, _Incident],
    people: dict[str, _Person],
    roster: dict[str, str],
    *,
    start: datetime | None,
    end: datetime | None,
) -> dict[str, Any]:
    for inc in incidents.values():
        handler = inc.dispatched_by
        if handler is None:
            continue
        person = people[handler]
        person.escalations_on_handled += inc.escalations
        person.complaints_on_handled += inc.complaints
        if inc.first_arrival_at is not None and inc.first_contact_at is not None:
            person.reached += 1
            response = (inc.first_arrival_at - inc.first_contact_at).total_seconds()
            person.met += response <= inc.target_s
    teams: dict[str, _Person] = defaultdict(_Person)
    for name, p in people.items():
        t = teams[roster.get(name, "unassigned")]
        t.contacts += p.contacts
        t.incidents_opened += p.incidents_opened
        t.accepted += p.accepted
        t.overridden += p.overridden
        t.override_eta_cost_s += p.override_eta_cost_s
        t.override_reasons += p.override_reasons
        for code, times in p.to_dispatch_s.items():
            t.to_dispatch_s[code] += times
        t.escalations_made += p.escalations_made
        t.escalations_on_handled += p.escalations_on_handled
        t.complaints_on_handled += p.complaints_on_handled
        t.met += p.met
        t.reached += p.reached
    return {
        "period": {
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
        },
        "dispatchers": {
            name: {"team": roster.get(name, "unassigned"), **_person_doc(p)}
            for name, p in sorted(people.items())
        },
        "teams": {name: _person_doc(t) for name, t in sorted(teams.items())},
        "coaching": _coaching(people),
        "incidents": {
            i.id: {
                "code": i.code,
                "priority": i.priority,
                "target_s": i.target_s,
                "opened_by": i.opened_by,
                "dispatched_by": i.dispatched_by,
                "contact_to_dispatch_s": _secs(i.first_contact_at, i.dispatched_at),
                "response_s": _secs(i.first_contact_at, i.first_arrival_at),
                "outcome": i.outcome,
                "timeline": i.timeline,
            }
            for i in incidents.values()
        },
    }


def _secs(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds()


def _coaching(people: dict[str, _Person]) -> dict[str, list[str]]:
    """Suggestions from the figures; each names the figure that prompted it."""
    by_code: dict[str, list[float]] = defaultdict(list)
    for p in people.values():
        for code, times in p.to_dispatch_s.items():
            by_code[code] += times
    advice: dict[str, list[str]] = {}
    for name, p in sorted(people.items()):
        notes: list[str] = []
        for code, times in sorted(p.to_dispatch_s.items()):
            centre = statistics.median(by_code[code])
            mine = statistics.median(times)
            if mine > max(1.5 * centre, centre + 60.0):
                notes.append(
                    f"slow time-to-dispatch on {code}: median {mine:.0f} s "
                    f"against {centre:.0f} s for the centre"
                )
        dispatches = p.accepted + p.overridden
        if dispatches >= 3 and p.overridden / dispatches > 0.3:
            notes.append(
                f"frequent overrides: {p.overridden} of {dispatches} dispatches; "
                "review the reasons against the response plans"
            )
        if p.override_eta_cost_s and statistics.fmean(p.override_eta_cost_s) > 60.0:
            notes.append(
                f"overrides cost {statistics.fmean(p.override_eta_cost_s):.0f} s of ETA on "
                "average: check that the reasons justify the delay"
            )
        if p.reached >= 3 and p.met / p.reached < 0.8:
            notes.append(f"targets met on only {p.met} of {p.reached} incidents dispatched")
        if p.complaints_on_handled:
            notes.append(
                f"{p.complaints_on_handled} complaint(s) on incidents dispatched: "
                "go through the after-action timelines together"
            )
        if notes:
            advice[name] = notes
    return advice


def review_markdown(review: dict[str, Any]) -> str:
    """A supervisor's Markdown report of :func:`build_review`'s document."""
    lines = [f"# Performance review, {_period_title(review['period'])}", ""]
    if not review["dispatchers"] and not review["incidents"]:
        return "\n".join([*lines, "No activity in this period."]) + "\n"
    figures = (
        " contacts | dispatches | accepted | overridden | override ETA cost s |"
        " contact→dispatch mean s | p90 s | escalations | complaints | compliance |"
    )
    lines += [
        "## Dispatchers",
        "",
        "| person | team |" + figures,
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, d in review["dispatchers"].items():
        lines.append(_row([name, d.get("team", "")], d))
    lines += [
        "",
        "## Teams",
        "",
        "| team |" + figures,
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, d in review["teams"].items():
        lines.append(_row([name], d))
    lines += ["", "## Coaching suggestions", ""]
    if not review["coaching"]:
        lines.append("Nothing stands out in this period.")
    for name, notes in review["coaching"].items():
        lines += [f"- **{name}**: " + "; ".join(notes)]
    lines += ["", "## After-action timelines", ""]
    for iid, inc in review["incidents"].items():
        lines += [
            f"### {iid} ({inc['code']}, priority {inc['priority']})",
            "",
            f"Contact to dispatch {_s(inc['contact_to_dispatch_s'])}, response "
            f"{_s(inc['response_s'])} against a target of {inc['target_s']:.0f} s; "
            f"outcome: {inc['outcome'] or 'open'}.",
            "",
        ]
        for step in inc["timeline"]:
            extra = ", ".join(
                f"{k}={v}" for k, v in step.items() if k not in ("at", "type", "actor")
            )
            lines.append(f"- {step['at']} `{step['type']}` by {step['actor']} {extra}".rstrip())
        lines.append("")
    return "\n".join(lines) + "\n"


def _s(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f} s"


def _period_title(period: dict[str, Any]) -> str:
    """The asked bounds, else the first and last event of the period, else "whole log"."""
    first = period["from"] or period.get("first_event")
    last = period["to"] or period.get("last_event")
    if first and last:
        return f"{first} – {last}"
    if first or last:
        return f"from {first}" if first else f"up to {last}"
    return "whole log"


def _row(names: list[str], d: dict[str, Any]) -> str:
    ctd = d["contact_to_dispatch"]
    comp = d["compliance"]
    cells = [
        *names,
        str(d["contacts_handled"]),
        str(d["dispatches"]),
        str(d["accepted"]),
        str(d["overridden"]),
        _num(d["override_eta_cost_s"]["mean_s"], "{:+.0f}"),
        _num(ctd["mean_s"], "{:.0f}"),
        _num(ctd["p90_s"], "{:.0f}"),
        f"{d['escalations_made']}/{d['escalations_on_handled']}",
        str(d["complaints_on_handled"]),
        _num(None if comp is None else comp * 100, "{:.0f} %"),
    ]
    return "| " + " | ".join(cells) + " |"


def _num(v: float | None, fmt: str) -> str:
    return "–" if v is None else fmt.format(v)

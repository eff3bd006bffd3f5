"""Performance reviews for supervisors, read from the incident log (criteria 19–22).

The log is split into owned records (:mod:`planner.review.records`): answer and call handling
belong to the call-taker, dispatch (incident opened → first unit assigned) to the dispatcher,
turnout, travel and time on scene to the crew. Each role's figures and coaching suggestions use
only the segments it owns; response-time compliance is the centre's figure, shown with where
each late incident's time went. Every figure says how many calls it rests on and carries a
"few calls" marker below ``min_calls``. Times are shown in the centre's time zone.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from planner.centre.codes import CodeTable
from planner.errors import InputError
from planner.log.incident_log import IncidentLog
from planner.review.records import (
    PERSON_SEGMENTS,
    SEGMENTS,
    UNIT_SEGMENTS,
    Incident,
    Records,
    Segment,
    collect,
    person_of,
)
from planner.yaml_io import load_yaml

__all__ = [
    "build_review",
    "figures",
    "load_records",
    "load_roster",
    "person_of",
    "review_markdown",
    "time_zone",
]

OWNERS = {
    "answer": "call-taker",
    "call_handling": "call-taker",
    "dispatch": "dispatcher",
    "turnout": "crew",
    "travel": "crew / roads",
    "on_scene": "crew",
}
LABELS = {
    "answer": "answer",
    "call_handling": "call handling",
    "dispatch": "dispatch",
    "turnout": "acknowledgement/turnout",
    "travel": "travel",
    "on_scene": "on scene",
}
MIN_CALLS = 5


def time_zone(name: str) -> ZoneInfo:
    """The centre's time zone by IANA name; a bad name names the field."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {name!r}", field="tz") from None


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


def load_records(
    url: str, *, codes: CodeTable | None = None, reversal_window_s: float = 120.0
) -> Records:
    """The owned records of the whole log at ``url``."""
    log = IncidentLog(url, create=False)
    try:
        entries = log.entries()
    finally:
        log.close()
    return collect(entries, codes or CodeTable.load(), reversal_window_s=reversal_window_s)


def build_review(
    url: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    roster: dict[str, str] | None = None,
    codes: CodeTable | None = None,
    tz: str = "UTC",
    min_calls: int = MIN_CALLS,
    reversal_window_s: float = 120.0,
) -> dict[str, Any]:
    """The review document for ``[start, end]`` of the log at ``url``."""
    zone = time_zone(tz)
    if min_calls < 1:
        raise InputError("must be at least 1", field="min_calls")
    rec = load_records(url, codes=codes, reversal_window_s=reversal_window_s)
    inside = _window(start, end)
    roster = roster or {}
    fig = figures(rec, inside, roster, min_calls)
    seen = [t for t in rec.times if inside(t)]
    incidents = [i for i in rec.incidents.values() if inside(i.opened_at)]
    by_incident: dict[str, list[Segment]] = defaultdict(list)
    for s in rec.segments:
        by_incident[s.incident].append(s)
    return {
        "period": {
            "from": _iso(start, zone),
            "to": _iso(end, zone),
            "first_event": _iso(min(seen), zone) if seen else None,
            "last_event": _iso(max(seen), zone) if seen else None,
            "time_zone": tz,
        },
        "few_calls_below": min_calls,
        "reversal_window_s": reversal_window_s,
        "centre": _centre(rec, incidents, inside, min_calls),
        **fig,
        "overrides": [
            {
                "incident": o.incident,
                "at": _iso(o.at, zone),
                "by": o.person,
                "units": o.units,
                "instead_of": o.instead_of,
                "replaced": o.replaced,
                "reason": o.reason,
                "eta_cost_s": o.eta_cost_s,
                "like_for_like": o.like_for_like,
                "unfilled": o.unfilled,
                "added": o.added,
                "reversed_after_s": o.reversed_after_s,
            }
            for o in rec.overrides
            if inside(o.at)
        ],
        "coaching": _suggestions(rec, inside, min_calls),
        "crew_suggestions": _crew_suggestions(rec, inside, min_calls),
        "coaching_sessions": _sessions(rec, inside, zone, min_calls),
        "incidents_without_arrival": [
            {"incident": i.id, "code": i.code, "why": _why_no_arrival(i, end, rec.source_times)}
            for i in incidents
            if i.first_arrival_at is None
        ],
        "incidents": {i.id: _incident_doc(i, by_incident[i.id], zone) for i in incidents},
        "refused_events": rec.refused,
        "imported": None
        if rec.source_times is None
        else {"source_times": sorted(rec.source_times)},
    }


def _window(start: datetime | None, end: datetime | None) -> Callable[[datetime], bool]:
    def inside(t: datetime) -> bool:
        return (start is None or t >= start) and (end is None or t <= end)

    return inside


def _iso(t: datetime | None, zone: ZoneInfo) -> str | None:
    return None if t is None else t.astimezone(zone).isoformat()


def stats(values: list[float], min_calls: int) -> dict[str, Any]:
    """n, mean, median and p90 in seconds, and whether they rest on too few calls."""
    if not values:
        return {"n": 0, "mean_s": None, "median_s": None, "p90_s": None, "few_calls": True}
    return {
        "n": len(values),
        "mean_s": round(statistics.fmean(values), 1),
        "median_s": round(statistics.median(values), 1),
        "p90_s": round(float(np.quantile(values, 0.9)), 1),
        "few_calls": len(values) < min_calls,
    }


def figures(
    rec: Records, inside: Callable[[datetime], bool], roster: dict[str, str], min_calls: int
) -> dict[str, Any]:
    """Per person (``dispatchers``, every staff member by role), per team and per unit."""
    people: dict[str, _Tally] = defaultdict(_Tally)
    units: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    unit_dispatches: dict[str, int] = defaultdict(int)
    for s in rec.segments:
        if not inside(s.start) or s.owner is None:
            continue
        if s.name in PERSON_SEGMENTS:
            people[s.owner].segments[s.name].append(s)
        else:
            units[s.owner][s.name].append(s.seconds)
    for contact in rec.contacts.values():
        if contact.handler and inside(contact.at):
            people[contact.handler].contacts += 1
    for attr in ("links", "opened", "accepted", "escalations"):
        for who, at in getattr(rec, attr):
            if inside(at):
                tally = people[who]
                setattr(tally, attr, getattr(tally, attr) + 1)
    for charged, _incident, at in rec.complaints:
        if charged and inside(at):
            people[charged].complaints += 1
    for o in rec.overrides:
        if o.person and inside(o.at):
            people[o.person].overrides.append(o)
    for inc in rec.incidents.values():
        if inside(inc.opened_at):
            for unit in inc.units_sent:
                unit_dispatches[unit] += 1
    teams: dict[str, _Tally] = defaultdict(_Tally)
    for name, tally in people.items():
        teams[roster.get(name, "unassigned")].add(tally)
    return {
        "dispatchers": {
            name: {"team": roster.get(name, "unassigned"), **t.doc(min_calls)}
            for name, t in sorted(people.items())
        },
        "teams": {name: t.doc(min_calls) for name, t in sorted(teams.items())},
        "units": {
            unit: {
                "dispatches": unit_dispatches.get(unit, 0),
                **{seg: stats(units[unit][seg], min_calls) for seg in UNIT_SEGMENTS},
            }
            for unit in sorted(set(units) | set(unit_dispatches))
        },
    }


class _Tally:
    """One person's (or team's) owned records in a window."""

    def __init__(self) -> None:
        self.segments: dict[str, list[Segment]] = defaultdict(list)
        self.contacts = self.links = self.opened = self.accepted = 0
        self.escalations = self.complaints = 0
        self.overrides: list[Any] = []

    def add(self, other: _Tally) -> None:
        for name, segs in other.segments.items():
            self.segments[name] += segs
        self.contacts += other.contacts
        self.links += other.links
        self.opened += other.opened
        self.accepted += other.accepted
        self.escalations += other.escalations
        self.complaints += other.complaints
        self.overrides += other.overrides

    def doc(self, min_calls: int) -> dict[str, Any]:
        overridden = len(self.overrides)
        dispatches = self.accepted + overridden
        kept = [o for o in self.overrides if o.reversed_after_s is None]
        roles = [
            role
            for role, active in (
                ("calltaker", self.contacts or self.opened or self.links),
                ("dispatcher", dispatches),
            )
            if active
        ]
        out: dict[str, Any] = {
            "roles": roles,
            "contacts_handled": self.contacts,
            "contacts_linked": self.links,
            "incidents_opened": self.opened,
            "complaints_on_handled": self.complaints,
            "dispatches": dispatches,
            "accepted": self.accepted,
            "overridden": overridden,
            "override_rate": _rate(overridden, dispatches),
            "overrides_reversed": overridden - len(kept),
            "override_eta_cost_s": stats(
                [o.eta_cost_s for o in kept if o.eta_cost_s is not None], min_calls
            ),
            "override_reasons": [o.reason for o in self.overrides],
            "escalations_made": self.escalations,
        }
        for name in PERSON_SEGMENTS:
            segs = self.segments[name]
            out[name] = stats([s.seconds for s in segs], min_calls)
            out[f"{name}_by_code"] = {
                code: stats([s.seconds for s in segs if s.code == code], min_calls)
                for code in sorted({s.code for s in segs})
            }
        return out


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _centre(
    rec: Records, incidents: list[Incident], inside: Callable[[datetime], bool], min_calls: int
) -> dict[str, Any]:
    """The centre's segments and compliance: response time is everyone's, so it is no one's
    personal figure."""
    reached = [i for i in incidents if i.first_arrival_at is not None]
    met = sum(_response(i) <= i.target_s for i in reached)
    return {
        "incidents": len(incidents),
        "contacts": sum(inside(c.at) for c in rec.contacts.values()),
        "segments": {
            name: stats(
                [s.seconds for s in rec.segments if s.name == name and inside(s.start)], min_calls
            )
            for name in SEGMENTS
        },
        "reached": len(reached),
        "target_met": met,
        "compliance": _rate(met, len(reached)),
        "compliance_few_calls": len(reached) < min_calls,
        "without_arrival": len(incidents) - len(reached),
    }


def _response(inc: Incident) -> float:
    assert inc.first_arrival_at is not None
    return (inc.first_arrival_at - inc.first_contact_at).total_seconds()


def _why_no_arrival(inc: Incident, end: datetime | None, given: frozenset[str] | None) -> str:
    """Why an incident has no response time, so it is listed rather than silently dropped."""
    if given is not None and "arrived" not in given:
        return "the imported source gives no arrival times"
    if not inc.units_sent:
        if inc.closed_at is not None:
            return f"closed before any unit was dispatched (outcome: {inc.outcome})"
        return "no unit dispatched" + (" by the end of the period" if end else " yet")
    sent = ", ".join(dict.fromkeys(inc.units_sent))
    acked = ", ".join(sorted(inc.acknowledged)) or "none"
    if inc.closed_at is not None:
        return (
            f"closed without a recorded arrival (outcome: {inc.outcome}); "
            f"sent {sent}, acknowledged {acked}"
        )
    return f"still open, no arrival recorded; sent {sent}, acknowledged {acked}"


def _incident_doc(inc: Incident, mine: list[Segment], zone: ZoneInfo) -> dict[str, Any]:
    first: dict[str, dict[str, Any]] = {}
    for s in sorted(mine, key=lambda s: s.start):
        first.setdefault(s.name, {"owner": s.owner, "seconds": s.seconds})
    response = _response(inc) if inc.first_arrival_at is not None else None
    return {
        "code": inc.code,
        "priority": inc.priority,
        "target_s": inc.target_s,
        "opened_by": inc.opened_by,
        "dispatched_by": inc.dispatched_by,
        "segments": first,
        "contact_to_dispatch_s": _secs(inc.first_contact_at, inc.dispatched_at),
        "response_s": response,
        "target_met": None if response is None else response <= inc.target_s,
        "outcome": inc.outcome,
        "timeline": [{**step, "at": _iso(step["at"], zone)} for step in inc.timeline],
    }


def _secs(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds()


def _few(n: int, min_calls: int) -> str:
    return f" (few calls: {n})" if n < min_calls else ""


def _suggestions(
    rec: Records, inside: Callable[[datetime], bool], min_calls: int
) -> dict[str, list[str]]:
    """Suggestions from each role's own segments; each names the figure that prompted it."""
    centre: dict[tuple[str, str], list[float]] = defaultdict(list)
    mine: dict[str, dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in rec.segments:
        if inside(s.start) and s.name in PERSON_SEGMENTS:
            centre[s.name, s.code].append(s.seconds)
            if s.owner:
                mine[s.owner][s.name, s.code].append(s.seconds)
    advice: dict[str, list[str]] = defaultdict(list)
    for name, groups in sorted(mine.items()):
        for (segment, code), times in sorted(groups.items()):
            typical = statistics.median(centre[segment, code])
            median = statistics.median(times)
            if median > max(1.5 * typical, typical + 60.0):
                advice[name].append(
                    f"slow {LABELS[segment]} on {code}: median {median:.0f} s against "
                    f"{typical:.0f} s for the centre{_few(len(times), min_calls)}"
                )
    by_person: dict[str, list[Any]] = defaultdict(list)
    accepted: dict[str, int] = defaultdict(int)
    for o in rec.overrides:
        if o.person and inside(o.at):
            by_person[o.person].append(o)
    for who, at in rec.accepted:
        accepted[who] += inside(at)
    for name, overrides in sorted(by_person.items()):
        dispatches = accepted[name] + len(overrides)
        if dispatches >= 3 and len(overrides) / dispatches > 0.3:
            advice[name].append(
                f"frequent overrides: {len(overrides)} of {dispatches} dispatches; "
                "review the reasons against the response plans"
            )
        costs = [o.eta_cost_s for o in overrides if o.reversed_after_s is None and o.eta_cost_s]
        if costs and statistics.fmean(costs) > 60.0:
            advice[name].append(
                f"like-for-like overrides cost {statistics.fmean(costs):.0f} s of ETA on "
                f"average{_few(len(costs), min_calls)}: check that the reasons justify the delay"
            )
        reversed_ = [o for o in overrides if o.reversed_after_s is not None]
        if reversed_:
            advice[name].append(
                f"{len(reversed_)} override(s) reversed within "
                f"{max(o.reversed_after_s for o in reversed_):.0f} s: talk through what "
                "changed the decision"
            )
    complaints: dict[str, int] = defaultdict(int)
    for charged, _incident, at in rec.complaints:
        if charged and inside(at):
            complaints[charged] += 1
    for name, n in sorted(complaints.items()):
        advice[name].append(
            f"{n} complaint(s) about contacts handled: go through the after-action "
            "timelines together"
        )
    return {name: notes for name, notes in sorted(advice.items())}


def _crew_suggestions(
    rec: Records, inside: Callable[[datetime], bool], min_calls: int
) -> dict[str, list[str]]:
    """For crews' own officers: a unit's turnout or on-scene median far above the fleet's
    (travel is left out: it is as much the roads as the crew)."""
    fleet: dict[str, list[float]] = defaultdict(list)
    mine: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in rec.segments:
        if inside(s.start) and s.name in ("turnout", "on_scene") and s.owner:
            fleet[s.name].append(s.seconds)
            mine[s.owner][s.name].append(s.seconds)
    advice: dict[str, list[str]] = {}
    for unit, groups in sorted(mine.items()):
        notes = []
        for segment, times in sorted(groups.items()):
            typical = statistics.median(fleet[segment])
            median = statistics.median(times)
            if median > max(1.5 * typical, typical + 60.0):
                notes.append(
                    f"slow {LABELS[segment]}: median {median:.0f} s against {typical:.0f} s "
                    f"for the fleet{_few(len(times), min_calls)}"
                )
        if notes:
            advice[unit] = notes
    return advice


def _sessions(
    rec: Records, inside: Callable[[datetime], bool], zone: ZoneInfo, min_calls: int
) -> list[dict[str, Any]]:
    """Coaching recorded in the period, and whether the figure coached moved afterwards
    (the colleague's own figure over the whole log, before against after the session)."""
    out = []
    for c in rec.coaching:
        assert c.at is not None
        if not inside(c.at):
            continue
        entry: dict[str, Any] = {
            "at": _iso(c.at, zone),
            "coach": c.coach,
            "colleague": c.colleague,
            "topic": c.topic,
            "figure": c.figure,
            "incidents": c.incidents,
            "follow_up": c.follow_up.isoformat() if c.follow_up else None,
            "before": None,
            "after": None,
            "moved": None,
        }
        if c.figure is not None:
            before, after = _figure_around(rec, c.colleague, c.figure, c.at, min_calls)
            entry["before"], entry["after"] = before, after
            entry["moved"] = _moved(before, after)
        out.append(entry)
    return out


def _figure_around(
    rec: Records, person: str, figure: str, at: datetime, min_calls: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    if figure == "override_rate":
        sides: list[dict[str, Any]] = []
        for after in (False, True):
            over = sum(1 for o in rec.overrides if o.person == person and (o.at > at) == after)
            total = over + sum(1 for who, t in rec.accepted if who == person and (t > at) == after)
            sides.append({"n": total, "value": _rate(over, total), "few_calls": total < min_calls})
        return sides[0], sides[1]
    owned = [s for s in rec.segments if s.name == figure and s.owner == person]
    b = stats([s.seconds for s in owned if s.start < at], min_calls)
    a = stats([s.seconds for s in owned if s.start > at], min_calls)
    return {**b, "value": b["median_s"]}, {**a, "value": a["median_s"]}


def _moved(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Lower is better for every coachable figure."""
    if after["value"] is None:
        return "no calls since"
    if before["value"] is None:
        return "no calls before"
    if after["value"] < before["value"]:
        word = "improved"
    elif after["value"] > before["value"]:
        word = "worsened"
    else:
        word = "unchanged"
    return word + (" (few calls)" if before["few_calls"] or after["few_calls"] else "")


PERSON_COLUMNS = {
    "calltaker": [
        ("contacts", "contacts_handled"),
        ("linked", "contacts_linked"),
        ("opened", "incidents_opened"),
        ("answer", "answer"),
        ("call handling", "call_handling"),
        ("complaints", "complaints_on_handled"),
    ],
    "dispatcher": [
        ("dispatches", "dispatches"),
        ("accepted", "accepted"),
        ("overridden", "overridden"),
        ("override rate", "override_rate"),
        ("reversed", "overrides_reversed"),
        ("override ETA cost", "override_eta_cost_s"),
        ("dispatch", "dispatch"),
        ("escalations", "escalations_made"),
    ],
}
"""Markdown columns per role: (heading, JSON field); the tests hold every field to a column."""


def review_markdown(review: dict[str, Any], *, timelines: int | None = None) -> str:
    """A supervisor's Markdown report carrying every figure of :func:`build_review`'s JSON
    (after-action timelines: the first ``timelines`` incidents, default all)."""
    period = review["period"]
    lines = [f"# Performance review, {_period_title(period)}", ""]
    if not review["dispatchers"] and not review["incidents"]:
        return "\n".join([*lines, "No activity in this period."]) + "\n"
    n = review["few_calls_below"]
    lines += [
        f"Times in {period['time_zone']}. Durations in seconds as mean / median / p90 (n); "
        f"`*` marks a figure resting on fewer than {n} calls. Each figure is charged only to "
        "the role that owns the segment: answer and call handling to call-takers, dispatch "
        "(incident opened → first unit assigned) to dispatchers, acknowledgement/turnout, "
        "travel and on scene to crews.",
        "",
    ]
    if review["imported"] is not None:
        lines += [
            "Imported, review-only log: the source gives "
            + ", ".join(review["imported"]["source_times"])
            + " times; segments needing other times are not measured (–).",
            "",
        ]
    lines += _centre_md(review["centre"])
    for role, title in (("calltaker", "Call-takers"), ("dispatcher", "Dispatchers")):
        lines += _people_md(title, role, review["dispatchers"], with_team=True)
    lines += _by_code_md(review["dispatchers"])
    lines += _overrides_md(review["overrides"], review["reversal_window_s"])
    teams: list[str] = []
    for role, title in (("calltaker", "call handling"), ("dispatcher", "dispatch")):
        teams += _people_md(f"Teams, {title}", role, review["teams"], with_team=False, level=3)
    lines += ["## Teams", "", *teams] if teams else []
    lines += _units_md(review["units"])
    lines += ["## Incidents without an arrival", ""]
    if not review["incidents_without_arrival"]:
        lines += ["Every incident of the period has a recorded arrival.", ""]
    lines += _without_arrival_md(review["incidents_without_arrival"])
    lines += ["", "## Coaching suggestions", ""]
    if not review["coaching"]:
        lines.append("Nothing stands out in this period.")
    for name, notes in review["coaching"].items():
        lines += [f"- **{name}**: " + "; ".join(notes)]
    if review["crew_suggestions"]:
        lines += ["", "Crews (for their officers):", ""]
    for unit, notes in review["crew_suggestions"].items():
        lines += [f"- **{unit}**: " + "; ".join(notes)]
    lines += ["", *_sessions_md(review["coaching_sessions"])]
    if review["refused_events"]:
        lines += [
            f"{review['refused_events']} event(s) were refused by the centre's state "
            "machine; their times still count.",
            "",
        ]
    lines += ["## After-action timelines", ""]
    shown = list(review["incidents"].items())[:timelines]
    if len(shown) < len(review["incidents"]):
        lines += [
            f"The first {len(shown)} of {len(review['incidents'])} incidents (all in JSON).",
            "",
        ]
    for iid, inc in shown:
        parts = ", ".join(
            f"{LABELS[k]} {v['seconds']:.0f} s ({v['owner'] or '–'})"
            for k, v in inc["segments"].items()
        )
        met = {True: "met", False: "missed", None: "not measured"}[inc["target_met"]]
        lines += [
            f"### {iid} ({inc['code']}, priority {inc['priority']})",
            "",
            f"Opened by {inc['opened_by'] or '–'}, dispatched by {inc['dispatched_by'] or '–'}. "
            f"Contact to dispatch {_s(inc['contact_to_dispatch_s'])}, response "
            f"{_s(inc['response_s'])} against a target of {inc['target_s']:.0f} s ({met}); "
            f"outcome: {inc['outcome'] or 'open'}.",
            "",
            f"Segments: {parts or 'none recorded'}.",
            "",
        ]
        for step in inc["timeline"]:
            extra = ", ".join(
                f"{k}={v}" for k, v in step.items() if k not in ("at", "type", "actor")
            )
            lines.append(f"- {step['at']} `{step['type']}` by {step['actor']} {extra}".rstrip())
        lines.append("")
    return "\n".join(lines) + "\n"


def _without_arrival_md(items: list[dict[str, Any]], *, listed: int = 10) -> list[str]:
    """One line each; a reason shared by more than ``listed`` incidents is one line (ids in
    the JSON)."""
    why: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        why[item["why"]].append(item)
    lines = []
    for reason, group in why.items():
        if len(group) > listed:
            lines.append(f"- {len(group)} incidents: {reason}")
            continue
        lines += [f"- {i['incident']} ({i['code']}): {reason}" for i in group]
    return lines


def _centre_md(c: dict[str, Any]) -> list[str]:
    comp = c["compliance"]
    lines = [
        "## Centre",
        "",
        f"{c['contacts']} contacts, {c['incidents']} incidents; targets met on "
        f"{c['target_met']} of {c['reached']} reached ("
        + ("–" if comp is None else f"{comp * 100:.0f} %")
        + ("*" if c["compliance_few_calls"] else "")
        + f"); {c['without_arrival']} without an arrival (listed below).",
        "",
        "| segment | owner | time |",
        "|---|---|---|",
    ]
    for name, st in c["segments"].items():
        lines.append(f"| {LABELS[name]} | {OWNERS[name]} | {_st(st)} |")
    return [*lines, ""]


def _people_md(
    title: str, role: str, people: dict[str, Any], *, with_team: bool, level: int = 2
) -> list[str]:
    rows = [(name, d) for name, d in people.items() if role in d["roles"]]
    if not rows:
        return []
    cols = PERSON_COLUMNS[role]
    head = ["person", "team"] if with_team else ["team"]
    lines = [
        f"{'#' * level} {title}",
        "",
        "| " + " | ".join(head + [h for h, _ in cols]) + " |",
        "|" + "---|" * (len(head) + len(cols)),
    ]
    for name, d in rows:
        cells = [name, d["team"]] if with_team else [name]
        cells += [_cell(d[key]) for _, key in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _by_code_md(people: dict[str, Any]) -> list[str]:
    lines = ["## By code", ""]
    for name, d in people.items():
        for seg in PERSON_SEGMENTS:
            for code, st in d[f"{seg}_by_code"].items():
                lines.append(f"- {name}, {LABELS[seg]}, {code}: {_st(st)}")
    return [*lines, ""] if len(lines) > 2 else []


def _overrides_md(overrides: list[dict[str, Any]], window: float) -> list[str]:
    if not overrides:
        return []
    lines = [
        "## Overrides",
        "",
        "ETA cost compares like for like: each replaced unit against the fastest unit sent "
        "instead that can fill the same slot, from the positions of that moment (negative = "
        f"faster). Reversed = a replaced unit was sent after all within {window:.0f} s.",
        "",
    ]
    for o in overrides:
        pairs = "; ".join(
            f"{p['by']} for {p['replaced']} ({p['capability']}) {p['eta_cost_s']:+.0f} s"
            for p in o["like_for_like"]
        )
        unfilled = ", ".join(f"{u['unit']} ({u['capability']})" for u in o["unfilled"])
        bits = [
            f"{o['at']} {o['incident']} by {o['by'] or '–'}: sent {', '.join(o['units'])}"
            + (f" instead of {', '.join(o['replaced'])}" if o["replaced"] else ""),
            f"reason: {o['reason']}",
            "ETA cost " + ("–" if o["eta_cost_s"] is None else f"{o['eta_cost_s']:+.0f} s"),
        ]
        bits += [f"like for like: {pairs}"] if pairs else []
        bits += [f"no sent unit can fill {unfilled}"] if unfilled else []
        bits += [f"added {', '.join(o['added'])}"] if o["added"] else []
        if o["reversed_after_s"] is not None:
            bits.append(f"**reversed** {o['reversed_after_s']:.0f} s later")
        lines.append("- " + "; ".join(bits))
    return [*lines, ""]


def _units_md(units: dict[str, Any]) -> list[str]:
    if not units:
        return []
    lines = [
        "## Units (crews)",
        "",
        "| unit | dispatches | " + " | ".join(LABELS[s] for s in UNIT_SEGMENTS) + " |",
        "|---|---|" + "---|" * len(UNIT_SEGMENTS),
    ]
    for unit, d in units.items():
        cells = [unit, str(d["dispatches"]), *(_st(d[s]) for s in UNIT_SEGMENTS)]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _sessions_md(sessions: list[dict[str, Any]]) -> list[str]:
    lines = ["## Coaching recorded", ""]
    if not sessions:
        return [*lines, "No coaching sessions recorded in this period.", ""]
    for s in sessions:
        text = (
            f"- {s['at']} {s['coach']} with {s['colleague']}: {s['topic']}"
            + (f" (incidents {', '.join(s['incidents'])})" if s["incidents"] else "")
            + (f"; follow up {s['follow_up']}" if s["follow_up"] else "")
        )
        if s["figure"] is not None:
            text += (
                f"; {s['figure']} before {_val(s['before'])}, after {_val(s['after'])}: "
                f"{s['moved']}"
            )
        lines.append(text)
    return [*lines, ""]


def _val(side: dict[str, Any]) -> str:
    value = side["value"]
    mark = "*" if side["few_calls"] else ""
    if value is None:
        return f"– (n={side['n']})"
    shown = f"{value * 100:.0f} %" if "mean_s" not in side else f"{value:.0f} s"
    return f"{shown} (n={side['n']}{mark})"


def _cell(v: Any) -> str:
    if isinstance(v, dict):
        return _st(v)
    if isinstance(v, float):
        return f"{v * 100:.0f} %"
    return "–" if v is None else str(v)


def _st(st: dict[str, Any]) -> str:
    if not st["n"]:
        return "–"
    mark = "*" if st["few_calls"] else ""
    return f"{st['mean_s']:.0f} / {st['median_s']:.0f} / {st['p90_s']:.0f} ({st['n']}{mark})"


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

"""Escalation rules: which open incidents must escalate now, and why.

Pure: reads the state (including the last recommendation) and the time, returns
``incident_escalated`` events for the engine to apply. At most one event per incident per
call, because one escalation changes the level the next rule sees; the engine calls again
until nothing fires. A rule fires at most once per incident and level (the state records
``(rule, level)`` in ``IncidentState.fired``): time-based rules re-escalate only after the level
moved, spaced by their ``seconds``; casualty rules on the code table's thresholds follow the
table's levels; the other condition rules (ETA, a fixed casualty threshold) fire once per
incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from planner.centre.codes import COMMAND_LEVELS, CodeTable, CommandLevel, IncidentCode
from planner.centre.config import EscalationConfig, EscalationRule
from planner.centre.events import IncidentEscalated
from planner.centre.state import CentreState, IncidentState
from planner.dispatch.domain import UnitStatus


def evaluate(
    state: CentreState, *, codes: CodeTable, config: EscalationConfig, now: datetime
) -> list[IncidentEscalated]:
    """The escalations due at ``now``: at most one per open incident, in rule order."""
    if not config.enabled or not config.rules or not state.incidents:
        return []
    unacknowledged = _oldest_unacknowledged(state)
    best_eta = _best_recommended_eta(state)
    events: list[IncidentEscalated] = []
    for incident in state.incidents.values():
        code = codes.get(incident.code)
        if code is None:
            continue
        for rule in config.rules:
            event = _fire(
                rule,
                incident,
                code,
                now=now,
                unacknowledged=unacknowledged.get(incident.id),
                best_eta=best_eta.get(incident.id),
            )
            if event is not None:
                events.append(event)
                break
    return events


def _fire(
    rule: EscalationRule,
    incident: IncidentState,
    code: IncidentCode,
    *,
    now: datetime,
    unacknowledged: tuple[str, datetime] | None,
    best_eta: float | None,
) -> IncidentEscalated | None:
    if rule.priorities is not None and incident.priority not in rule.priorities:
        return None
    if rule.up_to_level is not None and incident.level >= rule.up_to_level:
        return None
    if (rule.id, incident.level) in incident.fired:
        return None
    if _once_per_incident(rule) and any(name == rule.id for name, _ in incident.fired):
        return None
    cap = min(code.max_level, rule.up_to_level or code.max_level)
    level = min(incident.level + rule.raise_by, cap)
    major = rule.declare_major_incident
    cause = _cause(rule, incident, code, now=now, unacknowledged=unacknowledged, best_eta=best_eta)
    if rule.kind == "casualties_over" and rule.threshold is None and cause is not None:
        casualties = incident.casualties or 0
        level = max(incident.level, min(code.level_for_casualties(casualties), cap))
        major = major or code.is_major_incident(casualties)
        if level == incident.level and not (major and not incident.major_incident):
            return None
    if cause is None:
        return None
    named = [c for c in (rule.command_level, code.command_level(level)) if c is not None]
    command: CommandLevel | None = max(named, key=COMMAND_LEVELS.index) if named else None
    return IncidentEscalated(
        at=now,
        actor="system",
        incident_id=incident.id,
        level=level,
        cause=cause,
        rule=rule.id,
        from_level=incident.level,
        command_level=command,
        major_incident=True if major else None,
    )


def _cause(
    rule: EscalationRule,
    incident: IncidentState,
    code: IncidentCode,
    *,
    now: datetime,
    unacknowledged: tuple[str, datetime] | None,
    best_eta: float | None,
) -> str | None:
    """Why ``rule`` fires for ``incident`` now, or ``None`` if its condition does not hold."""
    if rule.kind == "unmet_for":
        return _unmet_cause(rule, incident, now=now)
    if rule.kind == "eta_beyond_target":
        return _eta_cause(rule, incident, code, best_eta=best_eta)
    if rule.kind == "casualties_over":
        return _casualty_cause(rule, incident, code)
    return _unacknowledged_cause(rule, incident, now=now, unacknowledged=unacknowledged)


def _unmet_cause(rule: EscalationRule, incident: IncidentState, *, now: datetime) -> str | None:
    """The requirement has been unmet for ``rule.seconds`` (counted from the last escalation)."""
    if incident.unmet_since is None:
        return None
    waited = _since(now, incident.unmet_since, incident.escalated_at)
    if rule.seconds is None or waited < rule.seconds:
        return None
    return f"requirement unmet for {waited:.0f} s (limit {rule.seconds:.0f} s)"


def _eta_cause(
    rule: EscalationRule, incident: IncidentState, code: IncidentCode, *, best_eta: float | None
) -> str | None:
    """Even the best recommended ETA is beyond the code's target times the rule's factor."""
    limit = code.target_s * rule.factor
    if best_eta is None or incident.first_arrival_at is not None or best_eta <= limit:
        return None
    return f"best ETA {best_eta:.0f} s beyond the target {code.target_s:.0f} s x {rule.factor:g}"


def _casualty_cause(
    rule: EscalationRule, incident: IncidentState, code: IncidentCode
) -> str | None:
    """More casualties than the rule's fixed threshold, or any count for the code's table."""
    casualties = incident.casualties
    if casualties is None:
        return None
    if rule.threshold is not None:
        return (
            f"{casualties} casualties over {rule.threshold}"
            if casualties > rule.threshold
            else None
        )
    return f"{casualties} casualties reach the {code.code} thresholds"


def _unacknowledged_cause(
    rule: EscalationRule,
    incident: IncidentState,
    *,
    now: datetime,
    unacknowledged: tuple[str, datetime] | None,
) -> str | None:
    """A dispatched unit has not acknowledged within ``rule.seconds``."""
    if unacknowledged is None:
        return None
    unit, dispatched_at = unacknowledged
    waited = _since(now, dispatched_at, incident.escalated_at)
    if rule.seconds is None or waited < rule.seconds:
        return None
    return (
        f"unit {unit} not acknowledged {waited:.0f} s after dispatch (limit {rule.seconds:.0f} s)"
    )


def _once_per_incident(rule: EscalationRule) -> bool:
    """Condition rules would otherwise climb every level at once: they fire once per incident.
    (Time rules are spaced by their ``seconds``; table casualty rules by the table's levels.)"""
    return rule.kind == "eta_beyond_target" or (
        rule.kind == "casualties_over" and rule.threshold is not None
    )


def _since(now: datetime, start: datetime, escalated_at: datetime | None) -> float:
    if escalated_at is not None and escalated_at > start:
        start = escalated_at
    return (now - start).total_seconds()


def _oldest_unacknowledged(state: CentreState) -> Mapping[str, tuple[str, datetime]]:
    """Per incident, the dispatched unit that has waited longest without acknowledging."""
    oldest: dict[str, tuple[str, datetime]] = {}
    for unit in state.units.values():
        if (
            unit.status != UnitStatus.DISPATCHED
            or unit.acknowledged
            or unit.incident is None
            or unit.dispatched_at is None
        ):
            continue
        current = oldest.get(unit.incident)
        if current is None or unit.dispatched_at < current[1]:
            oldest[unit.incident] = (unit.id, unit.dispatched_at)
    return oldest


def _best_recommended_eta(state: CentreState) -> Mapping[str, float]:
    best: dict[str, float] = {}
    if state.recommendation is None:
        return best
    for a in state.recommendation.assignments:
        if a.eta_s < best.get(a.incident, float("inf")):
            best[a.incident] = a.eta_s
    return best

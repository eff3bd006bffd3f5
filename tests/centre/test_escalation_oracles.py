"""Escalation choices on hand-worked cases: crow-fly ETAs at 50 km/h x 1.3 worked out by hand.

A degree of latitude is 111 195 m on the log's sphere; a unit 0.07° north of the incident is
7 784 m x 1.3 / 13.889 m/s = 728.6 s away, 0.065° is 676.5 s, 0.09° is 936.7 s.
CARDIAC_ARREST (target 420 s) needs ALS + BLS; the rule fires beyond 1.5 x 420 = 630 s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from planner.centre.codes import CodeTable
from planner.centre.config import EngineConfig, EscalationConfig, EscalationRule
from planner.centre.engine import Engine
from planner.centre.escalation import (
    _eta_cause,
    _fire,
    _oldest_unacknowledged,
    _unacknowledged_cause,
    _unmet_cause,
    evaluate,
)
from planner.centre.events import IncidentEscalated
from planner.centre.state import CentreState, IncidentState, UnitState
from planner.dispatch.domain import UnitStatus
from planner.network.geo import Location

CODES = CodeTable.load()
T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
LAT, LON = 40.2650, -76.8700


def _engine(*rules: EscalationRule) -> Engine:
    rule = EscalationRule(
        id="eta", kind="eta_beyond_target", factor=1.5, raise_by=0, command_level="bronze"
    )
    config = EngineConfig(escalation=EscalationConfig(rules=list(rules) or [rule]))
    return Engine(codes=CODES, config=config, clock=lambda: T0)


def _unit(uid: str, capability: str, north_deg: float) -> dict[str, Any]:
    return {
        "type": "unit_registered",
        "unit_id": uid,
        "capabilities": [capability],
        "home": {"lat": LAT + north_deg, "lon": LON},
    }


def _fired(outcome: Any) -> list[IncidentEscalated]:
    return [e for e in (outcome.event, *outcome.derived) if isinstance(e, IncidentEscalated)]


def _open(
    engine: Engine, code: str = "CARDIAC_ARREST", iid: str = "I1", **extra: Any
) -> list[IncidentEscalated]:
    event = {"type": "incident_opened", "incident_id": iid, "code": code}
    return _fired(engine.submit({**event, "location": {"lat": LAT, "lon": LON}, **extra}))


def test_eta_rule_reads_the_best_recommended_eta_not_the_worst() -> None:
    """ALS next door (0 s), BLS 676.5 s away: the best ETA meets 630 s, so nothing fires even
    though one recommended unit is late."""
    engine = _engine()
    engine.submit(_unit("M1", "ALS", 0.0))
    engine.submit(_unit("B1", "BLS", 0.065))
    assert _open(engine) == []
    etas = sorted(a.eta_s for a in engine.state.recommendation.assignments)  # type: ignore[union-attr]
    assert etas[0] == 0.0 and round(etas[1], 1) == 676.5


def test_eta_rule_fires_with_the_best_eta_in_its_cause() -> None:
    """ALS 728.6 s, BLS 936.7 s: the best (729 s) exceeds 630 s; the cause names 729, not 937."""
    engine = _engine()
    engine.submit(_unit("M1", "ALS", 0.07))
    engine.submit(_unit("B1", "BLS", 0.09))
    fired = _open(engine)
    assert [(e.rule, e.level, e.command_level) for e in fired] == [("eta", 1, "bronze")]
    assert fired[0].cause == "best ETA 729 s beyond the target 420 s x 1.5"

    assert fired[0].actor == "system" and fired[0].major_incident is None


def test_eta_limit_is_target_times_factor() -> None:
    """ALS 520.4 s (0.05°), BLS 624.5 s (0.06°): best 520 s is within 420 x 1.5 = 630 s (but not
    within 420 / 1.5 = 280 s): nothing fires."""
    engine = _engine()
    engine.submit(_unit("M1", "ALS", 0.05))
    engine.submit(_unit("B1", "BLS", 0.06))
    assert _open(engine) == []


def test_rule_priorities_and_level_cap_are_respected() -> None:
    """A rule for priority 1 only: a far P2 stroke (ALS 2081 s > 1.5 x 1080) stays quiet while a
    far P1 arrest fires; a rule capped at level 1 never fires on an incident at level 1."""
    only_p1 = EscalationRule(
        id="eta", kind="eta_beyond_target", factor=1.5, raise_by=1, priorities=[1]
    )
    engine = _engine(only_p1)
    engine.submit(_unit("M1", "ALS", 0.2))
    engine.submit(_unit("M2", "ALS", 0.2))
    engine.submit(_unit("B1", "BLS", 0.2))
    assert _open(engine, "STROKE", "S1") == []
    assert [(e.incident_id, e.from_level, e.level) for e in _open(engine)] == [("I1", 1, 2)]
    # an ETA rule fires once per incident, not again at each new level
    assert _fired(engine.submit(_unit("M3", "ALS", 0.3))) == []
    assert engine.state.incidents["I1"].level == 2
    capped = EscalationRule(
        id="eta", kind="eta_beyond_target", factor=1.5, raise_by=1, up_to_level=1
    )
    engine = _engine(capped)
    engine.submit(_unit("M1", "ALS", 0.2))
    engine.submit(_unit("B1", "BLS", 0.2))
    assert _open(engine) == []


def test_fixed_casualty_threshold_is_strictly_over() -> None:
    """``threshold: 5`` fires at 6 casualties, not at 5."""
    rule = EscalationRule(id="mass", kind="casualties_over", threshold=5, raise_by=1)
    engine = _engine(rule)
    assert _open(engine, "MASS_CASUALTY", methane={"casualties": 5}) == []
    update = {"type": "incident_updated", "incident_id": "I1"}
    fired = _fired(engine.submit({**update, "methane": {"casualties": 6}}))
    assert [(e.rule, e.cause) for e in fired] == [("mass", "6 casualties over 5")]


# The rule conditions on hand-made states (the split of ``_cause`` makes each one testable).

LOC = Location(LAT, LON)


def _incident(**fields: Any) -> IncidentState:
    base: dict[str, Any] = {
        "id": "I1",
        "code": "CARDIAC_ARREST",
        "priority": 1,
        "level": 1,
        "location": LOC,
        "opened_at": T0,
    }
    return IncidentState(**(base | fields))


def _dispatched(uid: str, at: datetime, **fields: Any) -> UnitState:
    base: dict[str, Any] = {
        "id": uid,
        "capabilities": frozenset({"ALS"}),
        "home": LOC,
        "location": LOC,
        "status": UnitStatus.DISPATCHED,
        "status_since": at,
        "incident": "I1",
        "dispatched_at": at,
    }
    return UnitState(**(base | fields))


def test_unmet_clock_counts_from_the_later_of_unmet_and_last_escalation() -> None:
    """Unmet since 12:00, escalated at 12:03:20, limit 300 s: quiet at 12:06:40 (200 s after the
    escalation), fires at 12:08:20 with exactly 300 s (the limit is reached, not exceeded)."""
    rule = EscalationRule(id="unmet", kind="unmet_for", seconds=300)
    escalated = _incident(unmet_since=T0, escalated_at=T0 + timedelta(seconds=200))
    assert _unmet_cause(rule, escalated, now=T0 + timedelta(seconds=400)) is None
    assert (
        _unmet_cause(rule, escalated, now=T0 + timedelta(seconds=500))
        == "requirement unmet for 300 s (limit 300 s)"
    )
    # an escalation before the requirement became unmet does not move the start
    early = _incident(unmet_since=T0, escalated_at=T0 - timedelta(seconds=60))
    assert _unmet_cause(rule, early, now=T0 + timedelta(seconds=299)) is None
    assert _unmet_cause(rule, early, now=T0 + timedelta(seconds=301)) == (
        "requirement unmet for 301 s (limit 300 s)"
    )
    assert _unmet_cause(rule, _incident(), now=T0 + timedelta(hours=1)) is None


def test_unacknowledged_cause_names_the_unit_and_its_wait() -> None:
    rule = EscalationRule(id="ack", kind="unacknowledged_for", seconds=60)
    incident = _incident()
    assert _unacknowledged_cause(rule, incident, now=T0, unacknowledged=None) is None
    waiting = ("M1", T0)
    assert (
        _unacknowledged_cause(
            rule, incident, now=T0 + timedelta(seconds=59), unacknowledged=waiting
        )
        is None
    )
    assert (
        _unacknowledged_cause(
            rule, incident, now=T0 + timedelta(seconds=60), unacknowledged=waiting
        )
        == "unit M1 not acknowledged 60 s after dispatch (limit 60 s)"
    )


def test_the_oldest_unacknowledged_unit_is_the_one_dispatched_first() -> None:
    """M2 (12:00:10) waited longer than M1 (12:00:40), whichever comes first; acknowledged M3
    (11:59), en-route M4 (11:58) and a unit without incident do not count."""
    units = [
        _dispatched("M2", T0 + timedelta(seconds=10)),
        _dispatched("M1", T0 + timedelta(seconds=40)),
        _dispatched("M3", T0 - timedelta(seconds=60), acknowledged=True),
        _dispatched("M4", T0 - timedelta(seconds=120), status=UnitStatus.EN_ROUTE),
        _dispatched("M5", T0 - timedelta(seconds=180), incident=None),
        _dispatched("M6", T0 + timedelta(seconds=20), incident="I2"),
    ]
    state = CentreState(units={u.id: u for u in units})
    assert dict(_oldest_unacknowledged(state)) == {
        "I1": ("M2", T0 + timedelta(seconds=10)),
        "I2": ("M6", T0 + timedelta(seconds=20)),
    }


def test_an_incident_whose_code_left_the_table_does_not_escalate() -> None:
    """An incident of a code the current table no longer has is skipped, not an error."""
    rule = EscalationRule(id="unmet", kind="unmet_for", seconds=1)
    config = EscalationConfig(rules=[rule])
    gone = _incident(id="I9", code="NO_SUCH_CODE", unmet_since=T0)
    known = _incident(unmet_since=T0)
    state = CentreState(incidents={"I9": gone, "I1": known})
    fired = evaluate(state, codes=CODES, config=config, now=T0 + timedelta(seconds=5))
    assert [(e.incident_id, e.cause) for e in fired] == [
        ("I1", "requirement unmet for 5 s (limit 1 s)")
    ]


def test_eta_cause_quiet_without_eta_after_arrival_and_at_the_limit() -> None:
    """CARDIAC_ARREST 420 s x 1.5 = 630 s: no recommendation, a unit already on scene, or a best
    ETA of exactly 630 s fire nothing; 631 s does."""
    rule = EscalationRule(id="eta", kind="eta_beyond_target", factor=1.5)
    code = CODES.get("CARDIAC_ARREST")
    assert code is not None
    arrived = _incident(first_arrival_at=T0)
    assert _eta_cause(rule, _incident(), code, best_eta=None) is None
    assert _eta_cause(rule, arrived, code, best_eta=1000.0) is None
    assert _eta_cause(rule, _incident(), code, best_eta=630.0) is None
    assert _eta_cause(rule, _incident(), code, best_eta=631.0) == (
        "best ETA 631 s beyond the target 420 s x 1.5"
    )


def test_no_casualties_do_not_reach_a_threshold_of_one() -> None:
    """A table raising to level 2 from 1 casualty: 0 casualties reported leave the level alone,
    1 raises it."""
    entry = {
        "label": "collapse", "service": "ambulance", "default_priority": 1, "target_s": 420,
        "levels": [{"ALS": 1}, {"ALS": 2}], "advice": ["wait"],
        "escalation": {"casualties_level2": 1},
    }  # fmt: skip
    table = CodeTable.from_data(
        {"version": 1, "capabilities": {"ALS": "ambulance"}, "codes": {"COLLAPSE": entry}}
    )
    code = table.get("COLLAPSE")
    assert code is not None
    rule = EscalationRule(id="table", kind="casualties_over")
    none = _incident(code="COLLAPSE", casualties=0)
    assert _fire(rule, none, code, now=T0, unacknowledged=None, best_eta=None) is None
    one = _fire(
        rule, _incident(code="COLLAPSE", casualties=1), code, now=T0, unacknowledged=None,
        best_eta=None,
    )  # fmt: skip
    assert one is not None and (one.from_level, one.level) == (1, 2)

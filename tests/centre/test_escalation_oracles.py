"""Escalation choices on hand-worked cases: crow-fly ETAs at 50 km/h x 1.3 worked out by hand.

A degree of latitude is 111 195 m on the log's sphere; a unit 0.07° north of the incident is
7 784 m x 1.3 / 13.889 m/s = 728.6 s away, 0.065° is 676.5 s, 0.09° is 936.7 s.
CARDIAC_ARREST (target 420 s) needs ALS + BLS; the rule fires beyond 1.5 x 420 = 630 s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from planner.centre.codes import CodeTable
from planner.centre.config import EngineConfig, EscalationConfig, EscalationRule
from planner.centre.engine import Engine
from planner.centre.events import IncidentEscalated

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

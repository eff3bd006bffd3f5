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


def _engine() -> Engine:
    rule = EscalationRule(
        id="eta", kind="eta_beyond_target", factor=1.5, raise_by=0, command_level="bronze"
    )
    config = EngineConfig(escalation=EscalationConfig(rules=[rule]))
    return Engine(codes=CODES, config=config, clock=lambda: T0)


def _unit(uid: str, capability: str, north_deg: float) -> dict[str, Any]:
    return {
        "type": "unit_registered",
        "unit_id": uid,
        "capabilities": [capability],
        "home": {"lat": LAT + north_deg, "lon": LON},
    }


def _open(engine: Engine) -> list[IncidentEscalated]:
    outcome = engine.submit(
        {
            "type": "incident_opened",
            "incident_id": "I1",
            "code": "CARDIAC_ARREST",
            "location": {"lat": LAT, "lon": LON},
        }
    )
    return [e for e in (outcome.event, *outcome.derived) if isinstance(e, IncidentEscalated)]


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

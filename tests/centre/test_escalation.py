"""Escalation rules fire at the right moment on a controllable clock, and never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from planner.centre.codes import CodeTable
from planner.centre.config import EngineConfig, EscalationConfig, EscalationRule
from planner.centre.engine import Engine
from planner.centre.events import IncidentEscalated

CODES = CodeTable.load()
T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
NEAR = {"lat": 40.2650, "lon": -76.8700}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        self.now = T0 + timedelta(seconds=seconds)
        return self.now


def make(*rules: EscalationRule) -> tuple[Engine, Clock]:
    clock = Clock()
    config = EngineConfig(escalation=EscalationConfig(rules=list(rules)))
    return Engine(codes=CODES, config=config, clock=clock), clock


def unit(uid: str, capability: str, lat: float = 40.27, lon: float = -76.88) -> dict[str, Any]:
    return {
        "type": "unit_registered",
        "unit_id": uid,
        "capabilities": [capability],
        "home": {"lat": lat, "lon": lon},
    }


def opened(iid: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"type": "incident_opened", "incident_id": iid, "code": code, "location": NEAR, **extra}


def escalations(outcomes: Any) -> list[IncidentEscalated]:
    events = []
    for o in outcomes:
        events += [e for e in (o.event, *o.derived) if isinstance(e, IncidentEscalated)]
    return events


def test_unmet_requirement_escalates_after_n_seconds_once() -> None:
    eng, clock = make(
        EscalationRule(
            id="unmet", kind="unmet_for", seconds=300, raise_by=0, command_level="silver"
        )
    )
    eng.submit(unit("E1", "ENGINE"))
    eng.submit(opened("I1", "STROKE"))  # needs ALS: nobody can go
    assert eng.state.incidents["I1"].unmet_since == T0
    assert eng.tick(clock.at(299)) == []
    fired = escalations(eng.tick(clock.at(300)))
    assert [(e.incident_id, e.rule, e.level, e.command_level) for e in fired] == [
        ("I1", "unmet", 1, "silver")
    ]
    assert "300 s" in fired[0].cause
    assert eng.tick(clock.at(3600)) == []
    assert eng.state.incidents["I1"].command_level == "silver"


def test_unmet_clock_stops_when_a_unit_becomes_free() -> None:
    eng, clock = make(EscalationRule(id="unmet", kind="unmet_for", seconds=300, raise_by=0))
    eng.submit(opened("I1", "STROKE"))
    clock.at(200)
    eng.submit(unit("M1", "ALS"))
    assert eng.state.incidents["I1"].unmet_since is None
    assert eng.tick(clock.at(1000)) == []


def test_unacknowledged_dispatch_re_escalates_like_an_on_call_chain() -> None:
    eng, clock = make(EscalationRule(id="unack", kind="unacknowledged_for", seconds=60, raise_by=1))
    eng.submit(unit("M1", "ALS"))
    eng.submit(opened("I1", "ROAD_TRAFFIC_COLLISION_INJURY"))  # three levels
    eng.submit({"type": "dispatch_accepted", "incident_id": "I1"})
    assert eng.tick(clock.at(59)) == []
    first = escalations(eng.tick(clock.at(60)))
    assert [(e.from_level, e.level) for e in first] == [(1, 2)]
    assert "unit M1 not acknowledged" in first[0].cause
    # the next link of the chain waits another 60 s from the escalation
    assert eng.tick(clock.at(119)) == []
    second = escalations(eng.tick(clock.at(120)))
    assert [(e.from_level, e.level) for e in second] == [(2, 3)]
    assert second[0].command_level == "silver"  # the code's level-3 command level
    third = escalations(eng.tick(clock.at(180)))
    assert [(e.from_level, e.level) for e in third] == [(3, 3)]  # last level: informs only
    assert eng.tick(clock.at(10_000)) == []
    eng.submit({"type": "unit_acknowledged", "unit_id": "M1"})
    assert eng.state.incidents["I1"].level == 3


def test_acknowledged_units_do_not_escalate() -> None:
    eng, clock = make(EscalationRule(id="unack", kind="unacknowledged_for", seconds=60))
    eng.submit(unit("M1", "ALS"))
    eng.submit(opened("I1", "STROKE"))
    eng.submit({"type": "dispatch_accepted", "incident_id": "I1"})
    clock.at(30)
    eng.submit({"type": "unit_acknowledged", "unit_id": "M1"})
    assert eng.tick(clock.at(600)) == []


def test_best_eta_beyond_target_fires_on_the_event_itself() -> None:
    eng, _ = make(
        EscalationRule(
            id="eta", kind="eta_beyond_target", factor=1.0, raise_by=0, command_level="bronze"
        )
    )
    eng.submit(unit("M1", "ALS", lat=40.60, lon=-76.88))  # ~37 km away: far beyond 7 min
    outcome = eng.submit(opened("I1", "CARDIAC_ARREST"))
    fired = escalations([outcome])
    assert [(e.rule, e.command_level) for e in fired] == [("eta", "bronze")]
    assert "beyond the target 420 s" in fired[0].cause
    # with units nearby the target is met and nothing fires
    eng2, _ = make(EscalationRule(id="eta", kind="eta_beyond_target", raise_by=0))
    eng2.submit(unit("M2", "ALS", lat=40.2651, lon=-76.8701))
    eng2.submit(unit("A2", "BLS", lat=40.2651, lon=-76.8701))
    assert escalations([eng2.submit(opened("I2", "CARDIAC_ARREST"))]) == []


def test_casualties_over_threshold_declares_a_major_incident_once() -> None:
    eng, _ = make(
        EscalationRule(
            id="mass",
            kind="casualties_over",
            threshold=5,
            raise_by=1,
            command_level="gold",
            declare_major_incident=True,
        )
    )
    eng.submit(opened("I1", "MASS_CASUALTY", methane={"casualties": 4}))
    assert eng.state.incidents["I1"].level == 1
    update = {"type": "incident_updated", "incident_id": "I1", "methane": {"casualties": 6}}
    fired = escalations([eng.submit(update)])
    assert [(e.level, e.command_level, e.major_incident) for e in fired] == [(2, "gold", True)]
    incident = eng.state.incidents["I1"]
    assert incident.major_incident and incident.command_level == "gold" and incident.level == 2
    # a fixed threshold fires once per incident, however the count grows
    assert escalations([eng.submit({**update, "methane": {"casualties": 9}})]) == []
    assert eng.state.incidents["I1"].level == 2


def test_casualty_thresholds_from_the_code_table() -> None:
    eng, _ = make(EscalationRule(id="casualties", kind="casualties_over"))
    eng.submit(opened("I1", "ROAD_TRAFFIC_COLLISION_INJURY", methane={"casualties": 2}))
    assert eng.state.incidents["I1"].level == 1
    update = {"type": "incident_updated", "incident_id": "I1"}
    three = escalations([eng.submit({**update, "methane": {"casualties": 3}})])
    assert [(e.from_level, e.level) for e in three] == [(1, 2)]
    ten = escalations([eng.submit({**update, "methane": {"casualties": 10}})])
    assert [(e.from_level, e.level, e.major_incident) for e in ten] == [(2, 3, True)]
    assert escalations([eng.submit({**update, "methane": {"casualties": 12}})]) == []


def test_closed_incidents_and_disabled_rules_do_not_escalate() -> None:
    eng, clock = make(EscalationRule(id="unmet", kind="unmet_for", seconds=60, raise_by=0))
    eng.submit(opened("I1", "STROKE"))
    eng.submit({"type": "incident_closed", "incident_id": "I1", "outcome": "cancelled"})
    assert eng.tick(clock.at(600)) == []
    clock2 = Clock()
    off = Engine(
        codes=CODES,
        config=EngineConfig(escalation=EscalationConfig(enabled=False)),
        clock=clock2,
    )
    off.submit(opened("I1", "STROKE"))
    assert off.tick(clock2.at(6000)) == []


def test_rule_configuration_is_validated() -> None:
    with pytest.raises(ValidationError, match="needs 'seconds'"):
        EscalationRule(id="x", kind="unmet_for")
    with pytest.raises(ValidationError, match="duplicate escalation rule id"):
        EscalationConfig(
            rules=[
                EscalationRule(id="x", kind="casualties_over"),
                EscalationRule(id="x", kind="casualties_over"),
            ]
        )

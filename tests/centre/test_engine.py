"""The live engine: re-solve after events, stability, pre-emption, replay, personal data."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.centre.codes import CodeTable
from planner.centre.config import EngineConfig, EscalationConfig, EscalationRule, SolverConfig
from planner.centre.engine import Engine, Outcome
from planner.centre.recommendations import plan_key
from planner.dispatch.domain import UnitStatus
from planner.errors import (
    ConflictError,
    InputError,
    InvalidTransitionError,
    NotFoundError,
    OutsideRegionError,
)
from planner.log.incident_log import IncidentLog
from planner.network.loader import load_region
from planner.network.region import Region

CODES = CodeTable.load()
T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
# Aguascalientes (tiny OSM extract): a few blocks around 21.869 N, -102.270 E
AGS = {"lat": 21.8690, "lon": -102.2700}


class Clock:
    """A controllable engine clock."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def unit(uid: str, capability: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "type": "unit_registered",
        "unit_id": uid,
        "capabilities": [capability],
        "home": {"lat": lat, "lon": lon},
    }


def incident(iid: str, code: str, lat: float, lon: float, **extra: Any) -> dict[str, Any]:
    return {
        "type": "incident_opened",
        "incident_id": iid,
        "code": code,
        "location": {"lat": lat, "lon": lon},
        **extra,
    }


def engine(config: EngineConfig | None = None, **kwargs: Any) -> tuple[Engine, Clock]:
    clock = Clock()
    no_rules = EngineConfig(escalation=EscalationConfig(enabled=False))
    return Engine(codes=CODES, config=config or no_rules, clock=clock, **kwargs), clock


def sent(outcome: Outcome | Engine) -> set[tuple[str, str]]:
    plan = outcome.plan
    return {(a.unit, a.incident) for a in plan.assignments} if plan else set()


def test_resolves_after_each_event_and_reports_changes() -> None:
    eng, clock = engine()
    eng.submit(unit("M1", "ALS", 40.27, -76.88))
    eng.submit(unit("A1", "BLS", 40.26, -76.86))
    clock.advance(60)
    opened = eng.submit(incident("I1", "CARDIAC_ARREST", 40.265, -76.87))
    assert sent(opened) == {("M1", "I1"), ("A1", "I1")}
    assert {a.unit for a in opened.changes.added} == {"M1", "A1"}
    assert [e.type for e in opened.derived] == ["recommendation_issued"]
    assert eng.state.recommendation is not None
    accepted = eng.submit({"type": "dispatch_accepted", "incident_id": "I1", "actor": "d:al"})
    assert accepted.event.units == ["M1", "A1"]  # type: ignore[union-attr]
    assert sent(accepted) == set()
    assert {a.unit for a in accepted.changes.removed} == {"M1", "A1"}
    assert {u.id for u in eng.state.units.values() if u.status == UnitStatus.DISPATCHED} == {
        "M1",
        "A1",
    }
    # the first event of the log configured the centre
    assert eng.version == accepted.version == accepted.seq + len(accepted.derived)
    assert eng.state.counts["centre_configured"] == 1


def test_events_that_cannot_change_the_plan_do_not_resolve() -> None:
    eng, _ = engine()
    eng.submit(unit("M1", "ALS", 40.27, -76.88))
    eng.submit(incident("I1", "STROKE", 40.265, -76.87))
    plan = eng.plan
    note = eng.submit({"type": "note_added", "incident_id": "I1", "text": "anxious"})
    assert note.plan is plan and note.derived == ()


def test_a_unit_event_names_the_incident_it_was_logged_under() -> None:
    with tempfile.TemporaryDirectory() as tmp, IncidentLog(f"sqlite:///{tmp}/log.db") as log:
        eng, _ = engine(log=log)
        eng.submit(unit("M1", "ALS", 40.27, -76.88))
        eng.submit(incident("I1", "STROKE", 40.265, -76.87))
        eng.submit({"type": "dispatch_accepted", "incident_id": "I1"})
        # released before arrival: the unit no longer has an incident, the event still concerns I1
        freed = eng.submit({"type": "unit_status_changed", "unit_id": "M1", "status": "available"})
        assert eng.state.units["M1"].incident is None
        assert freed.incident == "I1"
        assert log.entries(after_seq=freed.seq - 1, limit=1)[0].incident == "I1"


def test_stability_keeps_the_previous_recommendation_until_the_gain_is_worth_it() -> None:
    eng, _ = engine()
    eng.submit(unit("M1", "ALS", 40.2700, -76.8800))
    eng.submit(unit("M2", "ALS", 40.3000, -76.8800))
    eng.submit(incident("I1", "STROKE", 40.2600, -76.8800))
    assert sent(eng) == {("M1", "I1")}
    eta_m1 = eng.plan.assignments[0].eta_s  # type: ignore[union-attr]
    # M2 moves to ~25 s closer than M1: within the 60 s stability bonus, M1 stays
    nudged = eng.submit(
        {"type": "unit_moved", "unit_id": "M2", "location": {"lat": 40.2683, "lon": -76.8800}}
    )
    assert sent(nudged) == {("M1", "I1")} and nudged.derived == ()
    new_eta = nudged.plan.assignments[0].why.next_best_eta_s  # type: ignore[union-attr]
    assert new_eta is not None and eta_m1 - 60 < new_eta < eta_m1
    # M2 close by: worth switching, and the change is reported
    moved = eng.submit(
        {"type": "unit_moved", "unit_id": "M2", "location": {"lat": 40.2605, "lon": -76.8800}}
    )
    assert sent(moved) == {("M2", "I1")}
    assert [a.unit for a in moved.changes.added] == ["M2"]
    assert [a.unit for a in moved.changes.removed] == ["M1"]


@pytest.mark.parametrize("allow", [True, False])
def test_preemption_follows_the_configuration(allow: bool) -> None:
    config = EngineConfig(
        solver=SolverConfig(allow_preemption=allow, preemption_gap=2),
        escalation=EscalationConfig(enabled=False),
    )
    eng, _ = engine(config)
    eng.submit(unit("A1", "BLS", 40.27, -76.88))
    eng.submit(unit("M1", "ALS", 40.27, -76.87))
    eng.submit(incident("I1", "FALL", 40.30, -76.80))  # priority 3
    eng.submit({"type": "dispatch_accepted", "incident_id": "I1", "units": ["A1"]})
    outcome = eng.submit(incident("I2", "CARDIAC_ARREST", 40.268, -76.875))  # priority 1
    bls = [a for a in outcome.plan.assignments if a.capability == "BLS"]  # type: ignore[union-attr]
    if allow:
        assert [(a.unit, a.preempted_from) for a in bls] == [("A1", "I1")]
        accepted = eng.submit({"type": "dispatch_accepted", "incident_id": "I2"})
        assert eng.state.units["A1"].incident == "I2"
        assert any(u.incident == "I1" for u in accepted.plan.unmet)  # type: ignore[union-attr]
    else:
        assert bls == []
        assert any(
            u.incident == "I2" and u.capability == "BLS"
            for u in outcome.plan.unmet  # type: ignore[union-attr]
        )


def test_rejected_event_changes_nothing_and_logs_nothing(tmp_path: Path) -> None:
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}") as log:
        eng, _ = engine(log=log)
        eng.submit(unit("M1", "ALS", 40.27, -76.88))
        state, version, head = eng.state, eng.version, log.head()
        for bad, error, field, message in (
            ({"type": "unit_arrived", "unit_id": "M1"}, InvalidTransitionError, "unit_id",
             "unit 'M1' is available and was not dispatched"),
            ({"type": "unit_moved", "unit_id": "M404", "location": {"lat": 1, "lon": 1}},
             NotFoundError, "unit_id", "unknown unit 'M404'"),
            ({"type": "unit_moved", "unit_id": "M1", "location": {"lat": 100, "lon": 1}},
             InputError, "location.lat", "less than or equal to 90"),
            ({"type": "recommendation_issued", "status": "x", "policy": "x", "assignments": [],
              "unmet": [], "cost": 0}, InvalidTransitionError, "type",
             "recommendation_issued is emitted by the engine only"),
            ({"type": "no_such_event"}, InputError, "type", "unknown event type"),
        ):  # fmt: skip
            with pytest.raises(error, match=message) as info:
                eng.submit(bad)
            assert info.value.field == field
            assert eng.state is state and eng.version == version and log.head() == head
        with pytest.raises(ConflictError, match="the state is at version"):
            eng.submit({"type": "note_added", "incident_id": "x"}, expected_version=version - 1)


def test_personal_data_goes_to_the_log_personal_part_only(tmp_path: Path) -> None:
    secret_name, secret_text = "Dana Whitfield", "patient has HIV"
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}") as log:
        eng, _ = engine(log=log)
        received = eng.submit(
            {
                "type": "contact_received",
                "contact_id": "C1",
                "channel": "phone",
                "caller_name": secret_name,
                "caller_phone": "+1 717 555 0101",
            }
        )
        opened = eng.submit(
            incident(
                "I1",
                "FALL",
                40.26,
                -76.86,
                contact_id="C1",
                details=secret_text,
                methane={"exact_location": "flat 3", "casualties": 1},
            )
        )
        assert received.event.caller_name is None  # type: ignore[union-attr]
        assert opened.event.methane.exact_location is None  # type: ignore[union-attr]
        assert opened.event.methane.casualties == 1  # type: ignore[union-attr]
        everything = json.dumps([e.payload for e in log.entries()])
        assert secret_name not in everything and secret_text not in everything
        assert secret_name not in repr(eng.state) and secret_text not in repr(eng.state)
        private = log.read_personal(opened.seq, reader="test:auditor", purpose="test")
        assert private == {"details": secret_text, "methane": {"exact_location": "flat 3"}}
        # the audited read moved the log head; the engine steps over its own audit entries
        after = eng.submit({"type": "note_added", "incident_id": "I1"})
        assert after.seq == log.head()


def test_subscribers_see_every_outcome_until_they_unsubscribe() -> None:
    eng, _ = engine()
    seen: list[Outcome] = []
    unsubscribe = eng.subscribe(seen.append)
    eng.submit(unit("M1", "ALS", 40.27, -76.88))
    unsubscribe()
    eng.submit(unit("M2", "ALS", 40.27, -76.88))
    assert [o.event.type for o in seen] == ["unit_registered"]


@pytest.fixture(scope="module")
def ags_region() -> Iterator[Region]:
    region = load_region("aguascalientes", fresh=True)
    yield region
    for closure_id in list(region.closures):
        region.lift_closure(closure_id)


def test_region_refuses_points_off_the_map(ags_region: Region) -> None:
    eng, _ = engine(region=ags_region)
    eng.submit(unit("M1", "ALS", AGS["lat"], AGS["lon"]))
    with pytest.raises(OutsideRegionError) as info:
        eng.submit(incident("I1", "STROKE", 40.26, -76.86))
    assert info.value.field == "location"
    assert "I1" not in eng.state.incidents


def test_closure_changes_etas_and_lifting_restores_them(ags_region: Region) -> None:
    eng, _ = engine(region=ags_region)
    eng.submit(unit("M1", "ALS", 21.8620, -102.2800))
    before = eng.submit(incident("I1", "STROKE", 21.8728, -102.2640))
    eta = before.plan.assignments[0].eta_s  # type: ignore[union-attr]
    eng.submit(
        {
            "type": "road_closure_on",
            "closure_id": "RC1",
            "centre": {"lat": 21.8690, "lon": -102.2700},
            "radius_m": 250,
            "factor": 5.0,
        }
    )
    slowed = eng.plan.assignments[0].eta_s  # type: ignore[union-attr]
    assert slowed > eta
    eng.submit({"type": "road_closure_off", "closure_id": "RC1"})
    assert eng.plan.assignments[0].eta_s == pytest.approx(eta)  # type: ignore[union-attr]


def test_a_slow_down_that_keeps_the_units_reissues_the_recommendation_with_new_etas(
    ags_region: Region,
) -> None:
    # Same unit before and after (the only one): only its ETA changes, and the recommendation
    # the API serves (the logged one) must carry the slowed ETA, not the old one.
    eng, _ = engine(region=ags_region)
    eng.submit(unit("M1", "ALS", 21.8620, -102.2800))
    eng.submit(incident("I1", "STROKE", 21.8728, -102.2640))
    issued = eng.state.counts["recommendation_issued"]
    before = eng.state.recommendation.assignments[0].eta_s  # type: ignore[union-attr]
    eng.submit({"type": "road_closure_on", "closure_id": "RC1", "centre": AGS, "radius_m": 250,
                "factor": 5.0})  # fmt: skip
    assert eng.state.counts["recommendation_issued"] == issued + 1
    logged = eng.state.recommendation.assignments[0]  # type: ignore[union-attr]
    assert logged.unit == "M1"
    assert logged.eta_s == pytest.approx(eng.plan.assignments[0].eta_s)  # type: ignore[union-attr]
    assert logged.eta_s > before
    # Lifting it gives the old ETAs back, in a recommendation again.
    eng.submit({"type": "road_closure_off", "closure_id": "RC1"})
    assert eng.state.counts["recommendation_issued"] == issued + 2
    assert eng.state.recommendation.assignments[0].eta_s == pytest.approx(before)  # type: ignore[union-attr]


def shift(eng: Engine, clock: Clock) -> None:
    """A short shift with a duplicate caller, escalations, an override and a closure."""
    p = {"lat": 21.8700, "lon": -102.2680}
    eng.submit(unit("M1", "ALS", 21.8620, -102.2800))
    eng.submit(unit("M2", "ALS", 21.8728, -102.2640))
    eng.submit(unit("A1", "BLS", 21.8650, -102.2650))
    eng.submit(unit("S1", "SUPERVISOR", 21.8700, -102.2750))
    eng.submit({"type": "contact_received", "contact_id": "C1", "channel": "phone",
                "caller_name": "Ana"})  # fmt: skip
    clock.advance(30)
    eng.submit(
        incident("I1", "ROAD_TRAFFIC_COLLISION_INJURY", p["lat"], p["lon"], contact_id="C1",
                 methane={"casualties": 1})
    )  # fmt: skip
    eng.submit({"type": "dispatch_accepted", "incident_id": "I1"})
    eng.submit({"type": "contact_received", "contact_id": "C2", "channel": "sms"})
    eng.submit({"type": "contact_linked", "contact_id": "C2", "incident_id": "I1"})
    clock.advance(60)
    eng.submit({"type": "incident_updated", "incident_id": "I1", "methane": {"casualties": 4}})
    eng.submit({"type": "road_closure_on", "closure_id": "RC1", "centre": p, "radius_m": 120,
                "factor": 3.0})  # fmt: skip
    clock.advance(200)
    eng.tick()
    eng.submit(unit("A2", "BLS", 21.8650, -102.2780))
    eng.submit({"type": "dispatch_overridden", "incident_id": "I1", "units": ["A2"],
                "reason": "crew already nearby", "instead_of": []})  # fmt: skip
    eng.submit(incident("I2", "STROKE", 21.8650, -102.2780))
    clock.advance(400)
    eng.tick()
    eng.submit({"type": "road_closure_off", "closure_id": "RC1"})
    eng.submit({"type": "complaint_recorded", "incident_id": "I1", "category": "delay"})


def test_replay_rebuilds_the_same_state_and_recommendations(
    tmp_path: Path, ags_region: Region
) -> None:
    config = EngineConfig(
        solver=SolverConfig(allow_preemption=True),
        escalation=EscalationConfig(
            rules=[
                EscalationRule(id="casualties", kind="casualties_over", command_level="silver"),
                EscalationRule(id="unmet", kind="unmet_for", seconds=120, raise_by=0,
                               command_level="gold"),
                EscalationRule(id="unack", kind="unacknowledged_for", seconds=90, raise_by=1),
            ]
        ),
    )  # fmt: skip
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    with IncidentLog(url) as log:
        live, clock = engine(config, region=ags_region, log=log)
        shift(live, clock)
        assert live.state.counts["incident_escalated"] >= 2
        assert live.state.counts["recommendation_issued"] >= 3
        for closure_id in list(ags_region.closures):
            ags_region.lift_closure(closure_id)
        replayed = Engine.replay(log, codes=CODES, region=load_region("aguascalientes", fresh=True))
        fast = Engine.replay(log, codes=CODES, resolve=False)
        assert log.verify().ok
    assert replayed.state == live.state
    assert plan_key(replayed.plan) == plan_key(live.plan)
    assert fast.state == live.state and plan_key(fast.plan) == plan_key(live.plan)
    assert replayed.version == live.version
    assert replayed.config == live.config


def test_in_memory_and_crow_fly_replay_agree(tmp_path: Path) -> None:
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}") as log:
        live, clock = engine(log=log)
        for i in range(6):
            live.submit(unit(f"M{i}", "ALS", 40.25 + i * 0.01, -76.85))
        for i in range(4):
            clock.advance(45)
            live.submit(incident(f"I{i}", "CHEST_PAIN", 40.26 + i * 0.01, -76.86))
            live.submit({"type": "dispatch_accepted", "incident_id": f"I{i}"})
        replayed = Engine.replay(log, codes=CODES)
    assert replayed.state == live.state and plan_key(replayed.plan) == plan_key(live.plan)


def test_engine_refuses_a_log_that_already_has_events(tmp_path: Path) -> None:
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}") as log:
        eng, _ = engine(log=log)
        eng.submit(unit("M1", "ALS", 40.27, -76.88))
        with pytest.raises(InputError, match=r"the log already holds events") as info:
            Engine(codes=CODES, log=log)
        assert info.value.field == "log"
        again = Engine.replay(log, codes=CODES)
        outcome = again.submit(unit("M2", "ALS", 40.27, -76.88))
        assert outcome.seq == log.head()


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.sampled_from(["STROKE", "FALL", "CARDIAC_ARREST"]),
                  st.integers(0, 5)),
        st.tuples(st.just("accept"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("ack"), st.sampled_from(["M1", "M2", "A1"]), st.just(0)),
        st.tuples(st.just("arrive"), st.sampled_from(["M1", "M2", "A1"]), st.just(0)),
        st.tuples(st.just("close"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("wait"), st.integers(1, 400), st.just(0)),
        st.tuples(st.just("casualties"), st.integers(0, 5), st.integers(0, 12)),
    ),
    max_size=25,
)  # fmt: skip


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ACTIONS)
def test_replay_equals_live_for_any_event_sequence(actions: list[tuple[str, Any, int]]) -> None:
    config = EngineConfig(
        solver=SolverConfig(allow_preemption=True),
        escalation=EscalationConfig(
            rules=[
                EscalationRule(id="casualties", kind="casualties_over"),
                EscalationRule(id="unmet", kind="unmet_for", seconds=300, raise_by=1),
                EscalationRule(id="unack", kind="unacknowledged_for", seconds=120),
            ]
        ),
    )
    with tempfile.TemporaryDirectory() as tmp, IncidentLog(f"sqlite:///{tmp}/log.sqlite") as log:
        live, clock = engine(config, log=log)
        live.submit(unit("M1", "ALS", 40.27, -76.88))
        live.submit(unit("M2", "ALS", 40.29, -76.84))
        live.submit(unit("A1", "BLS", 40.25, -76.86))
        for kind, a, b in actions:
            event: dict[str, Any]
            if kind == "wait":
                clock.advance(a)
                live.tick()
                continue
            if kind == "open":
                event = incident(f"I{b}", a, 40.26 + b / 200, -76.87)
            elif kind == "accept":
                event = {"type": "dispatch_accepted", "incident_id": f"I{a}"}
            elif kind == "ack":
                event = {"type": "unit_acknowledged", "unit_id": a}
            elif kind == "arrive":
                event = {"type": "unit_arrived", "unit_id": a}
            elif kind == "close":
                event = {"type": "incident_closed", "incident_id": f"I{a}", "outcome": "x"}
            else:
                event = {"type": "incident_updated", "incident_id": f"I{a}",
                         "methane": {"casualties": b}}  # fmt: skip
            with contextlib.suppress(InvalidTransitionError, InputError):
                live.submit(event)
        replayed = Engine.replay(log, codes=CODES)
    assert replayed.state == live.state
    assert plan_key(replayed.plan) == plan_key(live.plan)


def test_an_alert_is_acknowledged_once_with_who_and_when_and_forgotten_at_close() -> None:
    eng, clock = engine()
    eng.submit(unit("M1", "ALS", 40.27, -76.88))
    eng.submit(incident("I1", "STROKE", 40.26, -76.86))
    clock.advance(42)
    ack = {"type": "alert_acknowledged", "alert_id": "unmet:I1:ALS", "kind": "unmet",
           "incident_id": "I1", "actor": "alice"}  # fmt: skip
    eng.submit(ack)
    taken = eng.state.alerts_acknowledged["unmet:I1:ALS"]
    assert (taken.actor, taken.at, taken.incident) == ("alice", clock.now, "I1")
    with pytest.raises(InvalidTransitionError, match="acknowledged by alice") as info:
        eng.submit({**ack, "actor": "bob"})
    assert info.value.field == "alert_id"
    with pytest.raises(InvalidTransitionError, match="no open incident 'I9'"):
        eng.submit({**ack, "alert_id": "unmet:I9:ALS", "incident_id": "I9"})
    eng.submit({"type": "incident_closed", "incident_id": "I1", "outcome": "resolved"})
    assert eng.state.alerts_acknowledged == {}

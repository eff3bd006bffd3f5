"""Live move-up recommendations on a hand-worked line of five points.

Points 0..4 lie on a line, 300 s apart; demand is uniform (0.2 each); the cover time is 300 s,
so a unit covers its own point and its neighbours; the busy fraction is q = 0.5. With free
units covering point j k_j times, expected coverage is Σ 0.2·(1 - 0.5^k_j).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.centre.config import EngineConfig, EscalationConfig, RelocationConfig, SolverConfig
from planner.centre.engine import Engine, ReplayMismatchError
from planner.centre.events import RelocationRecommended
from planner.dispatch.coverage import CoverageModel
from planner.dispatch.domain import UnitStatus
from planner.errors import InputError, InvalidTransitionError
from planner.log.incident_log import IncidentLog
from planner.network.matrix_region import MatrixRegion
from tests.centre.test_engine import CODES, Clock

N = 5


def _region() -> MatrixRegion:
    pos = np.arange(N, dtype=np.float64)
    return MatrixRegion(
        name="line",
        point_ids=[str(i) for i in range(N)],
        lonlat=np.column_stack([5.0 + 0.01 * pos, np.full(N, 52.0)]),
        seconds=300.0 * np.abs(pos[:, None] - pos[None, :]),
    )


def _model(region: MatrixRegion, weights: list[float] | None = None) -> CoverageModel:
    return CoverageModel(
        region=region,
        demand_nodes=np.arange(N, dtype=np.int64),
        demand_weights=np.ones(N) if weights is None else np.array(weights),
        target_s=300.0,
        busy_fraction=0.5,
    )


def _point(i: int) -> dict[str, float]:
    return {"lat": 52.0, "lon": 5.0 + 0.01 * i}


def _unit(uid: str, station: str, i: int, *, off: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "unit_registered",
        "unit_id": uid,
        "capabilities": ["ALS"],
        "station": station,
        "home": _point(i),
    }
    if off:
        event["status"] = "out_of_service"
    return event


def _status(uid: str, status: str) -> dict[str, Any]:
    return {"type": "unit_status_changed", "unit_id": uid, "status": status}


def _engine(
    policy: str = "coverage+dmexclp", *, log: IncidentLog | None = None, **limits: Any
) -> tuple[Engine, Clock]:
    region = _region()
    config = EngineConfig(
        solver=SolverConfig(policy=policy),
        escalation=EscalationConfig(enabled=False),
        relocation=RelocationConfig(**{"interval_s": 600.0, **limits}),
    )
    clock = Clock()
    live = Engine(
        codes=CODES, region=region, config=config, clock=clock, coverage=_model(region), log=log
    )
    return live, clock


def _freed_b(live: Engine, clock: Clock) -> RelocationRecommended:
    """A and B wait at S0 (point 0), C at S4, D (S2) is off duty; B serves a call at point 1
    and becomes free there when it is closed."""
    for event in (_unit("A", "S0", 0), _unit("B", "S0", 0), _unit("C", "S4", 4)):
        live.submit(event)
    live.submit(_unit("D", "S2", 2, off=True))
    live.submit(
        {"type": "incident_opened", "incident_id": "I1", "code": "CHOKING", "location": _point(1)}
    )
    live.submit(
        {"type": "dispatch_overridden", "incident_id": "I1", "units": ["B"], "reason": "test"}
    )
    live.submit(_status("B", "on_scene"))
    clock.advance(60)
    outcome = live.submit({"type": "incident_closed", "incident_id": "I1", "outcome": "treated"})
    advice = [e for e in outcome.derived if isinstance(e, RelocationRecommended)]
    assert len(advice) == 1
    return advice[0]


def _moves(advice: RelocationRecommended) -> list[tuple[str, str | None, str]]:
    return [(m.unit, m.from_station, m.to_station) for m in advice.moves]


@pytest.mark.parametrize("policy", ["coverage+dmexclp", "closest_idle+mip"])
def test_a_freed_unit_is_recommended_to_the_station_that_adds_most(policy: str) -> None:
    """Others free: A at 0, C at 4 (k = 1, 1, 0, 1, 1). One more unit adds 0.1 at S0, 0.2 at
    S2, 0.1 at S4 (full): B goes to S2 instead of back to S0, coverage 0.5 -> 0.6."""
    live, clock = _engine(policy)
    advice = _freed_b(live, clock)
    assert advice.trigger == "unit_freed" and advice.units_freed == ["B"]
    assert _moves(advice) == [("B", "S0", "S2")]
    (move,) = advice.moves
    assert move.freed and move.drive_s == pytest.approx(300.0)
    assert move.coverage_gain == pytest.approx(0.1)
    assert (advice.coverage_now, advice.coverage_after) == pytest.approx((0.5, 0.6))
    assert advice.busy_fraction == pytest.approx(0.5)
    assert move.explanation == (
        "move B to S2 instead of S0: +10.0 % expected coverage of priority-1 demand (5 min drive)"
    )
    assert set(live.state.relocations) == {"B"}


def test_accepted_relocation_keeps_the_unit_dispatchable_until_it_arrives() -> None:
    live, clock = _engine()
    _freed_b(live, clock)
    clock.advance(10)
    outcome = live.submit({"type": "relocation_accepted", "unit_id": "B", "actor": "dispatcher:a"})
    assert outcome.event.to_station == "S2"  # type: ignore[union-attr]  # filled in from the advice
    b = live.state.units["B"]
    assert (b.status, b.relocating_to, b.waits_at, b.moves) == ("available", "S2", "S2", 0)
    assert b.location.lon == pytest.approx(5.01)  # still where it became free
    assert live.state.relocations == {}
    # A call at point 1, where B is: A (300 s, loses 0.10) is sent rather than B (0 s, loses
    # 0.20: points 0 and 1 drop to one unit, point 2 to none), and the note says why.
    live.submit(
        {"type": "incident_opened", "incident_id": "I2", "code": "CHOKING", "location": _point(1)}
    )
    assert live.plan is not None
    (assignment,) = live.plan.assignments
    assert assignment.unit == "A"
    assert assignment.why.notes[0] == (
        "kept B to cover S2: \u221220.0 % expected coverage if sent (A: \u221210.0 %)"
    )
    live.submit({"type": "unit_moved", "unit_id": "B", "location": _point(2)})
    b = live.state.units["B"]
    assert (b.base, b.relocating_to, b.status) == ("S2", None, "available")


def test_a_relocating_unit_that_is_dispatched_gives_the_move_up() -> None:
    live, clock = _engine()
    _freed_b(live, clock)
    live.submit({"type": "relocation_accepted", "unit_id": "B"})
    live.submit(
        {"type": "incident_opened", "incident_id": "I2", "code": "CHOKING", "location": _point(1)}
    )
    live.submit(
        {"type": "dispatch_overridden", "incident_id": "I2", "units": ["B"], "reason": "closest"}
    )
    b = live.state.units["B"]
    assert (b.status, b.relocating_to, b.waits_at) == ("dispatched", None, "S0")


def test_accept_and_decline_are_checked_against_the_advice() -> None:
    live, clock = _engine()
    _freed_b(live, clock)
    with pytest.raises(InvalidTransitionError, match="recommended to 'S2', not 'S4'") as err:
        live.submit({"type": "relocation_accepted", "unit_id": "B", "to_station": "S4"})
    assert err.value.field == "to_station"
    with pytest.raises(InvalidTransitionError, match="no relocation of unit 'A'") as err:
        live.submit({"type": "relocation_declined", "unit_id": "A"})
    assert err.value.field == "unit_id"
    with pytest.raises(InvalidTransitionError, match="emitted by the engine only") as err:
        live.submit(
            {
                "type": "relocation_recommended",
                "policy": "x",
                "trigger": "timer",
                "moves": [],
                "coverage_now": 0,
                "coverage_after": 0,
                "busy_fraction": 0.5,
            }
        )
    assert err.value.field == "type"
    live.submit({"type": "relocation_declined", "unit_id": "B", "reason": "crew meal break"})
    assert live.state.units["B"].declined and live.state.relocations == {}
    advice = _timer(live, clock)  # B declined: A, also at S0, is proposed for S2 instead
    assert advice is not None and _moves(advice) == [("A", "S0", "S2")]


def _three_at_s0(**limits: Any) -> tuple[Engine, Clock]:
    """A, B, E wait at S0 (capacity 3); S2 (D) and S4 (F) are empty: k = (3, 3, 0, 0, 0)."""
    live, clock = _engine(**limits)
    for uid in ("A", "B", "E"):
        live.submit(_unit(uid, "S0", 0))
    live.submit(_unit("D", "S2", 2, off=True))
    live.submit(_unit("F", "S4", 4, off=True))
    return live, clock


def _timer(live: Engine, clock: Clock) -> RelocationRecommended | None:
    clock.advance(601)
    outcomes = live.tick()
    advice = [e for o in outcomes for e in (o.event, *o.derived)]
    found = [e for e in advice if isinstance(e, RelocationRecommended)]
    return found[-1] if found else None


def test_timer_moves_idle_units_one_at_a_time_within_the_limits() -> None:
    """First move: S2 adds 0.225 vs 0.05 for staying (A, by id); then B to S4 adds 0.15 vs
    0.075. Coverage 0.35 -> 0.6; each move's gain is over it staying: 0.1 and 0.075."""
    live, clock = _three_at_s0()
    advice = _timer(live, clock)
    assert advice is not None and advice.trigger == "timer"
    assert _moves(advice) == [("A", "S0", "S2"), ("B", "S0", "S4")]
    assert [m.coverage_gain for m in advice.moves] == pytest.approx([0.1, 0.075])
    assert [m.drive_s for m in advice.moves] == [600.0, 1200.0]
    assert (advice.coverage_now, advice.coverage_after) == pytest.approx((0.35, 0.6))
    assert _timer(live, clock) is None  # the same advice: nothing new is logged
    live.submit({"type": "relocation_accepted", "unit_id": "B"})
    assert live.state.units["B"].moves == 1  # an idle move counts against the shift


@pytest.mark.parametrize("policy", ["coverage+dmexclp", "optimal+mip"])
@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"max_moves": 1}, {"S2"}),
        ({"max_drive_s": 1000.0}, {"S2"}),
        ({"max_moves_per_unit": 0}, set()),
        ({"max_moves": 0}, set()),
        ({}, {"S2", "S4"}),
    ],
)
def test_move_up_limits_are_honoured(
    policy: str, limits: dict[str, Any], expected: set[str]
) -> None:
    """Moves per decision, drive per move (S4 is 1200 s away) and moves per unit per shift."""
    live, clock = _three_at_s0(**limits)
    advice = _timer(live, clock)
    got = set() if advice is None else {m.to_station for m in advice.moves}
    assert got == expected
    if advice is not None:
        assert all(not m.freed for m in advice.moves)
        assert all(m.drive_s <= limits.get("max_drive_s", 1200.0) for m in advice.moves)


def test_a_freed_unit_moves_even_when_idle_moves_are_used_up() -> None:
    live, clock = _engine(max_moves_per_unit=0, max_moves=0)
    assert _moves(_freed_b(live, clock)) == [("B", "S0", "S2")]


def test_moves_per_unit_are_counted_per_shift() -> None:
    live, clock = _three_at_s0(max_moves_per_unit=1)
    _timer(live, clock)
    live.submit({"type": "relocation_accepted", "unit_id": "A"})
    live.submit({"type": "unit_moved", "unit_id": "A", "location": _point(2)})
    assert live.state.units["A"].moves == 1
    live.submit(_status("A", "out_of_service"))
    assert live.state.units["A"].moves == 0


def test_declined_units_are_not_proposed_again_until_their_status_changes() -> None:
    live, clock = _three_at_s0()
    _timer(live, clock)
    live.submit({"type": "relocation_declined", "unit_id": "A", "reason": "handover at S0"})
    advice = _timer(live, clock)
    assert advice is not None
    assert "A" not in {m.unit for m in advice.moves}
    assert _moves(advice) == [("B", "S0", "S2"), ("E", "S0", "S4")]


def test_no_relocation_part_means_no_advice() -> None:
    live, clock = _engine("coverage")
    for event in (_unit("A", "S0", 0), _unit("B", "S0", 0)):
        live.submit(event)
    clock.advance(700)
    assert live.tick() == []
    assert live.state.relocation is None


def _shift(live: Engine, clock: Clock) -> None:
    _freed_b(live, clock)
    live.submit({"type": "relocation_accepted", "unit_id": "B", "actor": "dispatcher:a"})
    live.submit({"type": "unit_moved", "unit_id": "B", "location": _point(2)})
    live.submit(_unit("E", "S0", 0))
    live.submit(_status("C", "out_of_service"))
    first = _timer(live, clock)  # S4 is empty now: A (by id) or E may cover it
    assert first is not None and [m.to_station for m in first.moves] == ["S4"]
    live.submit({"type": "relocation_declined", "unit_id": first.moves[0].unit, "reason": "fuel"})
    second = _timer(live, clock)  # the declined unit stays; another covers S4
    assert second is not None and "S4" in {m.to_station for m in second.moves}
    assert first.moves[0].unit not in {m.unit for m in second.moves}


@pytest.mark.parametrize("policy", ["coverage+dmexclp", "coverage+mip"])
def test_replay_recomputes_every_logged_relocation(tmp_path: Path, policy: str) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    with IncidentLog(url) as log:
        live, clock = _engine(policy, log=log)
        _shift(live, clock)
        logged = [e.payload for e in log.entries() if e.kind == "relocation_recommended"]
        assert len(logged) >= 2
        assert {p["trigger"] for p in logged} == {"unit_freed", "timer"}
        replayed = Engine.replay(log, codes=CODES, region=_region(), coverage=_model(_region()))
        assert replayed.state == live.state
        assert replayed.state.relocation == live.state.relocation
        with pytest.raises(ReplayMismatchError, match="relocation recommendation differs"):
            Engine.replay(
                log, codes=CODES, region=_region(), coverage=_model(_region(), [1, 0, 0, 0, 0])
            )


def test_freed_unit_status_flow_is_consistent() -> None:
    """A returning unit that accepted a relocation is available at its new station."""
    live, _clock = _engine()
    for event in (_unit("A", "S0", 0), _unit("B", "S0", 0), _unit("C", "S4", 4)):
        live.submit(event)
    live.submit(_unit("D", "S2", 2, off=True))
    live.submit(
        {"type": "incident_opened", "incident_id": "I1", "code": "CHOKING", "location": _point(1)}
    )
    live.submit(
        {"type": "dispatch_overridden", "incident_id": "I1", "units": ["B"], "reason": "test"}
    )
    live.submit(_status("B", "on_scene"))
    outcome = live.submit(_status("B", "returning"))
    assert any(e.type == "relocation_recommended" for e in outcome.derived)
    live.submit({"type": "relocation_accepted", "unit_id": "B"})
    live.submit(_status("B", "available"))
    b = live.state.units["B"]
    assert (b.status, b.base, b.relocating_to) == (UnitStatus.AVAILABLE, "S2", None)
    assert b.location.lon == pytest.approx(5.02)


def test_the_timer_waits_for_a_fleet_with_stations() -> None:
    """A tick before any station exists does not start the interval: the first fleet gets its
    timed move-up at the next tick, not an interval later."""
    live, clock = _engine()
    live.submit({**_unit("X", "S0", 0), "station": None})
    assert live.tick() == []
    for uid in ("A", "B"):
        live.submit(_unit(uid, "S0", 0))
    live.submit(_unit("D", "S2", 2, off=True))
    clock.advance(5)
    advice = [o.event for o in live.tick()]
    assert [(e.type, len(e.moves)) for e in advice if isinstance(e, RelocationRecommended)] == [
        ("relocation_recommended", 1)
    ]


RELOCATION_ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.integers(0, 3), st.integers(0, 4)),
        st.tuples(st.just("accept"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("arrive"), st.sampled_from(["A", "B", "C", "E"]), st.just(0)),
        st.tuples(st.just("close"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("move_accept"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("move_decline"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("avl"), st.sampled_from(["A", "B", "C", "E"]), st.integers(0, 4)),
        st.tuples(st.just("off"), st.sampled_from(["A", "B", "C", "E", "D"]), st.just(0)),
        st.tuples(st.just("on"), st.sampled_from(["A", "B", "C", "E", "D"]), st.just(0)),
        st.tuples(st.just("wait"), st.integers(1, 900), st.just(0)),
    ),
    max_size=25,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RELOCATION_ACTIONS, st.sampled_from(["coverage+dmexclp", "closest_idle+mip"]))
def test_replay_reproduces_every_relocation_for_any_event_sequence(
    actions: list[tuple[str, Any, int]], policy: str
) -> None:
    """Whatever happens (calls, closes, answers to move-ups, AVL, shifts, timer ticks), the
    replay recomputes each logged move-up and ends in the same state."""
    with tempfile.TemporaryDirectory() as tmp, IncidentLog(f"sqlite:///{tmp}/log.sqlite") as log:
        live, clock = _engine(policy, log=log)
        for event in (_unit("A", "S0", 0), _unit("B", "S0", 0), _unit("E", "S0", 0)):
            live.submit(event)
        live.submit(_unit("C", "S4", 4))
        live.submit(_unit("D", "S2", 2, off=True))
        for kind, a, b in actions:
            pending = sorted(live.state.relocations)
            event: dict[str, Any]
            if kind == "wait":
                clock.advance(a)
                live.tick()
                continue
            if kind == "open":
                event = {
                    "type": "incident_opened",
                    "incident_id": f"I{a}",
                    "code": "CHOKING",
                    "location": _point(b),
                }
            elif kind == "accept":
                event = {"type": "dispatch_accepted", "incident_id": f"I{a}"}
            elif kind == "arrive":
                event = {"type": "unit_arrived", "unit_id": a}
            elif kind == "close":
                event = {"type": "incident_closed", "incident_id": f"I{a}", "outcome": "x"}
            elif kind in ("move_accept", "move_decline"):
                if not pending:
                    continue
                answer = "accepted" if kind == "move_accept" else "declined"
                event = {"type": f"relocation_{answer}", "unit_id": pending[a % len(pending)]}
            elif kind == "avl":
                event = {"type": "unit_moved", "unit_id": a, "location": _point(b)}
            else:
                event = _status(a, "out_of_service" if kind == "off" else "available")
            with contextlib.suppress(InvalidTransitionError, InputError):
                live.submit(event)
        replayed = Engine.replay(log, codes=CODES, region=_region(), coverage=_model(_region()))
    assert replayed.state == live.state

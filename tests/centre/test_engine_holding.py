"""Live holds and diversions of the ``coverage`` rule: configured, released by a tick at
their bound (a logged ``hold_released``), and reproduced by replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from planner.centre.config import EngineConfig, EscalationConfig, SolverConfig
from planner.centre.engine import Engine
from planner.centre.recommendations import plan_key
from planner.log.incident_log import IncidentLog
from planner.network.matrix_region import MatrixRegion
from tests.centre.test_engine import CODES, T0, Clock, incident, unit

N = 5


def _line() -> MatrixRegion:
    """Five points on a line, 300 s apart."""
    pos = np.arange(N, dtype=np.float64)
    return MatrixRegion(
        name="line",
        point_ids=[str(i) for i in range(N)],
        lonlat=np.column_stack([5.0 + 0.01 * pos, np.full(N, 52.0)]),
        seconds=300.0 * np.abs(pos[:, None] - pos[None, :]),
    )


def _at(node: int) -> tuple[float, float]:
    return 52.0, 5.0 + 0.01 * node


def _engine(log: IncidentLog, clock: Clock, **solver: Any) -> Engine:
    config = EngineConfig(
        solver=SolverConfig(policy="coverage", **solver),
        escalation=EscalationConfig(enabled=False),
    )
    return Engine(codes=CODES, config=config, clock=clock, region=_line(), log=log)


def test_a_held_call_is_released_at_its_bound_and_replay_agrees(tmp_path: Path) -> None:
    """The only ALS unit waits at point 0; a STROKE (priority 2, 1,080 s) at point 1 would
    leave points 0 and 1 without cover, so it is held for hold_max_s = 120 s; a tick before
    the bound changes nothing, a tick at it logs hold_released and recommends the unit."""
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}") as log:
        clock = Clock()
        live = _engine(log, clock, hold_max_s=120.0)
        live.submit(unit("A0", "ALS", *_at(0)))
        held = live.submit(incident("I1", "STROKE", *_at(1)))
        assert held.plan is not None and held.plan.assignments == ()
        (hold,) = held.plan.holds
        assert hold.until == T0.timestamp() + 120.0
        assert held.plan.unmet[0].reason.startswith("held until 12:02:00 UTC")
        clock.advance(119)
        assert live.tick() == []
        clock.advance(1)
        (released,) = live.tick()
        assert released.event.type == "hold_released"
        assert released.event.incident_id == "I1"  # type: ignore[union-attr]
        assert released.plan is not None and released.plan.holds == ()
        assert [(a.unit, a.incident) for a in released.plan.assignments] == [("A0", "I1")]
        assert [e.type for e in released.derived] == ["recommendation_issued"]
        kinds = [e.kind for e in log.entries()]
        replayed = Engine.replay(log, codes=CODES, region=_line())
    assert kinds.count("hold_released") == 1
    assert plan_key(replayed.plan) == plan_key(live.plan)
    assert replayed.state == live.state


def test_holding_off_and_diversion_live(tmp_path: Path) -> None:
    """hold_max_s = 0: the STROKE gets A0 at once. A choking call (priority 1) at point 2 then
    finds A0 (on its way, reported at point 1: 300 s) far sooner than the free unit A4 at
    point 4 (600 s): A0 is diverted, and the STROKE is served again by A4."""
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}") as log:
        clock = Clock()
        live = _engine(log, clock, hold_max_s=0.0)
        live.submit(unit("A0", "ALS", *_at(0)))
        live.submit(unit("A4", "ALS", *_at(4)))
        first = live.submit(incident("I1", "STROKE", *_at(1)))
        assert first.plan is not None and first.plan.holds == ()
        (stroke_unit,) = [a.unit for a in first.plan.assignments]
        live.submit({"type": "dispatch_accepted", "incident_id": "I1"})
        live.submit({"type": "unit_acknowledged", "unit_id": stroke_unit})
        clock.advance(60)
        lat, lon = _at(1)
        live.submit({"type": "unit_moved", "unit_id": "A0", "location": {"lat": lat, "lon": lon}})
        arrest = live.submit(incident("I2", "CHOKING", *_at(2)))
        replayed = Engine.replay(log, codes=CODES, region=_line())
    assert stroke_unit == "A0"
    assert arrest.plan is not None
    moved = {(a.unit, a.incident, a.preempted_from) for a in arrest.plan.assignments}
    assert moved == {("A0", "I2", "I1"), ("A4", "I1", None)}
    (diverted,) = [a for a in arrest.plan.assignments if a.unit == "A0"]
    assert diverted.why.notes[0].startswith("diverted from I1 (priority 2): arrives 300 s before")
    assert plan_key(replayed.plan) == plan_key(live.plan)

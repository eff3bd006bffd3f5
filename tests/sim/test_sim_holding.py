"""Holds and diversions of the ``coverage`` rule inside the simulator, hand-checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.settings import SCENARIOS_DIR
from planner.sim.scenario import load_scenario
from planner.sim.simulator import Call, Simulation, prepare_world

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"


@pytest.mark.parametrize(("hold_max_s", "dispatched_s"), [(300.0, 400.0), (120.0, 220.0)])
def test_a_held_call_is_dispatched_at_its_bound(hold_max_s: float, dispatched_s: float) -> None:
    """tiny.yaml: A1 is 150 s from point 3581, A2 1,004 s; a priority-3 call there (630 s
    target, 60 s delay: 570 s budget) can only be reached in time by A1, whose departure would
    leave half of the demand without cover. So it is held until the bound, call + hold_max_s
    (the slack, 570 - 150 s, is longer), then A1 goes. A priority-1 call there goes at once."""
    scenario = load_scenario(FIXTURES / "tiny.yaml")
    scenario = scenario.model_copy(
        update={"solver": scenario.solver.model_copy(update={"hold_max_s": hold_max_s})}
    )
    world = prepare_world(scenario)
    node = world.region.point_index("3581")
    a1, a2 = world.station_node["B3582"], world.station_node["B3812"]
    eta = world.region.travel_time_matrix(np.array([a1, a2]), np.array([node]))[:, 0]
    assert eta == pytest.approx([150.1, 1003.8], abs=0.1)
    low = [Call(0, 100.0, node, "EMS_LOW", 3, 60.0, 600.0, False, 0.0)]
    (held,) = Simulation(world, low, policy="coverage", replication=0).run().incidents
    assert (held.dispatched_s, held.sent) == (pytest.approx(dispatched_s), "A1")
    assert held.arrived_s == pytest.approx(dispatched_s + eta[0])
    (plain,) = Simulation(world, low, policy="closest_idle", replication=0).run().incidents
    assert plain.dispatched_s == pytest.approx(160.0)
    urgent = [Call(0, 100.0, node, "NL_A1", 1, 60.0, 600.0, False, 0.0)]
    (p1,) = Simulation(world, urgent, policy="coverage", replication=0).run().incidents
    assert p1.dispatched_s == pytest.approx(160.0)


@pytest.mark.slow
def test_a_unit_on_its_way_is_diverted_to_priority_1() -> None:
    """Harrisburg demo, no holds: a STROKE (priority 2) at road node 1339 at t = 100 s gets M2
    (the coverage rule's in-budget choice). M2 reports its position on the way; a choking call
    (priority 1) opens, with no handling delay, right where M2 has just reported. M2 is
    diverted (0 s away; the nearest free ALS, M5, is 200 s away) and the STROKE is served
    again by another unit."""
    scenario = load_scenario(SCENARIOS_DIR / "harrisburg-demo.yaml")
    scenario = scenario.model_copy(
        update={
            "solver": scenario.solver.model_copy(update={"hold_max_s": 0.0}),
            "options": scenario.options.model_copy(update={"escalation": False}),
        }
    )
    world = prepare_world(scenario)
    region = world.region
    stroke = Call(0, 100.0, 1339, "STROKE", 2, 30.0, 600.0, False, 0.0)
    (first,) = Simulation(world, [stroke], policy="coverage", replication=0).run().incidents
    assert first.sent == "M2" and first.dispatched_s == pytest.approx(130.0)
    m2 = world.station_node["hbg-2"]
    drive = float(region.travel_time_matrix(np.array([m2]), np.array([1339]))[0, 0])
    t_w, where = world.route_points(m2, 1339, drive)[0]
    others = [world.station_node[s] for s in ("hbg-1", "hbg-4", "hbg-5", "hbg-8")]
    free = region.travel_time_matrix(np.array(others), np.array([where]))[:, 0]
    assert free.min() > 60.0  # the default margin
    choking = Call(1, 130.0 + t_w + 1.0, where, "CHOKING", 1, 0.0, 600.0, False, 0.0)
    result = Simulation(world, [stroke, choking], policy="coverage", replication=0).run()
    low, urgent = sorted(result.incidents, key=lambda i: i.call)
    assert (urgent.sent, urgent.response_s) == ("M2", pytest.approx(0.0))
    assert low.preempted == 1 and low.units == 2 and "M2" in low.sent.split(";")
    assert not low.unmet
    # closest-idle never diverts: the choking call waits for a free unit
    base = Simulation(world, [stroke, choking], policy="closest_idle", replication=0).run()
    assert all(i.preempted == 0 for i in base.incidents)


def test_a_call_whose_recommendation_changes_after_another_is_sent_is_re_read() -> None:
    """Both ambulances at B3582, a priority-1 and a priority-3 call at point 3581 at once.
    While both are free, sending either to the P3 call leaves the other covering, so the first
    plan recommends one unit to each. Once the P1 call has its unit, the other one alone would
    leave its demand bare: the P3 call is now held, and the dispatcher must not accept the
    stale recommendation (it did, and the engine refused it: "A1 not recommended for 'C1'")."""
    scenario = load_scenario(FIXTURES / "tiny.yaml")
    units = [u.model_copy(update={"station": "B3582"}) for u in scenario.units]
    world = prepare_world(scenario.model_copy(update={"units": units}))
    node = world.region.point_index("3581")
    calls = [
        Call(0, 100.0, node, "NL_A1", 1, 60.0, 600.0, False, 0.0),
        Call(1, 100.0, node, "EMS_LOW", 3, 60.0, 600.0, False, 0.0),
    ]
    result = Simulation(world, calls, policy="coverage", replication=0).run()
    urgent, low = sorted(result.incidents, key=lambda i: i.call)
    assert urgent.dispatched_s == pytest.approx(160.0)
    # held from the second plan on, until its bound: call + hold_max_s (300 s)
    assert low.dispatched_s == pytest.approx(400.0)
    assert {urgent.sent, low.sent} == {"A1", "A2"}

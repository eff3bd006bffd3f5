"""The simulator: common random numbers, conservation, hand-computed responses, coverage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.dispatch.coverage import CoverageModel, coverage_extra_cost
from planner.dispatch.domain import DispatchProblem, Incident, SolveOptions, Unit, UnitStatus
from planner.network.geo import Location
from planner.sim.metrics import ReplicationResult, summarise, t_interval
from planner.sim.scenario import load_scenario
from planner.sim.simulator import Call, Simulation, World, generate_calls, prepare_world, simulate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"


@pytest.fixture(scope="module")
def world() -> World:
    return prepare_world(load_scenario(FIXTURES / "tiny.yaml"))


@pytest.fixture(scope="module")
def runs() -> list[ReplicationResult]:
    scenario = load_scenario(FIXTURES / "tiny.yaml")
    return simulate(scenario, policies=["closest_idle", "optimal", "coverage"], workers=1)


def _calls(result: ReplicationResult) -> list[tuple[int, float, int, str, int]]:
    return sorted((i.call, i.t_call_s, i.node, i.code, i.priority) for i in result.incidents)


def test_every_policy_sees_the_same_calls(runs: list[ReplicationResult]) -> None:
    by_rep: dict[int, list[ReplicationResult]] = {}
    for r in runs:
        by_rep.setdefault(r.replication, []).append(r)
    assert set(by_rep) == {0, 1}
    for results in by_rep.values():
        assert len({r.policy for r in results}) == 3
        first = _calls(results[0])
        assert first
        assert all(_calls(r) == first for r in results[1:])
    assert _calls(by_rep[0][0]) != _calls(by_rep[1][0])


def test_calls_depend_only_on_seed_and_replication(world: World) -> None:
    a = generate_calls(world, 3)
    b = generate_calls(world, 3)
    assert a == b
    assert [c.t_s for c in a] == sorted(c.t_s for c in a)


def test_every_call_is_served_or_counted_unmet(world: World, runs: list[ReplicationResult]) -> None:
    for r in runs:
        assert len(r.incidents) == len(generate_calls(world, r.replication))
        for inc in r.incidents:
            assert inc.unmet or inc.response_s >= inc.ready_s - inc.t_call_s
            assert inc.unmet or inc.dispatched_s <= inc.arrived_s
        for unit in r.units:
            assert 0 <= unit.busy_s <= unit.on_duty_s + 1e-6


def test_an_overloaded_fleet_leaves_calls_unmet(world: World) -> None:
    calls = [
        Call(k, 10.0 + k, int(world.demand_nodes[k]), "NL_A1", 1, 60.0, 20000.0, False, 0.0)
        for k in range(4)
    ]
    result = Simulation(world, calls, policy="optimal", replication=0).run()
    unmet = [i for i in result.incidents if i.unmet]
    assert len(result.incidents) == 4
    assert len(unmet) == 2  # two ambulances, each on scene far beyond the drain period
    assert all(i.late for i in unmet)


def test_responses_match_a_hand_computed_case(world: World) -> None:
    """Two calls, two ambulances, closest idle: response = delay + matrix travel time."""
    region = world.region
    a1 = world.station_node["B3582"]
    a2 = world.station_node["B3812"]
    n1 = region.point_index("3581")  # next to A1's base
    n2 = region.point_index("3584")
    calls = [
        Call(0, 100.0, n1, "NL_A1", 1, 60.0, 600.0, False, 0.0),
        Call(1, 200.0, n2, "NL_A1", 1, 30.0, 600.0, False, 0.0),
    ]
    result = Simulation(world, calls, policy="closest_idle", replication=0).run()
    seconds = region.travel_time_matrix(
        np.array([a1, a2], dtype=np.int64), np.array([n1, n2], dtype=np.int64)
    )
    first, second = sorted(result.incidents, key=lambda i: i.call)
    assert first.response_s == pytest.approx(60.0 + seconds[0, 0])
    # A1 is busy with the first call, so the second call gets A2 from its base.
    assert second.response_s == pytest.approx(30.0 + seconds[1, 1])
    busy = {u.unit: u.busy_s for u in result.units}
    back = region.travel_time_matrix(np.array([n1]), np.array([a1]))[0, 0]
    assert busy["A1"] == pytest.approx(seconds[0, 0] + 600.0 + back)
    summary = summarise([result])
    p1 = summary["policies"]["closest_idle"]["by_priority"]["1"]
    assert p1["n"] == 2
    assert p1["mean_response_s"] == pytest.approx(
        (first.response_s + second.response_s) / 2, abs=0.1
    )
    assert p1["fraction_late"] == pytest.approx(
        np.mean([first.response_s > 900, second.response_s > 900])
    )


@pytest.mark.slow
def test_parallel_replications_equal_serial_ones() -> None:
    scenario = load_scenario(FIXTURES / "tiny.yaml").model_copy(update={"duration_h": 1.5})
    serial = simulate(scenario, policies=["optimal"], replications=2, workers=1)
    parallel = simulate(scenario, policies=["optimal"], replications=2, workers=2)
    assert [r.incidents for r in serial] == [r.incidents for r in parallel]


def test_coverage_charges_the_unit_that_leaves_an_area_uncovered(world: World) -> None:
    region = world.region
    model = CoverageModel(
        region=region,
        demand_nodes=world.demand_nodes,
        demand_weights=world.demand_weights,
        target_s=900.0,
        busy_fraction=0.3,
    )
    nodes = [world.station_node["B3582"], world.station_node["B3582"], world.station_node["B3812"]]
    loss = model.losses(nodes)
    # Two units share one base: either leaving loses less than the lone unit at the other base.
    assert loss[0] == pytest.approx(loss[1])
    assert loss[2] > loss[0]
    before = model.expected_coverage(nodes)
    assert before - model.expected_coverage(nodes[1:]) == pytest.approx(loss[0])

    def unit(uid: str, node: int) -> Unit:
        lon, lat = region.node_lonlat[node]
        return Unit(uid, frozenset({"ALS"}), UnitStatus.AVAILABLE, Location(lat, lon))

    incident_node = world.demand_nodes[0]
    lon, lat = region.node_lonlat[incident_node]
    problem = DispatchProblem(
        units=tuple(unit(f"U{k}", n) for k, n in enumerate(nodes)),
        incidents=(Incident("I1", 1, "NL_A1", Location(lat, lon), {"ALS": 1}, 900.0),),
        travel_times_s=np.zeros((3, 1)),
    )
    extra = coverage_extra_cost(problem, SolveOptions(), model)
    assert extra[2, 0] > extra[0, 0] > 0


def test_t_interval_covers_the_mean() -> None:
    lo, hi = t_interval([0.1, 0.2, 0.3])
    assert lo < 0.2 < hi
    assert t_interval([0.5]) == (0.5, 0.5)


def test_major_incident_and_road_closure_changes_run() -> None:
    from planner.sim.scenario import Change, MajorIncident, RoadClosure

    base = load_scenario(FIXTURES / "tiny.yaml")
    changes = [
        Change(major_incident=MajorIncident(at_h=0.5, code="NL_A1", point="3584", casualties=4)),
        Change(road_closure=RoadClosure(id="rc1", lat=52.09, lon=5.12, radius_m=2000, to_h=1.0)),
    ]
    scenario = base.model_copy(update={"changes": changes, "duration_h": 1.5})
    world = prepare_world(scenario)
    calls = generate_calls(world, 0)
    major = [c for c in calls if c.casualties == 4]
    assert len(major) == 1 and major[0].t_s == 1800.0
    assert major[0].node == world.region.point_index("3584")
    result = Simulation(world, calls, policy="coverage", replication=0).run()
    assert len(result.incidents) == len(calls)
    assert not world.region.closures  # lifted at the end of the run


def test_replay_uses_the_real_call_times() -> None:
    from planner.settings import get_settings
    from planner.sim.demand import MONTGOMERY_CALLS, read_call_log, replay_calls

    scenario = load_scenario(FIXTURES / "tiny-replay.yaml")
    world = prepare_world(scenario)
    calls = generate_calls(world, 0)
    log = read_call_log(get_settings().data_dir / MONTGOMERY_CALLS)
    replay = scenario.demand.replay
    assert replay is not None
    window = replay_calls(log, duration_s=3 * 3600.0, log_from=replay.start)
    ems = window[window["service"] == "EMS"]
    assert [c.t_s for c in calls] == sorted(ems["t_s"].tolist())
    assert {c.code for c in calls} == {"NL_A1"}
    assert calls == generate_calls(world, 0)


def test_units_returning_to_station_can_be_dispatched_on_the_way(world: World) -> None:
    """``station_available``: A1 leaves the first scene and is sent on from there."""
    scenario = world.scenario.model_copy(
        update={
            "service": world.scenario.service.model_copy(update={"return_to": "station_available"})
        }
    )
    on_the_way = prepare_world(scenario)
    region = on_the_way.region
    a1 = on_the_way.station_node["B3582"]
    n1 = region.point_index("3581")
    n2 = region.point_index("3584")
    to_scene = region.travel_time_matrix(np.array([a1]), np.array([n1]))[0, 0]
    cleared = 100.0 + 60.0 + to_scene + 600.0
    calls = [
        Call(0, 100.0, n1, "NL_A1", 1, 60.0, 600.0, False, 0.0),
        Call(1, cleared + 1.0, n2, "NL_A1", 1, 30.0, 600.0, False, 0.0),
    ]
    result = Simulation(on_the_way, calls, policy="closest_idle", replication=0).run()
    second = max(result.incidents, key=lambda i: i.call)
    from_scene = region.travel_time_matrix(np.array([n1]), np.array([n2]))[0, 0]
    from_a2 = region.travel_time_matrix(
        np.array([on_the_way.station_node["B3812"]]), np.array([n2])
    )[0, 0]
    assert from_scene < from_a2
    assert second.response_s == pytest.approx(30.0 + from_scene)


def test_busy_fraction_follows_the_offered_load() -> None:
    from planner.settings import SCENARIOS_DIR

    normal = prepare_world(load_scenario(SCENARIOS_DIR / "utrecht.yaml"))
    busy = prepare_world(load_scenario(SCENARIOS_DIR / "utrecht-busy.yaml"))
    assert 0.1 < normal.coverage.busy_fraction < 0.5
    assert busy.coverage.busy_fraction == pytest.approx(1.6 * normal.coverage.busy_fraction)


def test_no_single_unit_call_gets_two_units() -> None:
    """Regression (issue 12): under ``optimal`` a free unit at 0 s won the tie against the unit
    already sent, and Utrecht calls got 2-4 ambulances. Two units share a base there, so
    calls at the base's own postcode reproduce it within the first hours."""
    scenario = load_scenario(Path(__file__).parents[2] / "scenarios" / "utrecht.yaml")
    scenario = scenario.model_copy(update={"duration_h": 8.0, "drain_h": 2.0})
    policies = ["closest_idle", "optimal", "coverage"]
    results = simulate(scenario, policies=policies, replications=1, workers=1)
    assert [r.policy for r in results] == policies
    for r in results:
        assert len(r.incidents) > 15
        doubled = [i.call for i in r.incidents if i.units - i.preempted > 1]
        assert doubled == [], r.policy

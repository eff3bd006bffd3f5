"""The MEXCLP coverage model, its dispatch charge and DMEXCLP base choice, worked out by hand.

The line: points 0..4, 300 s apart, demand 0.2 each, cover time 300 s (a unit covers its own
point and its neighbours), q = 0.5 unless a case says otherwise. The triangle: points 0, 1, 2
with 0–1 50 s, 1–2 80 s, 0–2 500 s, demand 0.5, 0.3, 0.2 and a 100 s cover time, so a unit at 0
covers {0, 1} and one at 1 covers all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import networkx as nx
import numpy as np
import pytest

from planner.dispatch.coverage import (
    CoverageModel,
    best_base,
    coverage_extra_cost,
    decision_time,
    loss_levels,
    region_coverage_model,
    remaining_budget_s,
)
from planner.dispatch.domain import DispatchProblem, Incident, SolveOptions, Unit, UnitStatus
from planner.network.closures import Closure
from planner.network.geo import Location
from planner.network.matrix_region import MatrixRegion
from planner.network.osm import arrays_from_graph
from planner.network.road_region import RoadRegion
from tests.network.four_nodes import four_node_graph

ALS = frozenset({"ALS"})
WED_05 = datetime(2024, 1, 3, 5, 0, tzinfo=UTC).timestamp()
"""Wednesday 3 January 2024, 05:00 UTC (midnight in New York)."""


def _line_region(population: list[float] | None = None) -> MatrixRegion:
    pos = np.arange(5, dtype=np.float64)
    return MatrixRegion(
        name="line",
        point_ids=[str(i) for i in range(5)],
        lonlat=np.column_stack([5.0 + 0.01 * pos, np.full(5, 52.0)]),
        seconds=300.0 * np.abs(pos[:, None] - pos[None, :]),
        population=None if population is None else np.array(population),
    )


def _line(**kwargs: object) -> CoverageModel:
    args: dict[str, object] = {
        "region": _line_region(),
        "demand_nodes": np.arange(5),
        "demand_weights": np.ones(5),
        "target_s": 300.0,
        "busy_fraction": 0.5,
    }
    return CoverageModel(**(args | kwargs))  # type: ignore[arg-type]


def _triangle(**kwargs: object) -> CoverageModel:
    region = MatrixRegion(
        name="triangle",
        point_ids=["p0", "p1", "p2"],
        lonlat=np.array([[0.0, 0.0], [0.01, 0.0], [0.02, 0.0]]),
        seconds=np.array([[0.0, 50.0, 500.0], [50.0, 0.0, 80.0], [500.0, 80.0, 0.0]]),
    )
    args: dict[str, object] = {
        "region": region,
        "demand_nodes": np.array([0, 1, 2]),
        "demand_weights": np.array([5.0, 3.0, 2.0]),
        "target_s": 100.0,
        "busy_fraction": 0.5,
    }
    return CoverageModel(**(args | kwargs))  # type: ignore[arg-type]


def _table(default: float = 0.5, **cells: float) -> np.ndarray:
    table = np.full((7, 24), default)
    for cell, value in cells.items():
        day, hour = (int(x) for x in cell[1:].split("_"))
        table[day, hour] = value
    return table


# -- the model ---------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.0, 1.0, 1.5, -0.1])
def test_busy_fraction_must_lie_strictly_between_0_and_1(q: float) -> None:
    with pytest.raises(ValueError, match=r"^busy_fraction must lie strictly between 0 and 1$"):
        _line(busy_fraction=q)


@pytest.mark.parametrize(
    "table",
    [np.full((8, 24), 0.5), np.full((7, 25), 0.5), np.full((24, 7), 0.5)]
    + [_table(d2_5=bad) for bad in (0.0, 1.0, 1.5, -0.5)],
    ids=["8x24", "7x25", "24x7", "zero", "one", "above one", "negative"],
)
def test_busy_by_hour_must_be_7_by_24_strictly_between_0_and_1(table: np.ndarray) -> None:
    with pytest.raises(
        ValueError, match=r"^busy_by_hour must be 7 x 24 values strictly between 0 and 1$"
    ):
        _line(busy_by_hour=table)


@pytest.mark.usefixtures("new_york")
def test_busy_at_reads_the_utc_weekday_and_hour_whatever_the_local_zone() -> None:
    """Monday is row 0: Wednesday 05:00–05:59 UTC is row 2, column 5 (in New York it is
    Wednesday 00:xx, column 0, and Tuesday 23:xx an hour earlier)."""
    model = _line(busy_fraction=0.25, busy_by_hour=_table(0.5, d2_5=0.6, d2_0=0.7, d1_23=0.8))
    assert model.busy_at(WED_05) == 0.6
    assert model.busy_at(WED_05 + 3599.0) == 0.6
    assert model.busy_at(WED_05 + 3600.0) == 0.5
    assert model.busy_at(WED_05 - 1.0) == 0.5  # 04:59 UTC
    assert model.busy_at(None) == 0.25  # the mean busy fraction
    assert model.busy_at(float("nan")) == 0.25
    assert model.busy_at(float("inf")) == 0.25
    assert _line(busy_fraction=0.25).busy_at(WED_05) == 0.25  # no table: always the mean


def test_cover_rows_counts_and_an_empty_fleet() -> None:
    model = _line()
    assert model.covered_by(2).tolist() == [False, True, True, True, False]
    assert model.covered_by(0).tolist() == [True, True, False, False, False]
    # a unit at 0 and two at 2: k = (1, 3, 2, 2, 0)
    assert model.counts([0, 2, 2]).tolist() == [1.0, 3.0, 2.0, 2.0, 0.0]
    empty = model.rows([])
    assert empty.shape == (0, 5) and empty.dtype == np.bool_
    assert model.losses([]).shape == (0,)
    assert model.gains([], [0]).shape == (0,)
    assert model.counts([]).tolist() == [0.0] * 5


def test_coverage_losses_and_gains_at_a_given_q() -> None:
    """q = 0.25, units at 0 and 2: k = (1, 2, 1, 1, 0). Cover 0.2·(0.75 + 0.9375 + 0.75 +
    0.75 + 0) = 0.6375. X at 0 leaving loses 0.6375 − 0.45 (Y alone: 0.2·3·0.75) = 0.1875,
    Y leaving loses 0.6375 − 0.3 = 0.3375. With one unit at 0 (cover 0.3) one more at 0, 2
    or 4 adds 0.075, 0.3375 and 0.3."""
    model = _line()
    assert model.expected_coverage([0, 2], q=0.25) == pytest.approx(0.6375)
    assert model.expected_coverage([2], q=0.25) == pytest.approx(0.45)
    np.testing.assert_allclose(model.losses([0, 2], q=0.25), [0.1875, 0.3375])
    np.testing.assert_allclose(model.gains([0, 2, 4], [0], q=0.25), [0.075, 0.3375, 0.3])
    for node, gain in zip([0, 2, 4], [0.075, 0.3375, 0.3], strict=True):
        added = model.expected_coverage([0, node], q=0.25) - model.expected_coverage([0], q=0.25)
        assert added == pytest.approx(gain)


def test_losses_are_compared_in_whole_steps_of_a_tenth_of_a_percent() -> None:
    """0.57 of demand is 570 steps even though 0.57 / 0.001 is 569.9999999999999 in floating
    point; just under a step is none."""
    levels = loss_levels(np.array([0.0, 0.000999, 0.001, 0.0025, 0.57, 0.7]))
    assert levels.tolist() == [0, 0, 1, 2, 570, 700]
    assert levels.dtype == np.int64


def test_cover_rows_follow_closures_and_slowdowns() -> None:
    """A 1.5× slow-down on 0→1 makes it 450 s, beyond the cover time; replacing it (same id)
    by one elsewhere gives 0→1 back, though the set of closure ids has not changed."""
    model = _line()
    region = model.region
    assert model.covered_by(0).tolist() == [True, True, False, False, False]
    region.apply_closure("jam", Closure(edges=((0, 1),), factor=1.5))
    assert model.covered_by(0).tolist() == [True, False, False, False, False]
    assert model.covered_by(1).tolist() == [True, True, True, False, False]  # 1→0 is open
    region.apply_closure("jam", Closure(edges=((3, 4),), factor=1.5))
    assert model.covered_by(0).tolist() == [True, True, False, False, False]
    assert model.covered_by(3).tolist() == [False, False, True, True, False]
    region.lift_closure("jam")
    assert model.covered_by(3).tolist() == [False, False, True, True, True]


def _four_node_roads() -> RoadRegion:
    """Edges (s): 0→1 10, 1→2 0, 2→3 5, 0→3 40, 3→0 7."""
    graph = four_node_graph()
    return RoadRegion(arrays_from_graph(graph, name="four"), tree_cache_size=8)


def test_cover_rows_on_roads_against_networkx() -> None:
    """On a road region the rows come from trees cut at the cover time: the same rows as
    networkx's shortest paths within 10 s, in the order of the demand points asked for."""
    region = _four_node_roads()
    graph = nx.DiGraph()
    for u, v, s in ((0, 1, 10.0), (1, 2, 0.0), (2, 3, 5.0), (0, 3, 40.0), (3, 0, 7.0)):
        graph.add_edge(u, v, weight=s)
    demand = [3, 1, 0]
    model = CoverageModel(region, np.array(demand), np.ones(3), target_s=10.0, busy_fraction=0.5)
    for origin in (0, 3, 2):
        seconds = nx.single_source_dijkstra_path_length(graph, origin)
        expected = [seconds.get(d, np.inf) <= 10.0 for d in demand]
        assert model.covered_by(origin).tolist() == expected
    assert model.rows([0, 3]).tolist() == [[False, True, True], [True, False, True]]


def test_units_are_snapped_however_far_from_the_nearest_point() -> None:
    """A unit 111 km north of the line still counts at its nearest point (2), beyond the
    region's own snap limit."""
    model = _line()
    assert model.node_of(53.0, 5.02) == 2
    assert model.node_of(53.0, 5.02) == 2


# -- the dispatch charge -----------------------------------------------------------------


def _unit(uid: str, node: int, status: UnitStatus = UnitStatus.AVAILABLE) -> Unit:
    return Unit(uid, ALS, status, Location(lat=0.0, lon=0.01 * node))


def _call(cid: str, priority: int = 1, target_s: float = 600.0, opened: float = 0.0) -> Incident:
    return Incident(cid, priority, "X", None, {"ALS": 1}, target_s, opened_at=opened)


def test_only_free_units_are_charged_and_only_covering_ones_count() -> None:
    """U0 (free at 0) and U1 (returning at 1) cover, k = (2, 2, 1): U0 leaving loses 0.2 (200
    steps). U1 is returning, so it is not ranked (level 0); U2 is en route, so it covers
    nothing even with a position at 1. All arcs are in budget (60 of 600 s), M = 601:
    extra = 16·601·level."""
    problem = DispatchProblem(
        (_unit("U0", 0), _unit("U1", 1, UnitStatus.RETURNING), _unit("U2", 1, UnitStatus.EN_ROUTE)),
        (_call("A"),),
        np.array([[60.0], [60.0], [60.0]]),
    )
    extra = coverage_extra_cost(problem, SolveOptions(), _triangle())
    np.testing.assert_allclose(extra, [[16.0 * 601 * 200], [0.0], [0.0]])


def test_charge_at_a_given_busy_fraction() -> None:
    """q = 0.25, free units at 0 and 1: k = (2, 2, 1), marginal cover per point
    d·q^(k−1)·(1 − q) = 0.09375, 0.05625, 0.15; U0 loses 0.15 (150 steps), U1 0.3 (300)."""
    problem = DispatchProblem(
        (_unit("U0", 0), _unit("U1", 1)), (_call("A"),), np.array([[60.0], [60.0]])
    )
    expected = [[16.0 * 601 * 150], [16.0 * 601 * 300]]
    np.testing.assert_allclose(
        coverage_extra_cost(problem, SolveOptions(), _triangle(), q=0.25), expected
    )
    # the same q read from the hour table at the decision time (the call's opening)
    at_five = DispatchProblem(problem.units, (_call("A", opened=WED_05),), problem.travel_times_s)
    model = _triangle(busy_by_hour=_table(0.5, d2_5=0.25))
    np.testing.assert_allclose(coverage_extra_cost(at_five, SolveOptions(), model), expected)
    # opened at 05:59:50 but decided at 06:00: q = 0.5 (levels 200, 300), budget 590 s
    late = (_call("A", opened=WED_05 + 3590.0),)
    at_six = DispatchProblem(problem.units, late, problem.travel_times_s, now_s=WED_05 + 3600.0)
    np.testing.assert_allclose(
        coverage_extra_cost(at_six, SolveOptions(), model), [[16.0 * 591 * 200], [16.0 * 591 * 300]]
    )


def test_charge_in_and_out_of_the_budget() -> None:
    """Target 600 s, no delay: U0 (level 200) arrives in exactly 600 s, in budget and in time,
    so its arc costs 16·(601·200 + 600) and the charge is 16·601·200. U1 (level 300, top)
    takes 601 s: out of budget and late, its arc costs 16·(601·(300 + 1) + 601 + 600), the
    charge over 16·(601 + 600) is 16·601·301. U2 cannot reach the call: no arc, no charge."""
    problem = DispatchProblem(
        (_unit("U0", 0), _unit("U1", 1), _unit("U2", 2, UnitStatus.DISPATCHED)),
        (_call("A"),),
        np.array([[600.0], [601.0], [np.inf]]),
    )
    extra = coverage_extra_cost(problem, SolveOptions(), _triangle())
    np.testing.assert_allclose(extra, [[16.0 * 601 * 200], [16.0 * 601 * 301], [0.0]])


def test_a_fast_priority_can_be_late_yet_in_budget() -> None:
    """A speed factor of 2 doubles the 600 s budget to 1200 s (M = 1201): the lone unit at 0
    (loss 0.5·0.5 + 0.3·0.5 = 0.4, level 400) takes 900 s, late but in budget, so its whole
    arc costs 16·(1201·400 + 900); the solver already charges 16·(900 + 600 late)."""
    problem = DispatchProblem((_unit("U0", 0),), (_call("A"),), np.array([[900.0]]))
    extra = coverage_extra_cost(problem, SolveOptions(), _triangle(priority_speed={1: 2.0}))
    assert extra[0, 0] + 16.0 * (900.0 + 600.0) == pytest.approx(16.0 * (1201 * 400 + 900.0))


def test_charge_of_a_call_that_has_waited_past_its_target() -> None:
    """Opened at 0, decided at 1000 with a 600 s target: the budget is −400 s, M = 0 + 1, and
    every arc is out of budget: the charge is 16·1·(400 + 1) (the unit's own level is the
    top)."""
    problem = DispatchProblem((_unit("U0", 0),), (_call("A"),), np.array([[60.0]]), now_s=1000.0)
    assert coverage_extra_cost(problem, SolveOptions(), _triangle())[0, 0] == 16.0 * 401


def test_no_calls_or_no_units_no_charge() -> None:
    units = (_unit("U0", 0), _unit("U1", 1))
    extra = coverage_extra_cost(
        DispatchProblem(units, (), np.zeros((2, 0))), SolveOptions(), _triangle()
    )
    assert extra.shape == (2, 0)
    no_units = DispatchProblem((), (_call("A"),), np.zeros((0, 1)))
    assert coverage_extra_cost(no_units, SolveOptions(), _triangle()).shape == (0, 1)


def test_decision_time_and_remaining_budget_by_hand() -> None:
    """Delay 60 s; A (P1) opened at 0, B (P2, driven at 0.75 of the region's speed) at 100,
    decided at 200: A waited 140 s beyond the delay, B 40 s, so the budgets are
    600 − 60 − 140 = 400 and (600 − 60 − 40)·0.75 = 375. Without ``now_s`` the decision is
    at the latest opening (100): A waited 40 s, B none: 500 and 405."""
    model = _triangle(delay_s=60.0, priority_speed={2: 0.75})
    calls = (_call("A", 1, opened=0.0), _call("B", 2, opened=100.0))
    now = DispatchProblem((), calls, np.zeros((0, 2)), now_s=200.0)
    assert decision_time(now) == 200.0
    np.testing.assert_allclose(remaining_budget_s(now, model), [400.0, 375.0])
    latest = DispatchProblem((), calls, np.zeros((0, 2)))
    assert decision_time(latest) == 100.0
    np.testing.assert_allclose(remaining_budget_s(latest, model), [500.0, 405.0])
    assert decision_time(DispatchProblem((), (), np.zeros((0, 0)), now_s=5.0)) == 5.0
    assert decision_time(DispatchProblem((), (), np.zeros((0, 0)))) is None


# -- DMEXCLP: where a free unit waits ----------------------------------------------------


def test_best_base_prefers_more_cover_then_the_nearer_base() -> None:
    """Another unit at 4 (k = (0, 0, 0, 1, 1)): base 0 adds 0.1 + 0.1 = 0.2, base 2 adds
    0.1 + 0.1 + 0.05 = 0.25, so base 2 wins even 900 s away; at exactly the 900 s drive
    limit it still may be chosen. With the other unit at 2 instead, bases 0 and 4 both add
    0.15 and the nearer one wins."""
    model = _line()
    reach = np.array([100.0, 900.0])
    assert best_base(model, bases=[0, 2], room=[1, 1], others=[4], origin=0, reach_s=reach) == 1
    assert (
        best_base(
            model, bases=[0, 2], room=[1, 1], others=[4], origin=0, reach_s=reach, max_drive_s=900
        )
        == 1
    )
    assert (
        best_base(
            model, bases=[0, 2], room=[1, 1], others=[4], origin=0, reach_s=reach, max_drive_s=899
        )
        == 0
    )
    near_4 = np.array([900.0, 300.0])
    assert best_base(model, bases=[0, 4], room=[1, 1], others=[2], origin=3, reach_s=near_4) == 1
    assert (
        best_base(model, bases=[4, 0], room=[1, 1], others=[2], origin=3, reach_s=near_4[::-1]) == 0
    )


def test_best_base_depends_on_the_busy_fraction() -> None:
    """Another unit at 0 (k = (1, 1, 0, 0, 0)). Base 1 adds 0.2·(2q(1 − q) + (1 − q)), base 4
    adds 0.2·2(1 − q): base 1 is better only when q > 0.5 (at q = 0.25: 0.225 < 0.3)."""
    model = _line()
    assert best_base(model, bases=[1, 4], room=[1, 1], others=[0], origin=2, q=0.25) == 1
    assert best_base(model, bases=[1, 4], room=[1, 1], others=[0], origin=2, q=0.75) == 0
    assert best_base(model, bases=[], room=[], others=[0], origin=2) is None


# -- a live centre's model -----------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    default_priority: int
    target_s: float


def test_region_model_from_population_and_the_most_urgent_codes() -> None:
    """Demand on the populated points only (1, 2, 3 with shares 2:1:1); the cover time is the
    tightest target among priority-1 codes (480 s), not the tighter P2 one."""
    region = _line_region(population=[0.0, 2.0, 1.0, 1.0, 0.0])
    codes = [Code(2, 300.0), Code(1, 600.0), Code(1, 480.0), Code(3, 1200.0)]
    model = region_coverage_model(region, codes)
    assert model.region is region
    assert model.demand_nodes.tolist() == [1, 2, 3]
    np.testing.assert_allclose(model.demand_weights, [0.5, 0.25, 0.25])
    assert model.target_s == 480.0
    assert model.busy_fraction == 0.3
    assert model.delay_s == 0.0


def test_region_model_without_population_weighs_every_node_alike() -> None:
    model = region_coverage_model(_four_node_roads(), [Code(1, 10.0)])
    assert model.demand_nodes.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(model.demand_weights, [0.25] * 4)
    assert model.target_s == 10.0

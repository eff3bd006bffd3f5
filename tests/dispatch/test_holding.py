"""Holding lower priorities and diverting to priority 1 (the ``coverage`` rule), hand-checked
on a line of five points 300 s apart (cover time 300 s: a unit covers its own point and its
neighbours; uniform demand, 0.2 per point)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planner.dispatch.coverage import CoverageModel
from planner.dispatch.domain import DispatchProblem, Incident, SolveOptions, Unit, UnitStatus
from planner.dispatch.holding import find_holds, gap_if_sent, solve_coverage
from planner.dispatch.solver import solve
from tests.dispatch.line import at

T0 = 1_773_489_600.0  # 2026-03-14 12:00:00 UTC


def _free(model: CoverageModel, uid: str, node: int) -> Unit:
    return Unit(uid, frozenset({"ALS"}), UnitStatus.AVAILABLE, at(model, node))


def _problem(
    model: CoverageModel,
    units: tuple[Unit, ...],
    calls: tuple[tuple[str, int, int, float], ...],
    *,
    now: float = T0,
) -> DispatchProblem:
    """``calls``: (id, priority, node, target_s), all opened at T0; ETAs from the line."""
    incidents = tuple(
        Incident(iid, p, "X", at(model, node), {"ALS": 1}, target_s=target, opened_at=T0)
        for iid, p, node, target in calls
    )
    unit_nodes = [model.node_of(u.location.lat, u.location.lon) for u in units if u.location]
    tt = np.array(
        [[300.0 * abs(un - node) for _, _, node, _ in calls] for un in unit_nodes]
    ).reshape(len(units), len(calls))
    return DispatchProblem(units, incidents, tt, now_s=now)


def test_gap_is_the_demand_only_the_leaving_unit_covers(model: CoverageModel) -> None:
    # X at 0 covers {0, 1}, Y at 3 covers {2, 3, 4}: each alone, so 0.4 and 0.6 by hand.
    problem = _problem(model, (_free(model, "X", 0), _free(model, "Y", 3)), ())
    assert gap_if_sent(model, problem) == pytest.approx([0.4, 0.6])
    # a second unit at 0: X's points are covered twice, no gap; Y's stay alone
    both = _problem(model, (_free(model, "X", 0), _free(model, "Y", 3), _free(model, "Z", 0)), ())
    assert gap_if_sent(model, both) == pytest.approx([0.0, 0.6, 0.0])


def test_a_low_priority_call_is_held_when_every_choice_opens_a_gap(model: CoverageModel) -> None:
    """P3 at point 2 (target 1,800 s): X (600 s) and Y (300 s) both reach it in time and both
    leave demand bare (40 % / 60 %): held until T0 + 300 s (the bound; the slack is longer)."""
    units = (_free(model, "X", 0), _free(model, "Y", 3))
    problem = _problem(model, units, (("L", 3, 2, 1800.0),))
    plan = solve_coverage(problem, SolveOptions(policy="coverage"), model)
    assert plan.assignments == ()
    assert [h.incident for h in plan.holds] == ["L"]
    assert plan.holds[0].until == pytest.approx(T0 + 300.0)
    (unmet,) = plan.unmet
    assert unmet.reason == plan.holds[0].reason
    assert "held until 12:05:00 UTC" in unmet.reason
    assert "least: X, 40.0 % of demand" in unmet.reason
    # at the bound the hold is over: the least-loss in-time unit goes (X loses less than Y)
    released = solve_coverage(replace(problem, now_s=T0 + 300.0), plan.options, model)
    assert released.holds == ()
    assert [(a.unit, a.incident) for a in released.assignments] == [("X", "L")]


def test_the_hold_ends_while_the_nearest_unit_still_arrives_in_time(
    model: CoverageModel,
) -> None:
    # target 500 s, nearest unit Y 300 s away: at most 200 s of hold, not 300.
    units = (_free(model, "X", 0), _free(model, "Y", 3))
    problem = _problem(model, units, (("L", 3, 2, 500.0),))
    (hold,) = solve_coverage(problem, SolveOptions(policy="coverage"), model).holds
    assert hold.until == pytest.approx(T0 + 200.0)
    # with a 400 s delay before a unit rolls, Y alone fits: 500 - 400 - 300 = -200 s of slack
    late = replace(model, delay_s=400.0)
    assert find_holds(problem, SolveOptions(policy="coverage"), late) == {}


@pytest.mark.parametrize(
    ("units", "calls", "options", "why"),
    [
        ((("X", 0), ("Y", 3), ("Z", 0)), (("L", 3, 1, 1800.0),), {}, "Z can go without a gap"),
        ((("X", 0), ("Y", 3)), (("P", 1, 2, 1800.0),), {}, "priority 1 is never held"),
        ((("X", 0), ("Y", 3)), (("L", 2, 2, 1800.0),), {"hold_from_priority": 3}, "P2 exempt"),
        ((("X", 0), ("Y", 3)), (("L", 3, 2, 1800.0),), {"hold_max_s": 0.0}, "holding off"),
        ((("X", 0), ("Y", 3)), (("L", 3, 2, 200.0),), {}, "nobody is in time: waiting is no help"),
    ],
)
def test_calls_that_are_not_held(
    model: CoverageModel,
    units: tuple[tuple[str, int], ...],
    calls: tuple[tuple[str, int, int, float], ...],
    options: dict[str, float],
    why: str,
) -> None:
    problem = _problem(model, tuple(_free(model, u, n) for u, n in units), calls)
    plan = solve_coverage(problem, SolveOptions(policy="coverage", **options), model)  # type: ignore[arg-type]
    assert plan.holds == (), why
    assert len(plan.assignments) == 1, why


def test_a_call_with_a_unit_on_it_is_not_held(model: CoverageModel) -> None:
    committed = Unit("W", frozenset({"ALS"}), UnitStatus.EN_ROUTE, at(model, 4), incident="L")
    units = (_free(model, "X", 0), _free(model, "Y", 3), committed)
    call = Incident("L", 3, "X", at(model, 2), {"ALS": 2}, target_s=1800.0, opened_at=T0)
    problem = DispatchProblem(units, (call,), np.array([[600.0], [300.0], [600.0]]), now_s=T0)
    assert find_holds(problem, SolveOptions(policy="coverage"), model) == {}


def _divert_problem(model: CoverageModel, y_node: int) -> DispatchProblem:
    """X is on its way to the P3 call L at point 4 and has got to point 0; a P1 call at point 1
    (target 480 s) opens; Y waits at ``y_node``."""
    x = Unit("X", frozenset({"ALS"}), UnitStatus.EN_ROUTE, at(model, 0), incident="L")
    y = _free(model, "Y", y_node)
    low = Incident("L", 3, "X", at(model, 4), {"ALS": 1}, target_s=1800.0, opened_at=T0 - 60)
    urgent = Incident("P", 1, "X", at(model, 1), {"ALS": 1}, target_s=480.0, opened_at=T0)
    tt = np.array([[1200.0, 300.0], [300.0 * abs(y_node - 4), 300.0 * abs(y_node - 1)]])
    return DispatchProblem((x, y), (low, urgent), tt, now_s=T0)


def test_a_unit_heading_to_a_lower_priority_call_is_diverted_to_priority_1(
    model: CoverageModel,
) -> None:
    """X reaches P in 300 s, the free Y in 600 s (late): 300 s sooner, margin 60 s. X is
    diverted, and L is served again by Y in the same plan."""
    plan = solve_coverage(_divert_problem(model, 3), SolveOptions(policy="coverage"), model)
    sent = {(a.unit, a.incident, a.preempted_from) for a in plan.assignments}
    assert sent == {("X", "P", "L"), ("Y", "L", None)}
    (x,) = [a for a in plan.assignments if a.unit == "X"]
    assert x.why.notes[0] == (
        "diverted from L (priority 3): arrives 300 s before the best free unit Y "
        "(margin 60 s); L is served again"
    )


@pytest.mark.parametrize(("margin", "diverted"), [(300.0, True), (301.0, False), (None, False)])
def test_the_diversion_margin_is_honoured(
    model: CoverageModel, margin: float | None, diverted: bool
) -> None:
    options = SolveOptions(policy="coverage", divert_margin_s=margin)
    plan = solve_coverage(_divert_problem(model, 3), options, model)
    x_goes = {(a.unit, a.incident) for a in plan.assignments} >= {("X", "P")}
    assert x_goes is diverted
    if not diverted:
        assert {(a.unit, a.incident) for a in plan.assignments} == {("Y", "P")}


def test_no_diversion_when_a_free_unit_is_as_near(model: CoverageModel) -> None:
    plan = solve_coverage(_divert_problem(model, 1), SolveOptions(policy="coverage"), model)
    assert {(a.unit, a.incident, a.preempted_from) for a in plan.assignments} == {("Y", "P", None)}


@pytest.mark.parametrize("policy", ["optimal", "closest_idle"])
def test_other_policies_never_divert_by_this_rule(model: CoverageModel, policy: str) -> None:
    plan = solve(_divert_problem(model, 3), SolveOptions(policy=policy))
    assert {(a.unit, a.incident, a.preempted_from) for a in plan.assignments} == {("Y", "P", None)}


def test_a_slower_drive_shrinks_the_budget(model: CoverageModel) -> None:
    """A priority driven at 0.75 of the region's speed: Y's 300 s becomes a 400 s drive. With
    a 500 s target that leaves 100 s of hold, not 200 s; with 350 s nobody is in time."""
    slow = replace(model, priority_speed={3: 0.75})
    units = (_free(model, "X", 0), _free(model, "Y", 3))
    (hold,) = solve_coverage(
        _problem(model, units, (("L", 3, 2, 500.0),)), SolveOptions(policy="coverage"), slow
    ).holds
    assert hold.until == pytest.approx(T0 + 100.0)
    tight = _problem(model, units, (("L", 3, 2, 350.0),))
    assert find_holds(tight, SolveOptions(policy="coverage"), slow) == {}
    assert find_holds(tight, SolveOptions(policy="coverage"), model) != {}

"""Hand-worked dispatch cases: unmet reasons by urgency and the dynamic-MEXCLP charge."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from planner.dispatch.coverage import CoverageModel, coverage_extra_cost
from planner.dispatch.domain import (
    Assignment,
    DispatchProblem,
    Incident,
    Objective,
    SolveOptions,
    Unit,
    UnitStatus,
    Why,
)
from planner.dispatch.holding import install
from planner.dispatch.solver import POLICIES, register_policy, solve
from planner.errors import InputError
from planner.network.geo import Location
from planner.network.matrix_region import MatrixRegion

ALS = frozenset({"ALS"})


def _one_unit_two_calls(pri_a: int, pri_b: int) -> DispatchProblem:
    return DispatchProblem(
        units=(Unit("U", ALS),),
        incidents=(
            Incident("A", pri_a, "X", None, {"ALS": 1}, 600.0, opened_at=0.0),
            Incident("B", pri_b, "X", None, {"ALS": 1}, 600.0, opened_at=1.0),
        ),
        travel_times_s=np.array([[100.0, 100.0]]),
    )


@pytest.mark.parametrize("policy", ["optimal", "closest_idle"])
def test_unmet_reason_counts_equal_urgency_as_equal(policy: str) -> None:
    """Two priority-2 calls, one unit: the older call gets it; the other is unmet because its
    only unit went to an *equally* urgent call, not a more urgent one."""
    plan = solve(_one_unit_two_calls(2, 2), SolveOptions(policy=policy))
    assert [(a.unit, a.incident) for a in plan.assignments] == [("U", "A")]
    assert [(m.incident, m.reason) for m in plan.unmet] == [
        ("B", "all 1 capable units that can reach it are used (equally urgent: 1)")
    ]


def test_unmet_reason_names_more_urgent_calls() -> None:
    plan = solve(_one_unit_two_calls(1, 3), SolveOptions())
    assert [(m.incident, m.reason) for m in plan.unmet] == [
        ("B", "all 1 capable units assigned to more urgent incidents")
    ]


def _three_point_region() -> MatrixRegion:
    """Points 0, 1, 2 on a line; 0–1 50 s, 1–2 80 s, 0–2 500 s."""
    return MatrixRegion(
        name="line",
        point_ids=["p0", "p1", "p2"],
        lonlat=np.array([[0.0, 0.0], [0.01, 0.0], [0.02, 0.0]]),
        seconds=np.array([[0.0, 50.0, 500.0], [50.0, 0.0, 80.0], [500.0, 80.0, 0.0]]),
    )


def _model() -> CoverageModel:
    return CoverageModel(
        region=_three_point_region(),
        demand_nodes=np.array([0, 1, 2]),
        demand_weights=np.array([5.0, 3.0, 2.0]),  # normalised to 0.5, 0.3, 0.2
        target_s=100.0,
        busy_fraction=0.5,
    )


def test_mexclp_coverage_and_losses_by_hand() -> None:
    """Units at 0 and 1 with a 100 s target: point 0 and 1 are covered twice, point 2 once
    (k = 2, 2, 1). Expected cover = 0.5·0.75 + 0.3·0.75 + 0.2·0.5 = 0.7. Marginal cover per point
    d·q^(k-1)·(1-q) = 0.125, 0.075, 0.1, so L(0) = 0.2 and L(1) = 0.3."""
    model = _model()
    assert model.expected_coverage([0, 1]) == pytest.approx(0.7)
    np.testing.assert_allclose(model.losses([0, 1]), [0.2, 0.3])


def test_coverage_charge_is_weighted_by_priority() -> None:
    """Strict dynamic MEXCLP: both units arrive in time (60 s of a 600 s budget), so an arc
    costs w[p]·(M·level + eta) with M = 601 and level = L in 0.1 % steps (200 and 300); the
    extra charge over the optimal cost w[p]·eta is w[p]·601·level: unit 0 → [16·120200,
    120200], unit 1 → [16·180300, 180300]; a custom P5 weight of 3 triples column 2."""
    problem = DispatchProblem(
        units=(
            Unit("U0", ALS, location=Location(lat=0.0, lon=0.0)),
            Unit("U1", ALS, location=Location(lat=0.0, lon=0.01)),
        ),
        incidents=(
            Incident("A", 1, "X", None, {"ALS": 1}, 600.0),
            Incident("B", 5, "X", None, {"ALS": 1}, 600.0),
        ),
        travel_times_s=np.array([[60.0, 60.0], [60.0, 60.0]]),
    )
    extra = coverage_extra_cost(problem, SolveOptions(), _model())
    np.testing.assert_allclose(extra, [[1923200.0, 120200.0], [2884800.0, 180300.0]])
    heavier = SolveOptions(priority_weights={1: 16.0, 2: 8.0, 3: 4.0, 4: 2.0, 5: 3.0})
    np.testing.assert_allclose(
        coverage_extra_cost(problem, heavier, _model())[:, 1], [360600.0, 540900.0]
    )


def test_coverage_policy_sends_the_unit_whose_absence_hurts_least() -> None:
    """Both units are 60 s from the one P1 call; U0 leaves less demand uncovered (0.2 < 0.3)."""
    install(_model(), name="coverage-oracle")
    problem = DispatchProblem(
        units=(
            Unit("U1", ALS, location=Location(lat=0.0, lon=0.01)),
            Unit("U0", ALS, location=Location(lat=0.0, lon=0.0)),
        ),
        incidents=(Incident("A", 1, "X", None, {"ALS": 1}, 600.0),),
        travel_times_s=np.array([[60.0], [60.0]]),
    )
    try:
        plan = solve(problem, SolveOptions(policy="coverage-oracle"))
    finally:
        POLICIES.pop("coverage-oracle")
    assert [(a.unit, a.incident) for a in plan.assignments] == [("U0", "A")]
    assert plan.objective.terms["extra"] == pytest.approx(601.0 * 200 * 16.0)


def test_whole_plan_with_explanations_by_hand() -> None:
    """Two P1 calls needing one ALS each; M1..M4 are 10, 20, 30, 40 s from I1 but only M1 is
    near I2 (15 s; the others 1000 s); B1 (BLS only) is 5 s from both; E1 is committed to I2.

    Optimal: M1 -> I2 and M2 -> I1 (16 x (15 + 20) = 560 weighted s) rather than M1 -> I1 and
    M2 -> I2 (16 x 1010). M2 is I1's 2nd choice: 10 s later than M1, which serves I2; M1 is
    I2's first, 985 s sooner than the next (M2). B1 is nearer to both but lacks ALS."""
    units = (
        Unit("M1", frozenset({"ALS"}), UnitStatus.AVAILABLE),
        Unit("M2", frozenset({"ALS"}), UnitStatus.AVAILABLE),
        Unit("M3", frozenset({"ALS"}), UnitStatus.AVAILABLE),
        Unit("M4", frozenset({"ALS"}), UnitStatus.AVAILABLE),
        Unit("B1", frozenset({"BLS"}), UnitStatus.AVAILABLE),
        Unit("E1", frozenset({"ENGINE"}), UnitStatus.EN_ROUTE, incident="I2"),
    )
    incidents = (
        Incident("I1", 1, "X", None, {"ALS": 1}, target_s=600.0, opened_at=0.0),
        Incident("I2", 1, "X", None, {"ALS": 1, "ENGINE": 1}, target_s=600.0, opened_at=1.0),
    )
    etas = np.array(
        [[10.0, 15.0], [20.0, 1000.0], [30.0, 1000.0], [40.0, 1000.0], [5.0, 5.0], [50.0, 60.0]]
    )
    plan = solve(DispatchProblem(units, incidents, etas), SolveOptions())
    assert plan.assignments == (
        Assignment(
            "M2", "I1", "ALS", 20.0,
            Why(2, "M1", 10.0, (
                "10 s later than M1",
                "M1: assigned to I2 (priority 1)",
                "nearer but without ALS: B1",
            )),
        ),
        Assignment(
            "M1", "I2", "ALS", 15.0,
            Why(1, "M2", 1000.0, ("985 s sooner than M2", "nearer but without ALS: B1")),
        ),
    )  # fmt: skip
    assert plan.committed == (
        Assignment("E1", "I2", "ENGINE", 60.0, Why(0, None, None, ("en_route",))),
    )
    assert plan.unmet == ()
    assert plan.objective == Objective(
        filled_by_priority={1: 3, 2: 0, 3: 0, 4: 0, 5: 0},
        cost=560.0,
        late_assignments=0,
        terms={"travel": 560.0, "late": 0.0, "preemption": 0.0, "extra": 0.0, "stability": 0.0},
    )


def test_closest_idle_serves_by_priority_then_age_not_input_order() -> None:
    """One unit, three calls listed C (P3), B (P2, opened at 50), A (P2, opened at 10): the
    greedy rule serves the most urgent first and, among equals, the oldest: A."""
    problem = DispatchProblem(
        units=(Unit("U", ALS),),
        incidents=(
            Incident("C", 3, "X", None, {"ALS": 1}, 600.0, opened_at=0.0),
            Incident("B", 2, "X", None, {"ALS": 1}, 600.0, opened_at=50.0),
            Incident("A", 2, "X", None, {"ALS": 1}, 600.0, opened_at=10.0),
        ),
        travel_times_s=np.array([[100.0, 100.0, 100.0]]),
    )
    plan = solve(problem, SolveOptions(policy="closest_idle"))
    assert [(a.unit, a.incident) for a in plan.assignments] == [("U", "A")]
    assert plan.status == "feasible"
    # equally urgent and equally old: the one listed first
    same_age = DispatchProblem(
        units=problem.units,
        incidents=(
            Incident("E", 2, "X", None, {"ALS": 1}, 600.0, opened_at=10.0),
            Incident("D", 2, "X", None, {"ALS": 1}, 600.0, opened_at=10.0),
        ),
        travel_times_s=np.array([[100.0, 100.0]]),
    )
    plan = solve(same_age, SolveOptions(policy="closest_idle"))
    assert [a.incident for a in plan.assignments] == ["E"]


def test_closest_idle_keeps_and_credits_the_previous_plan() -> None:
    """Re-solving with the previous plan's U → A: the same choice, explained as kept, and the
    stability bonus (60 s at weight 16) earned: cost 16·100 − 960 = 640."""
    problem = DispatchProblem(
        units=(Unit("U", ALS),),
        incidents=(Incident("A", 1, "X", None, {"ALS": 1}, 600.0),),
        travel_times_s=np.array([[100.0]]),
    )
    options = SolveOptions(policy="closest_idle")
    first = solve(problem, options)
    assert first.objective.terms["stability"] == 0.0
    again = solve(problem, options, previous=first)
    assert [(a.unit, a.incident) for a in again.assignments] == [("U", "A")]
    assert "kept from the previous plan" in again.assignments[0].why.notes
    assert again.objective.terms["stability"] == -960.0
    assert again.objective.cost == 640.0


def _exactly(field: str, message: str) -> str:
    """The whole error text (``field: message``) as a ``match=`` pattern."""
    return f"^{re.escape(f'{field}: {message}')}$"


def _one_call(etas: list[list[float]], **kwargs: object) -> DispatchProblem:
    units = tuple(Unit(f"U{k}", ALS) for k in range(len(etas)))
    calls = (Incident("A", 1, "X", None, {"ALS": 1}, 600.0),)
    return DispatchProblem(units, calls, np.array(etas), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("problem", "field", "message"),
    [
        (_one_call([[1.0, 2.0]]), "travel_times_s",
         "shape (1, 2) does not match (1, 1) (units, incidents)"),
        (_one_call([[np.nan]]), "travel_times_s",
         "must be >= 0 seconds or inf (unreachable), not NaN"),
        (_one_call([[-1.0]]), "travel_times_s",
         "must be >= 0 seconds or inf (unreachable), not NaN"),
        (_one_call([[1.0]], extra_cost_s=np.zeros((2, 1))), "extra_cost_s",
         "shape (2, 1) does not match (1, 1)"),
        (_one_call([[1.0]], extra_cost_s=np.array([[np.inf]])), "extra_cost_s", "must be finite"),
    ],
    ids=["eta shape", "eta NaN", "eta negative", "extra shape", "extra infinite"],
)  # fmt: skip
def test_a_malformed_problem_is_refused_by_field(
    problem: DispatchProblem, field: str, message: str
) -> None:
    with pytest.raises(InputError, match=_exactly(field, message)):
        solve(problem, SolveOptions())


def test_policy_names_are_checked_with_the_known_ones_listed() -> None:
    """``coverage`` is a known name (a live engine runs it on its own region) but has no
    rule outside one; relocations are only ``dmexclp`` and ``mip``."""
    known = ", ".join(sorted({*POLICIES, "coverage"}))
    with pytest.raises(
        InputError, match=_exactly("policy", f"unknown policy 'nope' (known: {known})")
    ):
        solve(_one_call([[1.0]]), SolveOptions(policy="nope"))
    installed = POLICIES.pop("coverage", None)  # a test may have installed one
    try:
        registered = ", ".join(sorted(POLICIES))
        with pytest.raises(
            InputError,
            match=_exactly("policy", f"unknown policy 'coverage' (known: {registered})"),
        ):
            solve(_one_call([[1.0]]), SolveOptions(policy="coverage"))
    finally:
        if installed is not None:
            POLICIES["coverage"] = installed
    message = "unknown relocation 'nearest' in policy 'optimal+nearest' (known: dmexclp, mip)"
    with pytest.raises(InputError, match=_exactly("policy", message)):
        solve(_one_call([[1.0]]), SolveOptions(policy="optimal+nearest"))
    for name in ("optimal+dmexclp", "closest_idle+mip", "optimal"):
        assert solve(_one_call([[1.0]]), SolveOptions(policy=name)).assignments[0].unit == "U0"


def test_solve_ms_is_the_policy_wall_time_in_milliseconds() -> None:
    def slow(problem: DispatchProblem, options: SolveOptions, previous: object) -> object:
        time.sleep(0.05)
        return POLICIES["optimal"](problem, options, None)

    register_policy("slow-oracle", slow)  # type: ignore[arg-type]
    try:
        start = time.perf_counter()
        plan = solve(_one_call([[1.0]]), SolveOptions(policy="slow-oracle"))
        elapsed_ms = (time.perf_counter() - start) * 1000.0
    finally:
        POLICIES.pop("slow-oracle")
    assert 50.0 <= plan.solve_ms <= elapsed_ms

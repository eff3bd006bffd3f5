"""Hand-worked dispatch cases: unmet reasons by urgency and the dynamic-MEXCLP charge."""

from __future__ import annotations

import math
import re
import time
from dataclasses import replace

import numpy as np
import pytest

from planner.dispatch.candidates import ArcKind, Candidates, build_candidates
from planner.dispatch.coverage import CoverageModel, coverage_extra_cost
from planner.dispatch.domain import (
    Assignment,
    DispatchProblem,
    Incident,
    Objective,
    Plan,
    SolveOptions,
    Unit,
    UnitStatus,
    Why,
)
from planner.dispatch.holding import install
from planner.dispatch.solver import (
    ASSIGNMENT_FROM_ARCS,
    POLICIES,
    _committed_first,
    _run_flow,
    optimal_selection,
    register_policy,
    solve,
    solve_optimal,
)
from planner.errors import InputError
from planner.network.geo import Location
from planner.network.matrix_region import MatrixRegion

ALS = frozenset({"ALS"})
BLS = frozenset({"BLS"})
INF = math.inf


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


# --- the exact solver's limits, its choice of method and its tie-breaking -------------------

EXACT = SolveOptions(priority_weights={1: 1.0, 2: 1.0, 3: 1.0}, late_penalty_s=0.0)
"""Cost = ETA in seconds, so the limits below are worked out from the ETAs alone."""


def _ties(n_units: int) -> Candidates:
    """One priority-1 call and ``n_units`` free units all 60 s away: ``n_units`` arcs, all tied."""
    units = tuple(Unit(f"U{k}", ALS) for k in range(n_units))
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    return build_candidates(DispatchProblem(units, (call,), np.full((n_units, 1), 60.0)), EXACT)


def test_an_unknown_method_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^unknown method 'greedy'$"):
        optimal_selection(_ties(2), method="greedy")


@pytest.mark.parametrize("n_arcs", [ASSIGNMENT_FROM_ARCS - 1, ASSIGNMENT_FROM_ARCS])
def test_auto_is_the_flow_below_the_arc_threshold_and_the_assignment_from_it(n_arcs: int) -> None:
    """Both methods are exact; among equally good plans the flow takes the last unit here and
    the assignment the first, which shows which one ``auto`` ran (module docstring: below
    ``ASSIGNMENT_FROM_ARCS`` arcs the plans a control room always had, from it the faster
    assignment)."""
    cand = _ties(n_arcs)
    assert cand.n_arcs == n_arcs
    by_flow = optimal_selection(cand, method="flow")
    by_assignment = optimal_selection(cand, method="assignment")
    assert (by_flow, by_assignment) == ([n_arcs - 1], [0])
    expected = by_flow if n_arcs < ASSIGNMENT_FROM_ARCS else by_assignment
    assert optimal_selection(cand) == expected
    assert optimal_selection(cand, method="auto") == expected


@pytest.mark.parametrize("method", ["flow", "assignment"])
@pytest.mark.parametrize("free_first", [False, True])
def test_a_committed_unit_wins_a_tie_with_a_free_one(method: str, free_first: bool) -> None:
    """The en-route unit and a free unit both at 0 s: the slot is the committed unit's, on
    either method and whichever unit is listed first (issue 12's second ambulance)."""
    units = [Unit("M1", ALS, status=UnitStatus.EN_ROUTE, incident="A"), Unit("M2", ALS)]
    if free_first:
        units.reverse()
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    cand = build_candidates(DispatchProblem(tuple(units), (call,), np.zeros((2, 1))), EXACT)
    (arc,) = optimal_selection(cand, method=method) or [-1]
    assert units[int(cand.unit[arc])].id == "M1"
    assert cand.kind[arc] == ArcKind.COMMITTED


def _far_problem(eta_s: float) -> DispatchProblem:
    """Two free units ``eta_s`` and ``eta_s - 1024`` s from a priority-1 call (1024 s apart:
    exact in float64 up to 2**62), and one unit on scene at a priority-3 call: 3 units, 2
    groups, 1 committed arc, so the flow has 2 + 3 + 2 = 7 nodes and the costs are scaled by 2
    (:func:`planner.dispatch.solver._committed_first`)."""
    return DispatchProblem(
        (
            Unit("E", frozenset({"ENGINE"}), status=UnitStatus.ON_SCENE, incident="F"),
            Unit("FAR", ALS),
            Unit("NEAR", ALS),
        ),
        (
            Incident("A", 1, "X", None, {"ALS": 1}, 600.0),
            Incident("F", 3, "X", None, {"ENGINE": 1}, 600.0),
        ),
        np.array([[INF, INF], [eta_s, INF], [eta_s - 1024.0, INF]]),
    )


def _flow_limit_eta_s(resolution: float) -> float:
    """The largest ETA the flow takes at ``resolution`` for :func:`_far_problem`: the guard
    ``12 * big * (nodes + 3) < 2**62`` with ``big = 2 * units * C * resolution + 2`` and
    ``C`` = the largest cost × (committed arcs + 1) = 2 × ETA."""
    big = 2**62 / (12 * (7 + 3))
    return (big - 2.0) / (2 * 3 * 2 * resolution)


def test_costs_that_fit_only_in_whole_seconds_are_still_solved_exactly() -> None:
    """Just inside the limit at whole seconds (out of reach in tenths): exact, the nearer
    unit, status ``optimal``. OR-Tools itself would refuse the flow at about twice this."""
    plan = solve(_far_problem(0.95 * _flow_limit_eta_s(1.0)), EXACT)
    assert plan.status == "optimal"
    assert [(a.unit, a.incident) for a in plan.assignments] == [("NEAR", "A")]
    assert [(a.unit, a.incident) for a in plan.committed] == [("E", "F")]


def test_costs_beyond_whole_seconds_fall_back_to_closest_idle() -> None:
    plan = solve(_far_problem(1.1 * _flow_limit_eta_s(1.0)), EXACT)
    assert plan.status == "fallback"
    assert [(a.unit, a.incident) for a in plan.assignments] == [("NEAR", "A")]


def test_the_flow_guard_stays_below_what_or_tools_accepts() -> None:
    """OR-Tools refuses any cost ``C`` with ``2.4 * C * (nodes + 3) >= 2**63`` (measured); the
    flow just inside the guard is solved, the same graph at 4× the costs is refused, so the
    guard's factor-2 margin is real on both sides."""
    cand = build_candidates(_far_problem(0.95 * _flow_limit_eta_s(1.0)), EXACT)
    icost = _committed_first(cand, np.rint(cand.cost).astype(np.int64))
    big = 2 * 3 * int(np.abs(icost).max()) + 1
    assert _run_flow(cand, icost, big, 3) is not None
    assert _run_flow(cand, icost * 4, 4 * big, 3) is None


def _float_limit_eta_s(ratio: float) -> float:
    """``ratio`` × the largest ETA the assignment takes in centiseconds for two units and one
    slot: ``slots * 8 * big < 2**52`` with ``big = 2 * 2 * ETA * 100 + 2``."""
    return float(int((ratio * 2**52 / 8 - 2.0) / (2 * 2 * 100)))


def test_assignment_is_used_just_inside_its_float_limit() -> None:
    """Two units tied at 0.9 × the limit: the assignment's choice (the first unit; the flow
    takes the last), so ``method="assignment"`` really ran the assignment there."""
    eta = _float_limit_eta_s(0.9)
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    problem = DispatchProblem((Unit("U0", ALS), Unit("U1", ALS)), (call,), np.full((2, 1), eta))
    cand = build_candidates(problem, EXACT)
    assert optimal_selection(cand, method="flow") == [1]
    assert optimal_selection(cand, method="assignment") == [0]


def test_assignment_beyond_its_float_limit_hands_over_to_the_exact_flow() -> None:
    """At 60 × the limit the centisecond costs no longer fit float64 (LAPJVsp would take the
    unit 0.01 s farther, listed first); ``method="assignment"`` must give the exact answer."""
    eta = _float_limit_eta_s(60.0)
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    etas = np.array([[eta + 0.01], [eta]])
    problem = DispatchProblem((Unit("FAR", ALS), Unit("NEAR", ALS)), (call,), etas)
    cand = build_candidates(problem, EXACT)
    assert optimal_selection(cand, method="assignment") == [1]


def test_no_time_left_after_the_candidates_gives_closest_idle_marked_feasible() -> None:
    """With ``time_limit_s=0`` the budget is gone before the exact solve: the closest-idle plan
    (here it sends the only ALS+LADDER unit to the older ALS call and leaves the LADDER call
    unserved; the optimum serves both) with status ``feasible``."""
    problem = DispatchProblem(
        (Unit("AL", frozenset({"ALS", "LADDER"})), Unit("A", ALS)),
        (
            Incident("OLD", 2, "X", None, {"ALS": 1}, 600.0, opened_at=0.0),
            Incident("NEW", 2, "X", None, {"LADDER": 1}, 600.0, opened_at=1.0),
        ),
        np.array([[10.0, 10.0], [20.0, 20.0]]),
    )
    timed_out = solve(problem, replace(EXACT, time_limit_s=0.0))
    assert timed_out.status == "feasible"
    assert [(a.unit, a.incident) for a in timed_out.assignments] == [("AL", "OLD")]
    exact = solve(problem, EXACT)
    assert exact.status == "optimal"
    assert sorted((a.unit, a.incident) for a in exact.assignments) == [("A", "OLD"), ("AL", "NEW")]


# --- explanations, worked by hand ---------------------------------------------------------


def _earlier(pairs: list[tuple[str, str]]) -> Plan:
    """A previous plan that recommended ``pairs`` (for the stability bonus)."""
    assignments = tuple(Assignment(u, i, "ALS", 0.0, Why(0, None, None)) for u, i in pairs)
    return Plan("optimal", "optimal", assignments, (), Objective({}, 0.0, 0), SolveOptions(), 0.0)


@pytest.mark.parametrize(
    ("nearer", "summary"), [(6, ()), (7, ("and 1 more nearer units",))], ids=["6", "7"]
)
def test_nearer_units_left_free_are_listed_up_to_six(nearer: int, summary: tuple[str, ...]) -> None:
    """FAR (100 s) was recommended before; a 1000 s bonus keeps it (16 × (100 - 1000) < 0: it
    costs 0). N1..Nk at 91, 92, … s are left free, each costing 16 × ETA more: 1456, 1472, …
    Six are named; a seventh is only counted."""
    units = (Unit("FAR", ALS), *(Unit(f"N{j}", ALS) for j in range(1, nearer + 1)))
    etas = np.array([[100.0], *([90.0 + j] for j in range(1, nearer + 1))])
    problem = DispatchProblem(units, (Incident("A", 1, "X", None, {"ALS": 1}, 600.0),), etas)
    plan = solve(problem, SolveOptions(stability_bonus_s=1000.0), previous=_earlier([("FAR", "A")]))
    (far,) = plan.assignments
    assert (far.unit, far.why.rank, far.why.next_best_unit, far.why.next_best_eta_s) == (
        "FAR",
        nearer + 1,
        "N1",
        91.0,
    )
    left_free = tuple(
        f"N{j}: left free (costs {16 * (90 + j)} weighted s more here)" for j in range(1, 7)
    )
    assert far.why.notes == (
        "kept from the previous plan",
        "9 s later than N1",
        *left_free,
        *summary,
    )
    assert plan.objective.terms == {
        "travel": 1600.0,
        "late": 0.0,
        "preemption": 0.0,
        "extra": 0.0,
        "stability": -1600.0,
    }
    assert plan.objective.cost == 0.0


def test_a_lone_unit_has_no_next_best_and_is_diverted_from_nothing() -> None:
    """OLD is available but still names the incident Z it served: it is recommended as a free
    unit (not diverted from Z); U1 cannot reach the call, so there is no next best."""
    units = (Unit("U1", ALS), Unit("OLD", ALS, UnitStatus.AVAILABLE, incident="Z"))
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    for policy in ("optimal", "closest_idle"):
        plan = solve(
            DispatchProblem(units, (call,), np.array([[INF], [60.0]])), SolveOptions(policy=policy)
        )
        assert plan.policy == policy
        assert plan.assignments == (
            Assignment("OLD", "A", "ALS", 60.0, Why(1, None, None, ()), preempted_from=None),
        )


def test_an_equally_near_next_best_is_zero_seconds_sooner() -> None:
    units = (Unit("U1", ALS), Unit("U2", ALS))
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    (a,) = solve(
        DispatchProblem(units, (call,), np.array([[60.0], [60.0]])), SolveOptions()
    ).assignments
    assert (a.unit, a.why) == ("U1", Why(1, "U2", 60.0, ("0 s sooner than U2",)))


def _en_route_nearest(g_eta_s: float) -> DispatchProblem:
    """E (ALS, on its way to the P3 call I3) is 10 s from both the P1 call I1 and the P2 call
    I2; F (free) reaches only I2, in 50 s; G (free) only I1, in ``g_eta_s``."""
    units = (Unit("E", ALS, UnitStatus.EN_ROUTE, incident="I3"), Unit("F", ALS), Unit("G", ALS))
    calls = (
        Incident("I1", 1, "X", None, {"ALS": 1}, 600.0),
        Incident("I2", 2, "X", None, {"ALS": 1}, 600.0),
        Incident("I3", 3, "X", None, {"BLS": 1}, 600.0),
    )
    etas = np.array([[10.0, 10.0, 0.0], [INF, 50.0, INF], [g_eta_s, INF, INF]])
    return DispatchProblem(units, calls, etas)


def test_a_nearer_unit_diverted_elsewhere_is_named_with_where_it_goes() -> None:
    """Free pre-emption (gap 1): E -> I1 and F -> I2 cost 16 × 10 + 8 × 50 = 560, less than
    G -> I1 and E -> I2 (16 000 + 80) or G and F (16 400). F's note says where E went."""
    options = SolveOptions(allow_preemption=True, preemption_gap=1, preemption_cost_s=0.0)
    plan = solve(_en_route_nearest(1000.0), options)
    assert [(a.unit, a.incident, a.preempted_from) for a in plan.assignments] == [
        ("E", "I1", "I3"),
        ("F", "I2", None),
    ]
    assert plan.assignments[0].why.notes == ("diverted from I3", "990 s sooner than G")
    assert plan.assignments[1].why == Why(
        2, "E", 10.0, ("40 s later than E", "E: diverted to I1 (priority 1)")
    )
    assert plan.objective.cost == 560.0


def test_a_nearer_unit_not_diverted_is_named_so() -> None:
    """At 300 s per diversion: G -> I1 and F -> I2 cost 16 × 100 + 8 × 50 = 2000, less than
    E -> I1 and F -> I2 (160 + 4800 + 400) or G -> I1 and E -> I2 (1600 + 80 + 2400)."""
    options = SolveOptions(allow_preemption=True, preemption_gap=1, preemption_cost_s=300.0)
    plan = solve(_en_route_nearest(100.0), options)
    assert [(a.unit, a.incident, a.why) for a in plan.assignments] == [
        ("G", "I1", Why(2, "E", 10.0, ("90 s later than E", "E: not diverted from I3"))),
        ("F", "I2", Why(2, "E", 10.0, ("40 s later than E", "E: not diverted from I3"))),
    ]
    assert plan.objective.cost == 2000.0


def test_a_diversion_with_no_free_unit_says_so() -> None:
    """E heads to the P2 call I2 and no free unit reaches the P1 call I1: diverted."""
    units = (Unit("E", ALS, UnitStatus.EN_ROUTE, incident="I2"),)
    calls = (
        Incident("I1", 1, "X", None, {"ALS": 1}, 600.0),
        Incident("I2", 2, "X", None, {"BLS": 1}, 600.0),
    )
    problem = DispatchProblem(units, calls, np.array([[30.0, 0.0]]))
    (a,) = solve_optimal(problem, SolveOptions(divert_margin_s=60.0), None, divert=True).assignments
    assert (a.unit, a.incident, a.preempted_from) == ("E", "I1", "I2")
    assert a.why.notes == (
        "diverted from I2 (priority 2): no free unit can reach it (margin 60 s); "
        "I2 is served again",
    )


def test_nearer_units_without_the_capability_up_to_three_strictly_nearer() -> None:
    """A (ALS) at 60 s. BLS-only units: B0 at 60 s (as near, not nearer: not named); then with
    B1..B4 at 10, 20, 30, 40 s (listed in another order) the three nearest, nearest first."""
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    units = (Unit("B1", BLS), Unit("B0", BLS), Unit("A", ALS))
    (a,) = solve(
        DispatchProblem(units, (call,), np.array([[10.0], [60.0], [60.0]])), SolveOptions()
    ).assignments
    assert a.why.notes == ("nearer but without ALS: B1",)
    names = ("B4", "B3", "B0", "B2", "B1", "A")
    etas = np.array([[40.0], [30.0], [60.0], [20.0], [10.0], [60.0]])
    units = tuple(Unit(n, ALS if n == "A" else BLS) for n in names)
    (a,) = solve(DispatchProblem(units, (call,), etas), SolveOptions()).assignments
    assert a.why.notes == ("nearer but without ALS: B1, B2, B3",)


def test_an_unmet_slot_lists_every_use_of_its_units() -> None:
    """I1 (P2, opened last) needs 2 ALS; C1 is on scene there (1 of 2). A goes to the older
    P2 call I0 (8 × 10 < 8 × 20), B to the P1 call I9: I1 is one short, and its two reachable
    units are used equally urgently and more urgently; the committed C1 is not one of them."""
    units = (
        Unit("C1", ALS, UnitStatus.ON_SCENE, incident="I1"),
        Unit("A", ALS),
        Unit("B", ALS),
    )
    calls = (
        Incident("I9", 1, "X", None, {"ALS": 1}, 600.0),
        Incident("I0", 2, "X", None, {"ALS": 1}, 600.0, opened_at=0.0),
        Incident("I1", 2, "X", None, {"ALS": 2}, 600.0, opened_at=1.0),
    )
    etas = np.array([[INF, INF, 0.0], [INF, 10.0, 20.0], [10.0, INF, 20.0]])
    plan = solve(DispatchProblem(units, calls, etas), SolveOptions())
    assert [(a.unit, a.incident) for a in plan.assignments] == [("B", "I9"), ("A", "I0")]
    assert [(m.incident, m.missing, m.reason) for m in plan.unmet] == [
        (
            "I1",
            1,
            "all 2 capable units that can reach it are used (equally urgent: 1, more urgent: 1)",
        )
    ]


def test_a_plan_of_committed_units_only_costs_nothing() -> None:
    units = (Unit("C1", ALS, UnitStatus.ON_SCENE, incident="A"),)
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    plan = solve(DispatchProblem(units, (call,), np.array([[0.0]])), SolveOptions())
    assert (plan.assignments, [a.unit for a in plan.committed]) == ((), ["C1"])
    assert (plan.objective.cost, plan.objective.late_assignments) == (0.0, 0)
    assert plan.objective.terms == dict.fromkeys(
        ("travel", "late", "preemption", "extra", "stability"), 0.0
    )


def test_the_extra_term_is_the_chosen_pairs_only() -> None:
    """A -> I1 (extra 5) and B -> I2 (extra 0); the pairs not chosen (7 and 3) are not in it."""
    units = (Unit("A", ALS), Unit("B", ALS))
    calls = (
        Incident("I1", 1, "X", None, {"ALS": 1}, 600.0),
        Incident("I2", 1, "X", None, {"ALS": 1}, 600.0),
    )
    extra = np.array([[5.0, 7.0], [3.0, 0.0]])
    problem = DispatchProblem(units, calls, np.array([[10.0, 100.0], [100.0, 10.0]]), extra)
    plan = solve(problem, SolveOptions())
    assert [(a.unit, a.incident) for a in plan.assignments] == [("A", "I1"), ("B", "I2")]
    assert plan.objective.terms["extra"] == 5.0
    assert plan.objective.cost == 16 * 10 + 16 * 10 + 5.0


@pytest.mark.parametrize(
    ("own_need", "use"), [("BLS", "not diverted: 1"), ("ALS", "this incident or its own: 1")]
)
def test_closest_idle_never_diverts_and_the_reason_says_what_the_unit_does(
    own_need: str, use: str
) -> None:
    """Closest-idle never pre-empts: the P1 call I1 stays unserved although E (ALS, on its way
    to the P3 call I3) could be diverted. If I3 needs BLS, E fills nothing there (not
    diverted); if I3 needs ALS, E stays committed to it (its own incident)."""
    units = (Unit("E", ALS, UnitStatus.EN_ROUTE, incident="I3"),)
    calls = (
        Incident("I1", 1, "X", None, {"ALS": 1}, 600.0),
        Incident("I3", 3, "X", None, {own_need: 1}, 600.0),
    )
    problem = DispatchProblem(units, calls, np.array([[30.0, 5.0]]))
    plan = solve(problem, SolveOptions(policy="closest_idle", allow_preemption=True))
    assert plan.assignments == ()
    assert [a.unit for a in plan.committed] == (["E"] if own_need == "ALS" else [])
    assert (plan.unmet[0].incident, plan.unmet[0].reason) == (
        "I1",
        f"all 1 capable units that can reach it are used ({use})",
    )


def test_a_nearer_unit_left_free_costs_the_difference() -> None:
    """FAR (100 s) kept by the 60 s bonus costs 16 × 40 = 640; N1 (99 s) would cost 1584:
    944 more."""
    units = (Unit("FAR", ALS), Unit("N1", ALS))
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    problem = DispatchProblem(units, (call,), np.array([[100.0], [99.0]]))
    (a,) = solve(problem, SolveOptions(), previous=_earlier([("FAR", "A")])).assignments
    assert (a.unit, a.why.notes) == (
        "FAR",
        (
            "kept from the previous plan",
            "1 s later than N1",
            "N1: left free (costs 944 weighted s more here)",
        ),
    )


def test_a_late_arrival_is_counted_and_charged() -> None:
    """One P1 call (target 600 s), its only unit 700 s away: 1 late assignment, travel
    16 × 700 = 11 200 and the late penalty 16 × 600 = 9600."""
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    plan = solve(DispatchProblem((Unit("U", ALS),), (call,), np.array([[700.0]])), SolveOptions())
    assert plan.objective.late_assignments == 1
    assert (plan.objective.terms["travel"], plan.objective.terms["late"]) == (11200.0, 9600.0)
    assert plan.objective.cost == 20800.0


def test_with_no_free_unit_a_diverted_unit_is_named_by_the_call_it_serves() -> None:
    """No free unit at all (the first arc is E's committed one): E, on its way to the P3 call
    I3, is diverted to the older P1 call I1 (gap 2); the other P1 call I2 is short because E
    serves an equally urgent call, not its own, and I3 has lost its only unit, now busy
    elsewhere (it used to say "1 already committed here")."""
    units = (Unit("E", ALS, UnitStatus.EN_ROUTE, incident="I3"),)
    calls = (
        Incident("I1", 1, "X", None, {"ALS": 1}, 600.0, opened_at=0.0),
        Incident("I2", 1, "X", None, {"ALS": 1}, 600.0, opened_at=1.0),
        Incident("I3", 3, "X", None, {"ALS": 1}, 600.0),
    )
    problem = DispatchProblem(units, calls, np.array([[10.0, 20.0, 0.0]]))
    plan = solve(problem, SolveOptions(allow_preemption=True))
    assert [(a.unit, a.incident, a.preempted_from) for a in plan.assignments] == [("E", "I1", "I3")]
    assert [(m.incident, m.reason) for m in plan.unmet] == [
        ("I2", "all 1 capable units that can reach it are used (equally urgent: 1)"),
        ("I3", "no available unit with ALS (1 busy or out of service)"),
    ]


@pytest.mark.parametrize("method", ["flow", "assignment"])
def test_free_arcs_are_still_filled(method: str) -> None:
    """Every arc at cost 0 (two units 0 s from a P1 call; a lone unit committed to a P5 call):
    the rewards must still be positive and SciPy must still see the arc (it drops explicit
    zero weights), so each slot is filled (by either of the two equally good units)."""
    call = Incident("A", 1, "X", None, {"ALS": 1}, 600.0)
    zero = DispatchProblem((Unit("U", ALS), Unit("V", ALS)), (call,), np.zeros((2, 1)))
    assert len(optimal_selection(build_candidates(zero, EXACT), method=method) or []) == 1
    low = Incident("L", 5, "X", None, {"ALS": 1}, 600.0)
    on_scene = Unit("C", ALS, UnitStatus.ON_SCENE, incident="L")
    committed = DispatchProblem((on_scene,), (low,), np.array([[0.0]]))
    assert optimal_selection(build_candidates(committed, EXACT), method=method) == [0]

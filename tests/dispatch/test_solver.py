"""The dispatch solver: invariants, equality with an independent exact MIP, hand-made cases."""

from __future__ import annotations

import math
from dataclasses import replace

import highspy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.dispatch.domain import (
    DispatchProblem,
    Incident,
    Plan,
    SolveOptions,
    Unit,
    UnitStatus,
)
from planner.dispatch.solver import POLICIES, register_policy, solve
from planner.errors import InputError

INF = math.inf
CAPS = ("ALS", "BLS", "ENGINE")
STATUSES = (
    [UnitStatus.AVAILABLE] * 6
    + [UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE]
    + [UnitStatus.TRANSPORTING, UnitStatus.OUT_OF_SERVICE, UnitStatus.RETURNING]
)


def random_problem(
    seed: int, n_units: int, n_incidents: int
) -> tuple[DispatchProblem, SolveOptions, list[tuple[str, str]]]:
    """A random instance with integer ETAs, busy units, unreachable pairs and options."""
    rng = np.random.default_rng(seed)
    incidents = tuple(
        Incident(
            id=f"I{i}",
            priority=int(rng.integers(1, 6)),
            code="X",
            location=None,
            requirements={cap: int(rng.integers(0, 3)) for cap in CAPS if rng.random() < 0.6},
            target_s=float(rng.integers(100, 700)),
            opened_at=float(rng.integers(0, 5)),
        )
        for i in range(n_incidents)
    )
    units = []
    for u in range(n_units):
        caps = frozenset(c for c in CAPS if rng.random() < 0.45) or frozenset({CAPS[u % 3]})
        status = STATUSES[int(rng.integers(0, len(STATUSES)))]
        incident = None
        if status in (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE):
            incident = f"I{int(rng.integers(0, n_incidents))}"
        units.append(Unit(id=f"U{u}", capabilities=caps, status=status, incident=incident))
    tt = rng.integers(10, 900, size=(n_units, n_incidents)).astype(np.float64)
    tt[rng.random(tt.shape) < 0.15] = INF
    extra = None
    if rng.random() < 0.3:
        extra = rng.integers(0, 300, size=tt.shape).astype(np.float64)
    options = SolveOptions(
        allow_preemption=bool(rng.random() < 0.5),
        preemption_gap=int(rng.integers(1, 4)),
        preemption_cost_s=float(rng.integers(0, 400)),
        stability_bonus_s=float(rng.integers(0, 200)),
        late_penalty_s=float(rng.integers(0, 900)),
    )
    previous = [
        (f"U{int(rng.integers(0, n_units))}", f"I{int(rng.integers(0, n_incidents))}")
        for _ in range(int(rng.integers(0, 4)))
    ]
    problem = DispatchProblem(tuple(units), incidents, tt, extra_cost_s=extra)
    return problem, options, previous


def previous_plan(pairs: list[tuple[str, str]], problem: DispatchProblem) -> Plan | None:
    """A minimal earlier plan recommending ``pairs``."""
    from planner.dispatch.domain import Assignment, Objective, Why

    if not pairs:
        return None
    assignments = tuple(
        Assignment(unit=u, incident=i, capability="ALS", eta_s=0.0, why=Why(0, None, None))
        for u, i in pairs
    )
    return Plan("optimal", "optimal", assignments, (), Objective({}, 0.0, 0), SolveOptions(), 0.0)


def mip_reference(
    problem: DispatchProblem, options: SolveOptions, pairs: list[tuple[str, str]]
) -> tuple[dict[int, int], float]:
    """Independent exact lexicographic optimum with HiGHS: slots level by level, then cost."""
    stable = set(pairs)
    incident_of = {inc.id: inc for inc in problem.incidents}
    w = options.priority_weights
    h = highspy.Highs()
    h.silent()
    # One thread, as planner.dispatch.bound: HiGHS' worker pool is per process and sized by the
    # first solve, and it does not survive a fork (mutmut forks a child per mutant).
    h.setOptionValue("threads", 1)
    arcs: list[tuple[int, int, str, float, object]] = []
    for u, unit in enumerate(problem.units):
        for i, inc in enumerate(problem.incidents):
            eta = float(problem.travel_times_s[u, i])
            for cap, count in inc.requirements.items():
                if count <= 0 or cap not in unit.capabilities:
                    continue
                cost = w[inc.priority] * (eta + options.late_penalty_s * (eta > inc.target_s))
                if problem.extra_cost_s is not None:
                    cost += float(problem.extra_cost_s[u, i])
                if (unit.id, inc.id) in stable:
                    cost -= options.stability_bonus_s * w[inc.priority]
                busy = unit.status in (
                    UnitStatus.DISPATCHED,
                    UnitStatus.EN_ROUTE,
                    UnitStatus.ON_SCENE,
                )
                if busy and unit.incident == inc.id:
                    cost = 0.0
                elif unit.status == UnitStatus.AVAILABLE and math.isfinite(eta):
                    pass
                elif (
                    options.allow_preemption
                    and unit.status in (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE)
                    and unit.incident in incident_of
                    and incident_of[unit.incident].priority - inc.priority >= options.preemption_gap
                    and math.isfinite(eta)
                ):
                    cost += options.preemption_cost_s * w[inc.priority]
                else:
                    continue
                cost = max(cost, 0.0)  # arcs are at best free
                var = h.addVariable(lb=0, ub=1, type=highspy.HighsVarType.kInteger)
                arcs.append((u, i, cap, cost, var))
    if not arcs:
        return dict.fromkeys(range(1, 6), 0), 0.0
    for u in range(len(problem.units)):
        mine = [a[4] for a in arcs if a[0] == u]
        if len(mine) > 1:
            h.addConstr(sum(mine[1:], mine[0]) <= 1)  # type: ignore[arg-type]
    for i, inc in enumerate(problem.incidents):
        for cap, count in inc.requirements.items():
            mine = [a[4] for a in arcs if a[1] == i and a[2] == cap]
            if mine:
                h.addConstr(sum(mine[1:], mine[0]) <= count)  # type: ignore[arg-type]
    filled: dict[int, int] = {}
    for p in range(1, 6):
        level = [a[4] for a in arcs if problem.incidents[a[1]].priority == p]
        if not level:
            filled[p] = 0
            continue
        expr = sum(level[1:], level[0])  # type: ignore[arg-type]
        h.maximize(expr)
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, h.getModelStatus()
        best = round(h.getInfo().objective_function_value)
        filled[p] = best
        h.addConstr(expr >= best)
    h.minimize(sum((a[3] * a[4] for a in arcs[1:]), arcs[0][3] * arcs[0][4]))  # type: ignore[operator]
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, h.getModelStatus()
    return filled, h.getInfo().objective_function_value


def check_invariants(problem: DispatchProblem, options: SolveOptions, plan: Plan) -> None:
    units = {unit.id: unit for unit in problem.units}
    incidents = {inc.id: inc for inc in problem.incidents}
    everyone = [a.unit for a in plan.assignments] + [a.unit for a in plan.committed]
    assert len(everyone) == len(set(everyone)), "a unit is used twice"
    fill: dict[tuple[str, str], int] = {}
    for a in plan.assignments + plan.committed:
        fill[a.incident, a.capability] = fill.get((a.incident, a.capability), 0) + 1
        assert a.capability in units[a.unit].capabilities
    for (i, cap), n in fill.items():
        assert n <= incidents[i].requirements[cap], "group over-filled"
    for a in plan.assignments:
        unit = units[a.unit]
        if a.preempted_from is None:
            assert unit.status == UnitStatus.AVAILABLE
        else:
            assert options.allow_preemption
            assert unit.status in (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE)
            gap = incidents[a.preempted_from].priority - incidents[a.incident].priority
            assert gap >= options.preemption_gap
        assert math.isfinite(a.eta_s)
    for a in plan.committed:
        assert units[a.unit].incident == a.incident
    for m in plan.unmet:
        assert m.missing == incidents[m.incident].requirements[m.capability] - fill.get(
            (m.incident, m.capability), 0
        )
        assert m.reason


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_units=st.integers(1, 12),
    n_incidents=st.integers(1, 6),
)
def test_optimal_equals_exact_mip_small(seed: int, n_units: int, n_incidents: int) -> None:
    problem, options, pairs = random_problem(seed, n_units, n_incidents)
    plan = solve(problem, options, previous=previous_plan(pairs, problem))
    check_invariants(problem, options, plan)
    assert plan.status == "optimal"
    filled, cost = mip_reference(problem, options, pairs)
    assert {p: plan.objective.filled_by_priority.get(p, 0) for p in range(1, 6)} == filled
    assert plan.objective.cost == pytest.approx(cost, abs=1e-6)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_optimal_equals_exact_mip_medium(seed: int) -> None:
    problem, options, pairs = random_problem(seed, 60, 20)
    plan = solve(problem, options, previous=previous_plan(pairs, problem))
    check_invariants(problem, options, plan)
    filled, cost = mip_reference(problem, options, pairs)
    assert {p: plan.objective.filled_by_priority.get(p, 0) for p in range(1, 6)} == filled
    assert plan.objective.cost == pytest.approx(cost, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_units=st.integers(1, 15),
    n_incidents=st.integers(1, 8),
)
def test_closest_idle_invariants_and_never_better(
    seed: int, n_units: int, n_incidents: int
) -> None:
    problem, options, _ = random_problem(seed, n_units, n_incidents)
    options = replace(options, allow_preemption=False)
    greedy = solve(problem, replace(options, policy="closest_idle"))
    check_invariants(problem, options, greedy)
    assert all(a.preempted_from is None for a in greedy.assignments)
    best = solve(problem, options)
    levels = range(1, 6)
    best_key = [best.objective.filled_by_priority[p] for p in levels]
    greedy_key = [greedy.objective.filled_by_priority[p] for p in levels]
    assert best_key >= greedy_key
    if best_key == greedy_key:
        assert best.objective.cost <= greedy.objective.cost + 1e-6


def test_same_input_same_plan() -> None:
    problem, options, pairs = random_problem(7, 40, 12)
    a = solve(problem, options, previous=previous_plan(pairs, problem))
    b = solve(problem, options, previous=previous_plan(pairs, problem))
    assert replace(a, solve_ms=0.0) == replace(b, solve_ms=0.0)


def _unit(uid: str, *caps: str, **kw: object) -> Unit:
    return Unit(id=uid, capabilities=frozenset(caps), **kw)  # type: ignore[arg-type]


def _incident(iid: str, priority: int, req: dict[str, int], *, opened: float = 0.0) -> Incident:
    return Incident(iid, priority, "X", None, req, target_s=600.0, opened_at=opened)


def test_closest_idle_worse_by_travel_and_explained() -> None:
    """Sending the nearest unit to the older call leaves the other call a long wait."""
    problem = DispatchProblem(
        (_unit("M1", "ALS"), _unit("M2", "ALS")),
        (_incident("I1", 1, {"ALS": 1}), _incident("I2", 1, {"ALS": 1}, opened=5.0)),
        np.array([[60.0, 100.0], [120.0, 1000.0]]),
    )
    greedy = solve(problem, SolveOptions(policy="closest_idle"))
    assert {(a.unit, a.incident) for a in greedy.assignments} == {("M1", "I1"), ("M2", "I2")}
    best = solve(problem, SolveOptions())
    assert {(a.unit, a.incident) for a in best.assignments} == {("M2", "I1"), ("M1", "I2")}
    assert best.objective.cost == 16 * 220
    assert greedy.objective.cost == 16 * (60 + 1000 + 600)
    m2 = next(a for a in best.assignments if a.unit == "M2")
    assert m2.why.rank == 2
    assert (m2.why.next_best_unit, m2.why.next_best_eta_s) == ("M1", 60.0)
    assert "M1: assigned to I2 (priority 1)" in m2.why.notes


def test_closest_idle_loses_a_slot_optimal_fills_both() -> None:
    """The only BLS unit is also the nearest ALS: greedy spends it on the urgent call."""
    problem = DispatchProblem(
        (_unit("X", "ALS", "BLS"), _unit("Y", "ALS")),
        (_incident("I1", 1, {"ALS": 1}), _incident("I2", 2, {"BLS": 1})),
        np.array([[50.0, 80.0], [90.0, INF]]),
    )
    greedy = solve(problem, SolveOptions(policy="closest_idle"))
    assert greedy.objective.filled_by_priority == {1: 1, 2: 0, 3: 0, 4: 0, 5: 0}
    assert greedy.unmet[0].reason == "all 1 capable units assigned to more urgent incidents"
    best = solve(problem, SolveOptions())
    assert best.objective.filled_by_priority == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0}
    y = next(a for a in best.assignments if a.unit == "Y")
    assert y.incident == "I1"
    assert "X: assigned to I2 (priority 2)" in y.why.notes
    assert best.unmet == ()


def test_unmet_reasons() -> None:
    problem = DispatchProblem(
        (
            _unit("E1", "ENGINE"),
            _unit("L1", "LADDER", status=UnitStatus.OUT_OF_SERVICE),
            _unit("A1", "ALS"),
        ),
        (_incident("I1", 2, {"ENGINE": 1, "LADDER": 1, "ALS": 1, "GAS": 1}),),
        np.array([[100.0], [50.0], [INF]]),
    )
    plan = solve(problem, SolveOptions())
    reasons = {m.capability: m.reason for m in plan.unmet}
    assert reasons == {
        "LADDER": "no available unit with LADDER (1 busy or out of service)",
        "ALS": "no available unit with ALS can reach it",
        "GAS": "no unit has GAS",
    }


def test_committed_units_count_first() -> None:
    problem = DispatchProblem(
        (
            _unit("E1", "ENGINE", status=UnitStatus.ON_SCENE, incident="I1"),
            _unit("E2", "ENGINE"),
            _unit("E3", "ENGINE"),
        ),
        (_incident("I1", 3, {"ENGINE": 2}),),
        np.array([[INF], [200.0], [100.0]]),
    )
    plan = solve(problem, SolveOptions())
    assert [(a.unit, a.incident) for a in plan.committed] == [("E1", "I1")]
    assert [(a.unit, a.incident) for a in plan.assignments] == [("E3", "I1")]
    assert plan.objective.filled_by_priority[3] == 2
    fire = DispatchProblem(problem.units[:1], problem.incidents, problem.travel_times_s[:1])
    assert solve(fire, SolveOptions()).unmet[0].reason == (
        "no available unit with ENGINE (1 already committed here, 0 busy elsewhere or out of "
        "service)"
    )


def _preemption_problem(status: UnitStatus) -> DispatchProblem:
    return DispatchProblem(
        (_unit("M9", "ALS", status=status, incident="I9"), _unit("M2", "ALS")),
        (_incident("I1", 1, {"ALS": 1}), _incident("I9", 4, {"ALS": 1})),
        np.array([[120.0, 30.0], [INF, 400.0]]),
    )


def test_preemption_diverts_en_route_unit_to_much_more_urgent() -> None:
    problem = _preemption_problem(UnitStatus.EN_ROUTE)
    without = solve(problem, SolveOptions())
    assert [m.incident for m in without.unmet] == ["I1"]
    plan = solve(problem, SolveOptions(allow_preemption=True, preemption_gap=2))
    assert plan.unmet == ()
    diverted = next(a for a in plan.assignments if a.unit == "M9")
    assert (diverted.incident, diverted.preempted_from) == ("I1", "I9")
    assert "diverted from I9" in diverted.why.notes
    refill = next(a for a in plan.assignments if a.unit == "M2")
    assert refill.incident == "I9"
    assert plan.objective.terms["preemption"] == 16 * 300.0


def test_preemption_respects_gap_and_on_scene() -> None:
    on_scene = solve(_preemption_problem(UnitStatus.ON_SCENE), SolveOptions(allow_preemption=True))
    assert [m.incident for m in on_scene.unmet] == ["I1"]
    narrow = solve(
        _preemption_problem(UnitStatus.EN_ROUTE),
        SolveOptions(allow_preemption=True, preemption_gap=4),
    )
    assert [m.incident for m in narrow.unmet] == ["I1"]


def test_stability_bonus_keeps_previous_recommendation() -> None:
    problem = DispatchProblem(
        (_unit("A", "ALS"), _unit("B", "ALS")),
        (_incident("I1", 2, {"ALS": 1}),),
        np.array([[100.0], [130.0]]),
    )
    assert solve(problem, SolveOptions()).assignments[0].unit == "A"
    previous = previous_plan([("B", "I1")], problem)
    kept = solve(problem, SolveOptions(stability_bonus_s=60.0), previous=previous)
    assert kept.assignments[0].unit == "B"
    assert "kept from the previous plan" in kept.assignments[0].why.notes
    assert kept.objective.terms["stability"] == -8 * 60.0
    small = solve(problem, SolveOptions(stability_bonus_s=10.0), previous=previous)
    assert small.assignments[0].unit == "A"


def test_unknown_policy_names_it() -> None:
    problem, options, _ = random_problem(1, 3, 2)
    with pytest.raises(InputError, match="nearest_fairy") as err:
        solve(problem, replace(options, policy="nearest_fairy"))
    assert err.value.field == "policy"


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("travel_times_s", {"travel_times_s": np.zeros((2, 2))}),
        ("travel_times_s", {"travel_times_s": np.full((3, 2), np.nan)}),
        ("travel_times_s", {"travel_times_s": np.full((3, 2), -1.0)}),
        ("extra_cost_s", {"extra_cost_s": np.zeros((3, 3))}),
        ("extra_cost_s", {"extra_cost_s": np.full((3, 2), np.inf)}),
    ],
)
def test_bad_matrices_are_input_errors(field: str, change: dict[str, object]) -> None:
    problem, options, _ = random_problem(1, 3, 2)
    with pytest.raises(InputError) as err:
        solve(replace(problem, **change), options)  # type: ignore[arg-type]
    assert err.value.field == field


def test_register_policy() -> None:
    def always_closest(
        problem: DispatchProblem, options: SolveOptions, previous: Plan | None
    ) -> Plan:
        return POLICIES["closest_idle"](problem, options, previous)

    register_policy("test_alias", always_closest)
    try:
        problem, options, _ = random_problem(3, 6, 3)
        plan = solve(problem, replace(options, policy="test_alias"))
        assert plan.solve_ms > 0
    finally:
        del POLICIES["test_alias"]


@pytest.mark.parametrize("policy", ["optimal", "closest_idle"])
def test_empty_problems(policy: str) -> None:
    options = SolveOptions(policy=policy)
    assert solve(DispatchProblem((), (), np.zeros((0, 0))), options).assignments == ()
    lonely = DispatchProblem((), (_incident("I1", 1, {"ALS": 1}),), np.zeros((0, 1)))
    assert solve(lonely, options).unmet[0].reason == "no unit has ALS"


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_units=st.integers(1, 30),
    n_incidents=st.integers(1, 12),
)
def test_assignment_and_flow_methods_agree(seed: int, n_units: int, n_incidents: int) -> None:
    from planner.dispatch.candidates import build_candidates
    from planner.dispatch.explain import objective_of
    from planner.dispatch.solver import optimal_selection

    problem, options, pairs = random_problem(seed, n_units, n_incidents)
    cand = build_candidates(problem, options, previous_pairs=pairs)
    by_assignment = optimal_selection(cand, method="assignment")
    by_flow = optimal_selection(cand, method="flow")
    assert by_assignment is not None and by_flow is not None
    a = objective_of(problem, options, cand, by_assignment)
    b = objective_of(problem, options, cand, by_flow)
    assert a.filled_by_priority == b.filled_by_priority
    assert a.cost == pytest.approx(b.cost, abs=1e-6)


def test_explanation_names_nearer_units_without_the_capability() -> None:
    problem = DispatchProblem(
        (_unit("B1", "BLS"), _unit("A1", "ALS"), _unit("B2", "BLS")),
        (_incident("I1", 2, {"ALS": 1}),),
        np.array([[10.0], [50.0], [20.0]]),
    )
    (assignment,) = solve(problem, SolveOptions()).assignments
    assert assignment.unit == "A1"
    assert (assignment.why.rank, assignment.why.next_best_unit) == (1, None)
    assert "nearer but without ALS: B1, B2" in assignment.why.notes


def test_costs_too_large_to_be_exact_fall_back_to_closest_idle() -> None:
    problem = DispatchProblem(
        (_unit("A", "ALS"), _unit("B", "ALS")),
        (_incident("I1", 1, {"ALS": 1}),),
        np.array([[3e17], [1e17]]),
    )
    plan = solve(problem, SolveOptions())
    assert plan.status == "fallback"
    assert [a.unit for a in plan.assignments] == ["B"]


@pytest.mark.parametrize("policy", ["optimal", "closest_idle"])
@pytest.mark.parametrize("stability", [0.0, 60.0])
def test_committed_slot_is_never_filled_twice(policy: str, stability: float) -> None:
    """Regression (issue 12): a free unit at 0 s (or one the previous plan recommended) tied
    with the unit already en route, and the call got a second ambulance."""
    problem = DispatchProblem(
        (
            _unit("M1", "ALS", status=UnitStatus.EN_ROUTE, incident="I1"),
            _unit("M2", "ALS"),
        ),
        (_incident("I1", 1, {"ALS": 1}),),
        np.array([[0.0], [0.0]]),
    )
    previous = previous_plan([("M2", "I1")], problem)
    plan = solve(
        problem, SolveOptions(policy=policy, stability_bonus_s=stability), previous=previous
    )
    assert [(a.unit, a.incident) for a in plan.committed] == [("M1", "I1")]
    assert plan.assignments == ()

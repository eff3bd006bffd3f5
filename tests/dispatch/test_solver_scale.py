"""City-scale solving: the sparse assignment taken from ``ASSIGNMENT_FROM_ARCS`` arcs returns
the flow's optimum (the flow itself is checked against an independent HiGHS MIP in
``test_solver``), and the very same arcs whenever the optimum is unique."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from planner.dispatch.candidates import _stable_argsort, build_candidates
from planner.dispatch.domain import DispatchProblem, Incident, SolveOptions, Unit, UnitStatus
from planner.dispatch.explain import objective_of
from planner.dispatch.solver import ASSIGNMENT_FROM_ARCS, optimal_selection, solve
from tests.dispatch.test_solver import previous_plan, random_problem

CAPS = ("ALS", "BLS", "ENGINE")


def unique_optimum_problem(seed: int) -> DispatchProblem:
    """Single-capability units, nobody committed yet and continuous random ETAs: two different
    selections cost the same with probability 0, so the optimum is unique."""
    rng = np.random.default_rng(seed)
    units = tuple(
        Unit(
            id=f"U{u}",
            capabilities=frozenset({CAPS[u % 3]}),
            status=UnitStatus.AVAILABLE if rng.random() < 0.9 else UnitStatus.OUT_OF_SERVICE,
        )
        for u in range(160)
    )
    incidents = tuple(
        Incident(
            id=f"I{i}",
            priority=int(rng.integers(1, 6)),
            code="X",
            location=None,
            requirements={c: int(rng.integers(1, 3)) for c in CAPS if rng.random() < 0.5}
            or {CAPS[i % 3]: 1},
            target_s=float(rng.uniform(300, 1200)),
            opened_at=float(i),
        )
        for i in range(90)
    )
    tt = rng.uniform(20.0, 1500.0, size=(len(units), len(incidents)))
    tt[rng.random(tt.shape) < 0.05] = np.inf
    return DispatchProblem(units, incidents, tt)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_assignment_picks_the_flows_arcs_when_the_optimum_is_unique(seed: int) -> None:
    cand = build_candidates(unique_optimum_problem(seed), SolveOptions())
    assert cand.n_arcs >= ASSIGNMENT_FROM_ARCS
    assert optimal_selection(cand) == optimal_selection(cand, method="flow")


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_city_scale_plan_has_the_flows_objective(seed: int) -> None:
    """Committed units, pre-emption, stability and extra costs included (ties possible: only
    the objective is compared)."""
    problem, options, pairs = random_problem(seed, 320, 90)
    cand = build_candidates(problem, options, previous_pairs=pairs)
    assume(cand.n_arcs >= ASSIGNMENT_FROM_ARCS)  # nearly always (about 4,600 arcs at least)
    plan = solve(problem, options, previous=previous_plan(pairs, problem))
    by_flow = optimal_selection(cand, method="flow")
    assert by_flow is not None
    reference = objective_of(problem, options, cand, by_flow)
    assert plan.objective.filled_by_priority == reference.filled_by_priority
    assert plan.objective.cost == pytest.approx(reference.cost, abs=1e-6)
    kept = sum(1 for a in by_flow if cand.kind[a] == 1)
    assert len(plan.committed) == kept


@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(st.integers(0, 30), max_size=300),
    scale=st.sampled_from([1.0, 0.25, 1e-9]),
)
def test_pools_sort_equals_numpys_stable_sort(keys: list[int], scale: float) -> None:
    """The pools' fast sort keeps tied ETAs in arc order, as the stable sort did."""
    key = np.array(keys, dtype=np.float64) * scale
    np.testing.assert_array_equal(_stable_argsort(key), np.argsort(key, kind="stable"))

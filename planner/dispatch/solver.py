"""Dispatch solver: which units to send where, now, under the documented objective.

``solve`` dispatches on ``options.policy`` through a small registry, so other modules (the
simulator's coverage policy) can add policies with :func:`register_policy`. Built in:

- ``optimal``: one exact bipartite matching of units to requirement slots. Every filled
  slot earns a reward ``(6 - p) * G`` with ``G`` larger than the cost range of any
  matching. Fillable slot sets form a (transversal) matroid, so maximising these strictly
  decreasing rewards fills slots lexicographically by priority, and the cost is minimised
  among those: the lexicographic objective in one exact solve (checked against a
  level-by-level HiGHS MIP in the tests). Solved as an OR-Tools min-cost flow (the
  project's solver library); from :data:`ASSIGNMENT_FROM_ARCS` candidate arcs (city scale)
  as the same model's sparse assignment problem (SciPy LAPJVsp), several times faster there.
  Both are exact and the tests check they agree; they can differ only in which of several
  equally good plans they return.
- ``closest_idle``: the greedy baseline (:mod:`planner.dispatch.closest_idle`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from planner.arrays import IntArray
from planner.dispatch.candidates import ArcKind, Candidates, build_candidates
from planner.dispatch.closest_idle import closest_idle_selection
from planner.dispatch.domain import DispatchProblem, Plan, SolveOptions
from planner.dispatch.explain import build_plan
from planner.errors import InputError

Policy = Callable[[DispatchProblem, SolveOptions, "Plan | None"], Plan]
"""A policy maps a problem, options and the previous plan (if any) to a plan."""

POLICIES: dict[str, Policy] = {}

RELOCATIONS = ("dmexclp", "mip")
"""Relocation rules a policy string ``DISPATCH+RELOCATION`` may name; they decide where free
units wait (:mod:`planner.dispatch.coverage`), not which unit goes, so ``solve`` ignores them."""

_MAX_COST = 2**62
"""Rewards and costs are scaled so that OR-Tools' internal arithmetic cannot overflow. Its
min-cost flow refuses (``BAD_COST_RANGE``) a graph of ``n`` nodes whose largest arc cost ``C``
has ``2.4 * C * (n + 3) >= 2**63`` (measured with OR-Tools 9.15 for n = 2 to 1000); the flow
is used only while ``12 * big * (n + 3) < 2**62``, where ``C = 5 * big`` (the reward of a
priority-1 slot): a factor 2 below that limit."""
_MAX_FLOAT_INT = 2**52
"""Integers below this are exact in float64, which the assignment solver computes in."""

ASSIGNMENT_FROM_ARCS = 4000
"""``optimal_selection(method="auto")`` solves problems with at least this many candidate arcs
as a sparse assignment (about 5 ms at 500 units × 200 incidents, where the flow takes 30 ms or
more) and smaller ones as a flow: a simulator's or a control room's usual decisions keep
exactly the plans (and the choice among equally good ones) they always had."""


def register_policy(name: str, policy: Policy) -> None:
    """Make ``policy`` selectable as ``options.policy == name`` (replaces an existing one)."""
    POLICIES[name] = policy


def solve(problem: DispatchProblem, options: SolveOptions, *, previous: Plan | None = None) -> Plan:
    """Recommend assignments for ``problem``; deterministic for the same input.

    ``solve_ms`` on the returned plan is the wall time of the whole policy, explanations
    included.
    """
    policy = check_policy(options.policy)
    _check_shapes(problem)
    start = time.perf_counter()
    plan = policy(problem, options, previous)
    return replace(plan, solve_ms=(time.perf_counter() - start) * 1000.0)


def check_policy(name: str) -> Policy:
    """The dispatch rule of a ``DISPATCH[+RELOCATION]`` string; ``InputError`` naming
    ``policy`` when either part is unknown."""
    check_policy_name(name)
    policy = POLICIES.get(name.partition("+")[0])
    if policy is None:
        known = ", ".join(sorted(POLICIES))
        raise InputError(f"unknown policy {name!r} (known: {known})", field="policy")
    return policy


def check_policy_name(name: str) -> None:
    """``InputError`` naming ``policy`` unless ``name`` is ``DISPATCH[+RELOCATION]`` with a
    registered dispatch rule (or ``coverage``, which a live engine runs on its own region)
    and a known relocation rule."""
    dispatch, _, relocation = name.partition("+")
    if dispatch not in POLICIES and dispatch != "coverage":
        known = ", ".join(sorted({*POLICIES, "coverage"}))
        raise InputError(f"unknown policy {name!r} (known: {known})", field="policy")
    if relocation and relocation not in RELOCATIONS:
        raise InputError(
            f"unknown relocation {relocation!r} in policy {name!r} "
            f"(known: {', '.join(RELOCATIONS)})",
            field="policy",
        )


def previous_pairs(previous: Plan | None) -> list[tuple[str, str]]:
    """The ``(unit, incident)`` recommendations of a previous plan, for the stability bonus."""
    if previous is None:
        return []
    return [(a.unit, a.incident) for a in previous.assignments]


def solve_optimal(
    problem: DispatchProblem, options: SolveOptions, previous: Plan | None, *, divert: bool = False
) -> Plan:
    """The exact lexicographic optimum (status ``optimal``; ``fallback`` to closest-idle only if
    the costs are too large to represent exactly). ``divert``: the ``coverage`` rule's
    diversions to priority 1 (:mod:`planner.dispatch.candidates`).

    ``options.time_limit_s`` is honoured at the one point where it can be: the exact solve is
    polynomial but not interruptible, so if building the candidates has already used the budget
    the plan is closest-idle with status ``feasible`` (best found in time) instead.
    """
    deadline = time.perf_counter() + options.time_limit_s
    cand = build_candidates(
        problem, options, previous_pairs=previous_pairs(previous), divert=divert
    )
    if time.perf_counter() > deadline:
        status, exact = "feasible", None
    else:
        exact = optimal_selection(cand)
        status = "optimal" if exact is not None else "fallback"
    chosen = (
        exact if exact is not None else closest_idle_selection(cand, order=incident_order(problem))
    )
    return build_plan(problem, options, cand, chosen, status=status, solve_ms=0.0)


def solve_closest_idle(
    problem: DispatchProblem, options: SolveOptions, previous: Plan | None
) -> Plan:
    """The greedy closest-idle baseline (status ``feasible``: never proven optimal)."""
    cand = build_candidates(problem, options, previous_pairs=previous_pairs(previous))
    chosen = closest_idle_selection(cand, order=incident_order(problem))
    return build_plan(problem, options, cand, chosen, status="feasible", solve_ms=0.0)


def incident_order(problem: DispatchProblem) -> list[int]:
    """Incident indices by priority, then ``opened_at``, then input order."""
    return sorted(
        range(len(problem.incidents)),
        key=lambda i: (problem.incidents[i].priority, problem.incidents[i].opened_at, i),
    )


def optimal_selection(cand: Candidates, *, method: str = "auto") -> list[int] | None:
    """Chosen arc indices of the lexicographic optimum, or ``None`` if no exact method could
    run (costs too large to represent exactly).

    ``method="flow"`` solves it as an OR-Tools min-cost flow; ``method="assignment"``
    expands each group into its slots and solves a sparse min-weight full bipartite matching
    (SciPy's LAPJVsp) in which every slot may instead take its own zero-cost dummy column
    (the flow when the costs are too large for its float arithmetic); ``"auto"`` (default)
    picks the assignment from :data:`ASSIGNMENT_FROM_ARCS` arcs. All are exact;
    ``bench/bench_solver.py`` times them side by side.
    """
    if method not in ("assignment", "flow", "auto"):
        raise ValueError(f"unknown method {method!r}")
    if cand.n_arcs == 0:
        return []
    if method == "auto":
        method = "assignment" if cand.n_arcs >= ASSIGNMENT_FROM_ARCS else "flow"
    n_units = int(cand.unit.max()) + 1
    n_slots = sum(g.capacity for g in cand.groups)
    n_nodes = 2 + n_units + len(cand.groups)
    max_abs = float(np.abs(cand.cost).max()) * (int((cand.kind == ArcKind.COMMITTED).sum()) + 1)
    resolution = 100.0  # centiseconds: integer costs
    while resolution >= 1.0:  # never coarser than whole weighted seconds
        big_estimate = 2.0 * n_units * max_abs * resolution + 2.0
        use_assignment = method == "assignment" and n_slots * 8 * big_estimate < _MAX_FLOAT_INT
        if use_assignment or 12 * big_estimate * (n_nodes + 3) < _MAX_COST:
            icost = _committed_first(cand, np.rint(cand.cost * resolution).astype(np.int64))
            big = 2 * n_units * int(np.abs(icost).max()) + 1
            if use_assignment:
                return _run_assignment(cand, icost, big, n_units)
            return _run_flow(cand, icost, big, n_units)
        resolution /= 10.0
    return None


def _committed_first(cand: Candidates, icost: IntArray) -> IntArray:
    """Scale the costs by ``c + 1`` (``c`` committed arcs) and charge each committed arc -1.

    A committed unit left out of the matching is still on its way in reality, so a free unit
    filling its slot instead sends the call a second unit. At equal cost (a free unit at 0 s)
    that used to be a tie the free unit could win (issue 12). After this change the minimum
    is lexicographic: the same fills, the same cost, then as many commitments kept as
    possible; arc costs are never negative (:func:`build_candidates`), so a free unit never
    displaces a committed one.
    """
    committed = cand.kind == int(ArcKind.COMMITTED)
    n_committed = int(committed.sum())
    if n_committed == 0:
        return icost
    return np.where(committed, -1, icost * (n_committed + 1))


def _run_assignment(cand: Candidates, icost: IntArray, big: int, n_units: int) -> list[int]:
    """Slots × (units + one dummy per slot), weights shifted positive by a constant ``shift``
    (every slot row is matched exactly once, so the shift does not change the optimum).

    The matrix is laid out directly in CSR form (rows by slot, each row's units ascending,
    its dummy last), which is the canonical form a COO build would sort into.
    """
    n_groups = len(cand.groups)
    capacity = np.array([g.capacity for g in cand.groups], dtype=np.int64)
    reward = np.array([(6 - g.priority) * big for g in cand.groups], dtype=np.int64)
    # Each (unit, group) pair has at most one arc: these keys are unique, and sorted they
    # order every group's arcs by unit (and find the arc of a matched slot and unit).
    pair_key = cand.group * n_units + cand.unit
    by_group = np.argsort(pair_key)
    sorted_key = pair_key[by_group]
    count = np.bincount(cand.group, minlength=n_groups)
    group_start = np.cumsum(count) - count
    slot_group = np.repeat(np.arange(n_groups, dtype=np.int64), capacity)
    n_slots = int(slot_group.shape[0])
    per_slot = count[slot_group]
    indptr = np.zeros(n_slots + 1, dtype=np.int64)
    np.cumsum(per_slot + 1, out=indptr[1:])
    entry_slot = np.repeat(np.arange(n_slots, dtype=np.int64), per_slot)
    first_entry = np.cumsum(per_slot) - per_slot
    offset = np.arange(entry_slot.shape[0], dtype=np.int64) - np.repeat(first_entry, per_slot)
    arc_of = by_group[group_start[slot_group[entry_slot]] + offset]
    position = indptr[entry_slot] + offset
    shift = 6 * big + int(np.abs(icost).max()) + 1
    nnz = int(indptr[-1])
    data = np.full(nnz, float(shift))
    indices = np.empty(nnz, dtype=np.int64)
    data[position] = (icost[arc_of] - reward[cand.group[arc_of]] + shift).astype(np.float64)
    indices[position] = cand.unit[arc_of]
    indices[indptr[1:] - 1] = n_units + np.arange(n_slots, dtype=np.int64)
    matrix = csr_matrix((data, indices, indptr), shape=(n_slots, n_units + n_slots))
    slot, column = min_weight_full_bipartite_matching(matrix)
    filled = column < n_units
    wanted = slot_group[slot[filled]] * n_units + column[filled].astype(np.int64)
    arcs = by_group[np.searchsorted(sorted_key, wanted)]
    return [int(a) for a in np.sort(arcs)]


def _run_flow(cand: Candidates, icost: IntArray, big: int, n_units: int) -> list[int] | None:
    """source → unit (cap 1) → group (cap 1, cost) → sink (cap = count, reward), plus a
    source → sink bypass for units left idle."""
    source, sink, unit_base, group_base = 0, 1, 2, 2 + n_units
    n_groups = len(cand.groups)
    priorities = np.array([g.priority for g in cand.groups], dtype=np.int64)
    capacity = np.array([g.capacity for g in cand.groups], dtype=np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.full(n_units, source, np.int64),
        unit_base + np.arange(n_units, dtype=np.int64),
        np.ones(n_units, np.int64),
        np.zeros(n_units, np.int64),
    )
    first_arc = n_units
    flow.add_arcs_with_capacity_and_unit_cost(
        unit_base + cand.unit, group_base + cand.group, np.ones(cand.n_arcs, np.int64), icost
    )
    flow.add_arcs_with_capacity_and_unit_cost(
        group_base + np.arange(n_groups, dtype=np.int64),
        np.full(n_groups, sink, np.int64),
        capacity,
        -(6 - priorities) * big,
    )
    flow.add_arc_with_capacity_and_unit_cost(source, sink, n_units, 0)
    flow.set_node_supply(source, n_units)
    flow.set_node_supply(sink, -n_units)
    if flow.solve() != flow.OPTIMAL:
        return None
    flows = flow.flows(np.arange(first_arc, first_arc + cand.n_arcs, dtype=np.int64))
    return [int(a) for a in np.flatnonzero(flows > 0)]


register_policy("optimal", solve_optimal)
register_policy("closest_idle", solve_closest_idle)


def _check_shapes(problem: DispatchProblem) -> None:
    expected = (len(problem.units), len(problem.incidents))
    if np.shape(problem.travel_times_s) != expected:
        raise InputError(
            f"shape {np.shape(problem.travel_times_s)} does not match {expected} "
            "(units, incidents)",
            field="travel_times_s",
        )
    tt = np.asarray(problem.travel_times_s, dtype=np.float64)
    if np.isnan(tt).any() or (tt < 0).any():
        raise InputError(
            "must be >= 0 seconds or inf (unreachable), not NaN", field="travel_times_s"
        )
    if problem.extra_cost_s is not None:
        if np.shape(problem.extra_cost_s) != expected:
            raise InputError(
                f"shape {np.shape(problem.extra_cost_s)} does not match {expected}",
                field="extra_cost_s",
            )
        if not np.isfinite(np.asarray(problem.extra_cost_s, dtype=np.float64)).all():
            raise InputError("must be finite", field="extra_cost_s")

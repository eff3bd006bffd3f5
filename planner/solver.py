"""Dispatch solver: which units to send where, now, under the documented objective.

``solve`` dispatches on ``options.policy`` through a small registry, so other modules (the
simulator's coverage policy) can add policies with :func:`register_policy`. Built in:

- ``optimal``: an exact min-cost flow (OR-Tools ``SimpleMinCostFlow``). Requirement groups
  earn a per-slot reward ``(6 - p) * G`` with ``G`` larger than the cost range of any
  matching. Fillable slot sets form a (transversal) matroid, so maximising these strictly
  decreasing rewards fills slots lexicographically by priority, and the cost is minimised
  among those: the lexicographic objective in one exact solve.
- ``closest_idle``: the greedy baseline (:mod:`planner.closest_idle`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from ortools.graph.python import min_cost_flow

from planner.candidates import Candidates, build_candidates
from planner.closest_idle import closest_idle_selection
from planner.domain import DispatchProblem, Plan, SolveOptions
from planner.errors import InputError
from planner.explain import build_plan

Policy = Callable[[DispatchProblem, SolveOptions, "Plan | None"], Plan]
"""A policy maps a problem, options and the previous plan (if any) to a plan."""

POLICIES: dict[str, Policy] = {}

_MAX_COST = 2**62
"""Rewards and costs are scaled so that OR-Tools' internal arithmetic cannot overflow."""


def register_policy(name: str, policy: Policy) -> None:
    """Make ``policy`` selectable as ``options.policy == name`` (replaces an existing one)."""
    POLICIES[name] = policy


def solve(problem: DispatchProblem, options: SolveOptions, *, previous: Plan | None = None) -> Plan:
    """Recommend assignments for ``problem``; deterministic for the same input.

    ``solve_ms`` on the returned plan is the wall time of the whole policy, explanations
    included.
    """
    policy = POLICIES.get(options.policy)
    if policy is None:
        known = ", ".join(sorted(POLICIES))
        raise InputError(f"unknown policy {options.policy!r} (known: {known})", field="policy")
    _check_shapes(problem)
    start = time.perf_counter()
    plan = policy(problem, options, previous)
    return replace(plan, solve_ms=(time.perf_counter() - start) * 1000.0)


def previous_pairs(previous: Plan | None) -> list[tuple[str, str]]:
    """The ``(unit, incident)`` recommendations of a previous plan, for the stability bonus."""
    if previous is None:
        return []
    return [(a.unit, a.incident) for a in previous.assignments]


def solve_optimal(problem: DispatchProblem, options: SolveOptions, previous: Plan | None) -> Plan:
    """The exact lexicographic optimum by min-cost flow (status ``optimal``)."""
    cand = build_candidates(problem, options, previous_pairs=previous_pairs(previous))
    chosen = optimal_selection(cand)
    status = "optimal"
    if chosen is None:
        chosen = closest_idle_selection(cand, order=incident_order(problem))
        status = "fallback"
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


def optimal_selection(cand: Candidates) -> list[int] | None:
    """Chosen arc indices of the lexicographic optimum, or ``None`` if the flow failed."""
    if cand.n_arcs == 0:
        return []
    units, unit_node = np.unique(cand.unit, return_inverse=True)
    n_units = int(units.shape[0])
    n_groups = len(cand.groups)
    source, sink = 0, 1
    group_base = 2 + n_units
    priorities = np.array([g.priority for g in cand.groups], dtype=np.int64)
    capacity = np.array([g.capacity for g in cand.groups], dtype=np.int64)
    resolution = 100.0  # centiseconds: integer costs for the flow
    while resolution >= 1e-6:
        icost = np.rint(cand.cost * resolution).astype(np.int64)
        per_unit = np.zeros(n_units, dtype=np.int64)
        np.maximum.at(per_unit, unit_node, np.abs(icost))
        big = 2 * int(per_unit.sum()) + 1
        n_nodes = group_base + n_groups
        if 5 * big * (n_nodes + 1) < _MAX_COST:
            return _run_flow(
                cand, unit_node, n_units, priorities, capacity, icost, big, source, sink
            )
        resolution /= 10.0
    return None


def _run_flow(
    cand: Candidates,
    unit_node: np.ndarray,
    n_units: int,
    priorities: np.ndarray,
    capacity: np.ndarray,
    icost: np.ndarray,
    big: int,
    source: int,
    sink: int,
) -> list[int] | None:
    unit_base, group_base = 2, 2 + n_units
    n_groups = int(capacity.shape[0])
    flow = min_cost_flow.SimpleMinCostFlow()
    unit_nodes = unit_base + np.arange(n_units, dtype=np.int64)
    group_nodes = group_base + np.arange(n_groups, dtype=np.int64)
    flow.add_arcs_with_capacity_and_unit_cost(
        np.full(n_units, source, np.int64),
        unit_nodes,
        np.ones(n_units, np.int64),
        np.zeros(n_units, np.int64),
    )
    first_arc = n_units
    flow.add_arcs_with_capacity_and_unit_cost(
        unit_base + unit_node.astype(np.int64),
        group_base + cand.group,
        np.ones(cand.n_arcs, np.int64),
        icost,
    )
    flow.add_arcs_with_capacity_and_unit_cost(
        group_nodes, np.full(n_groups, sink, np.int64), capacity, -(6 - priorities) * big
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

"""Turn a selection of candidate arcs into a :class:`Plan` a dispatcher can read.

Whatever policy chose the arcs, the plan is assembled here the same way: objective terms,
committed units, and for every recommendation *why* (its ETA rank, the next-best unit, and
what happened to each nearer unit), and for every unmet slot a reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from planner.candidates import ArcKind, Candidates, filled_by_priority, weight_of
from planner.domain import (
    Assignment,
    DispatchProblem,
    Objective,
    Plan,
    SolveOptions,
    UnitStatus,
    Unmet,
    Why,
)

MAX_NOTES = 6
"""Nearer units listed per assignment; the rest are summarised in one note."""

_NEW = int(ArcKind.NEW)
_COMMITTED = int(ArcKind.COMMITTED)
_PREEMPT = int(ArcKind.PREEMPT)


class _Pools:
    """Each group's non-committed arcs sorted by ETA (then unit): computed once per plan."""

    def __init__(self, problem: DispatchProblem, cand: Candidates) -> None:
        self.travel_times_s = np.asarray(problem.travel_times_s, dtype=np.float64)
        self.available = cand.available
        self.capable = cand.capable
        movable = np.flatnonzero(cand.kind != _COMMITTED)
        order = movable[np.lexsort((cand.unit[movable], cand.eta_s[movable], cand.group[movable]))]
        self.order = order
        groups = cand.group[order]
        n_groups = len(cand.groups)
        self.start = np.searchsorted(groups, np.arange(n_groups), side="left")
        self.end = np.searchsorted(groups, np.arange(n_groups), side="right")

    def of(self, g: int) -> np.ndarray:
        return self.order[self.start[g] : self.end[g]]


def build_plan(
    problem: DispatchProblem,
    options: SolveOptions,
    cand: Candidates,
    chosen: Sequence[int],
    *,
    status: str,
    solve_ms: float,
) -> Plan:
    """Assemble the plan for the chosen arc indices (each unit at most once)."""
    chosen_arr = np.array(sorted(chosen), dtype=np.int64)
    unit_arc = {int(cand.unit[a]): int(a) for a in chosen_arr}
    pools = _Pools(problem, cand)
    fills = Counter(int(cand.group[a]) for a in chosen_arr)
    assignments: list[Assignment] = []
    committed: list[Assignment] = []
    for a in chosen_arr:
        arc = int(a)
        if cand.kind[arc] == _COMMITTED:
            committed.append(_committed(problem, cand, arc))
        else:
            assignments.append(_assignment(problem, cand, arc, unit_arc, pools))
    unmet = [
        Unmet(
            incident=problem.incidents[group.incident].id,
            capability=group.capability,
            missing=group.capacity - fills.get(g, 0),
            reason=_unmet_reason(problem, cand, g, unit_arc, pools),
        )
        for g, group in enumerate(cand.groups)
        if fills.get(g, 0) < group.capacity
    ]
    return Plan(
        status=status,
        policy=options.policy,
        assignments=tuple(sorted(assignments, key=_incident_order(problem))),
        unmet=tuple(unmet),
        objective=objective_of(problem, options, cand, [int(a) for a in chosen_arr]),
        options=options,
        solve_ms=solve_ms,
        committed=tuple(sorted(committed, key=_incident_order(problem))),
    )


def objective_of(
    problem: DispatchProblem, options: SolveOptions, cand: Candidates, chosen: Sequence[int]
) -> Objective:
    """The objective terms of a selection, recomputed in floating point from the arcs."""
    arcs = np.array([a for a in chosen if cand.kind[a] != _COMMITTED], dtype=np.int64)
    fills = Counter(int(cand.group[a]) for a in chosen)
    w = np.array([weight_of(options, cand.groups[g].priority) for g in cand.group[arcs]])
    travel = float(np.sum(w * cand.eta_s[arcs])) if arcs.size else 0.0
    late = float(np.sum(w * cand.late[arcs])) * options.late_penalty_s if arcs.size else 0.0
    preempt = cand.kind[arcs] == _PREEMPT
    preemption = float(np.sum(w * preempt)) * options.preemption_cost_s if arcs.size else 0.0
    stability = 0.0 - float(np.sum(w * cand.stable[arcs])) * options.stability_bonus_s
    extra = 0.0
    if problem.extra_cost_s is not None and arcs.size:
        incidents = np.array([cand.groups[g].incident for g in cand.group[arcs]], dtype=np.int64)
        extra = float(np.sum(np.asarray(problem.extra_cost_s)[cand.unit[arcs], incidents]))
    terms = {
        "travel": travel,
        "late": late,
        "preemption": preemption,
        "extra": extra,
        "stability": stability,
    }
    return Objective(
        filled_by_priority=filled_by_priority(cand.groups, fills),
        cost=travel + late + preemption + extra + stability,
        late_assignments=int(np.sum(cand.late[arcs])) if arcs.size else 0,
        terms=terms,
    )


def _incident_order(problem: DispatchProblem) -> Callable[[Assignment], tuple[int, str, str]]:
    position = {inc.id: k for k, inc in enumerate(problem.incidents)}

    def key(a: Assignment) -> tuple[int, str, str]:
        return (position[a.incident], a.capability, a.unit)

    return key


def _committed(problem: DispatchProblem, cand: Candidates, arc: int) -> Assignment:
    unit = problem.units[int(cand.unit[arc])]
    group = cand.groups[int(cand.group[arc])]
    eta = float(cand.eta_s[arc])
    return Assignment(
        unit=unit.id,
        incident=problem.incidents[group.incident].id,
        capability=group.capability,
        eta_s=eta,
        why=Why(rank=0, next_best_unit=None, next_best_eta_s=None, notes=(f"{unit.status}",)),
    )


def _describe_use(problem: DispatchProblem, cand: Candidates, arc: int, group_now: int) -> str:
    """What a nearer unit is doing instead, as a short phrase."""
    group = cand.groups[int(cand.group[arc])]
    incident = problem.incidents[group.incident]
    if cand.kind[arc] == _COMMITTED:
        return f"stays committed to {incident.id} (priority {incident.priority})"
    if group.incident == cand.groups[group_now].incident:
        return f"assigned to this incident as {group.capability}"
    verb = "diverted to" if cand.kind[arc] == _PREEMPT else "assigned to"
    return f"{verb} {incident.id} (priority {incident.priority})"


def _assignment(
    problem: DispatchProblem,
    cand: Candidates,
    arc: int,
    unit_arc: dict[int, int],
    pools: _Pools,
) -> Assignment:
    u = int(cand.unit[arc])
    g = int(cand.group[arc])
    group = cand.groups[g]
    incident = problem.incidents[group.incident]
    eta = float(cand.eta_s[arc])
    order = pools.of(g)
    rank = int(np.flatnonzero(order == arc)[0]) + 1
    others = [int(a) for a in order[: rank + 1] if int(a) != arc]
    notes: list[str] = []
    kind = int(cand.kind[arc])
    if kind == _PREEMPT:
        old = problem.units[u].incident
        notes.append(f"diverted from {old}")
    if cand.stable[arc]:
        notes.append("kept from the previous plan")
    next_unit: str | None = None
    next_eta: float | None = None
    if others:
        best_other = int(others[0])
        next_unit = problem.units[int(cand.unit[best_other])].id
        next_eta = float(cand.eta_s[best_other])
        delta = next_eta - eta
        if delta >= 0:
            notes.append(f"{delta:.0f} s sooner than {next_unit}")
        else:
            notes.append(f"{-delta:.0f} s later than {next_unit}")
    nearer = [int(a) for a in order[: rank - 1]]
    for a in nearer[:MAX_NOTES]:
        v = int(cand.unit[a])
        name = problem.units[v].id
        used = unit_arc.get(v)
        if used is not None:
            notes.append(f"{name}: {_describe_use(problem, cand, used, g)}")
        elif cand.kind[a] == _PREEMPT:
            notes.append(f"{name}: not diverted from {problem.units[v].incident}")
        else:
            extra = float(cand.cost[a] - cand.cost[arc])
            notes.append(f"{name}: left free (costs {extra:.0f} weighted s more here)")
    if len(nearer) > MAX_NOTES:
        notes.append(f"and {len(nearer) - MAX_NOTES} more nearer units busy elsewhere")
    lacking = _nearer_without(problem, pools, group.incident, group.capability, eta)
    if lacking:
        notes.append(f"nearer but without {group.capability}: {', '.join(lacking)}")
    return Assignment(
        unit=problem.units[u].id,
        incident=incident.id,
        capability=group.capability,
        eta_s=eta,
        why=Why(rank=rank, next_best_unit=next_unit, next_best_eta_s=next_eta, notes=tuple(notes)),
        preempted_from=problem.units[u].incident if kind == _PREEMPT else None,
    )


def _nearer_without(
    problem: DispatchProblem, pools: _Pools, i: int, capability: str, eta: float
) -> list[str]:
    """Available units nearer than the chosen one that lack the capability (at most 3)."""
    column = pools.travel_times_s[:, i]
    nearer = np.flatnonzero((column < eta) & pools.available & ~pools.capable[capability])
    nearest = nearer[np.lexsort((nearer, column[nearer]))][:3]
    return [problem.units[int(v)].id for v in nearest]


def _unmet_reason(
    problem: DispatchProblem,
    cand: Candidates,
    g: int,
    unit_arc: dict[int, int],
    pools: _Pools,
) -> str:
    group = cand.groups[g]
    cap = group.capability
    with_cap = [unit for unit in problem.units if cap in unit.capabilities]
    if not with_cap:
        return f"no unit has {cap}"
    available = [unit for unit in with_cap if unit.status == UnitStatus.AVAILABLE]
    pool = pools.of(g)
    if pool.size == 0:
        if not available:
            return f"no available unit with {cap} ({len(with_cap)} busy or out of service)"
        return f"no available unit with {cap} can reach it"
    urgency = Counter[str]()
    for a in pool:
        used = unit_arc.get(int(cand.unit[a]))
        if used is None:
            urgency["not diverted" if cand.kind[a] == _PREEMPT else "free"] += 1
            continue
        other = cand.groups[int(cand.group[used])]
        if cand.kind[used] == _COMMITTED or other.incident == group.incident:
            urgency["this incident or its own"] += 1
        elif other.priority < group.priority:
            urgency["more urgent"] += 1
        elif other.priority == group.priority:
            urgency["equally urgent"] += 1
        else:
            urgency["less urgent"] += 1
    n = int(pool.size)
    if urgency["more urgent"] == n:
        return f"all {n} capable units assigned to more urgent incidents"
    parts = [f"{k}: {v}" for k, v in sorted(urgency.items()) if v]
    return f"all {n} capable units that can reach it are used ({', '.join(parts)})"

"""Turn a selection of candidate arcs into a :class:`Plan` a dispatcher can read.

Whatever policy chose the arcs, the plan is assembled here the same way: objective terms,
committed units, and for every recommendation *why* (its ETA rank, the next-best unit, and
what happened to each nearer unit), and for every unmet slot a reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.arrays import FloatArray, IntArray
from planner.dispatch.candidates import (
    MOVED_KINDS,
    ArcKind,
    Candidates,
    Pools,
    build_pools,
    filled_by_priority,
    weight_of,
)
from planner.dispatch.domain import (
    Assignment,
    DispatchProblem,
    Objective,
    Plan,
    SolveOptions,
    Unmet,
    Why,
)

MAX_NOTES = 6
"""Nearer units listed per assignment; the rest are summarised in one note."""

_COMMITTED = int(ArcKind.COMMITTED)
_PREEMPT = int(ArcKind.PREEMPT)
_DIVERT = int(ArcKind.DIVERT)


@dataclass(frozen=True, slots=True)
class _Arcs:
    """The candidate arrays plus each movable arc's 0-based ETA rank within its group."""

    unit: IntArray
    group: IntArray
    kind: IntArray
    eta_s: FloatArray
    cost: FloatArray
    stable: npt.NDArray[np.bool_]
    rank: IntArray

    @classmethod
    def of(cls, cand: Candidates, pools: Pools) -> _Arcs:
        rank = np.full(cand.n_arcs, -1, dtype=np.int64)
        starts = np.repeat(pools.start, pools.end - pools.start)
        rank[pools.order] = np.arange(pools.order.shape[0]) - starts
        return cls(cand.unit, cand.group, cand.kind, cand.eta_s, cand.cost, cand.stable, rank)


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
    pools = build_pools(cand)
    arcs = _Arcs.of(cand, pools)
    chosen_list = chosen_arr.tolist()
    unit_arc = dict(zip(cand.unit[chosen_arr].tolist(), chosen_list, strict=True))
    new_arcs = [a for a in chosen_list if arcs.kind[a] != _COMMITTED]
    lacking = _nearer_without(problem, cand, new_arcs)
    used_by = np.full(len(problem.units), -1, dtype=np.int64)
    used_by[cand.unit[chosen_arr]] = chosen_arr
    fills = Counter(cand.group[chosen_arr].tolist())
    assignments: list[Assignment] = []
    committed: list[Assignment] = []
    for arc in chosen_list:
        if arcs.kind[arc] == _COMMITTED:
            committed.append(_committed(problem, cand, arc))
        else:
            assignments.append(
                _assignment(
                    problem,
                    cand,
                    arcs,
                    arc,
                    unit_arc,
                    pools.of(arcs.group[arc]),
                    lacking[arc],
                    margin_s=options.divert_margin_s or 0.0,
                )
            )
    unmet = [
        Unmet(
            incident=problem.incidents[group.incident].id,
            capability=group.capability,
            missing=group.capacity - fills.get(g, 0),
            reason=_unmet_reason(cand, g, used_by, pools),
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
    extra = 0.0
    if problem.extra_cost_s is not None and arcs.size:
        incidents = np.array([cand.groups[g].incident for g in cand.group[arcs]], dtype=np.int64)
        extra = float(np.sum(np.asarray(problem.extra_cost_s)[cand.unit[arcs], incidents]))
    # The bonus actually earned: it is capped so that an arc is at best free.
    total = float(np.sum(cand.cost[arcs])) if arcs.size else 0.0
    stability = min(0.0, total - (travel + late + preemption + extra))
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


def _describe_use(
    problem: DispatchProblem, cand: Candidates, arcs: _Arcs, arc: int, group_now: int
) -> str:
    """What a nearer unit is doing instead, as a short phrase."""
    group = cand.groups[int(arcs.group[arc])]
    incident = problem.incidents[group.incident]
    if arcs.kind[arc] == _COMMITTED:
        return f"stays committed to {incident.id} (priority {incident.priority})"
    if group.incident == cand.groups[group_now].incident:
        return f"assigned to this incident as {group.capability}"
    verb = "diverted to" if arcs.kind[arc] in MOVED_KINDS else "assigned to"
    return f"{verb} {incident.id} (priority {incident.priority})"


def _assignment(
    problem: DispatchProblem,
    cand: Candidates,
    arcs: _Arcs,
    arc: int,
    unit_arc: dict[int, int],
    pool: np.ndarray,
    lacking: list[str],
    *,
    margin_s: float,
) -> Assignment:
    """The recommendation with its explanation; ``pool`` is the group's arcs by ETA."""
    u, g, kind = int(arcs.unit[arc]), int(arcs.group[arc]), int(arcs.kind[arc])
    eta = float(arcs.eta_s[arc])
    group = cand.groups[g]
    rank = int(arcs.rank[arc]) + 1
    head = pool[: rank + 1].tolist()
    others = [a for a in head if a != arc]
    notes: list[str] = []
    if kind == _PREEMPT:
        notes.append(f"diverted from {problem.units[u].incident}")
    if kind == _DIVERT:
        notes.append(_diversion_note(problem, cand, pool, arc, margin_s=margin_s))
    if arcs.stable[arc]:
        notes.append("kept from the previous plan")
    next_unit: str | None = None
    next_eta: float | None = None
    if others:
        next_unit = problem.units[int(arcs.unit[others[0]])].id
        next_eta = float(arcs.eta_s[others[0]])
        delta = next_eta - eta
        if delta >= 0:
            notes.append(f"{delta:.0f} s sooner than {next_unit}")
        else:
            notes.append(f"{-delta:.0f} s later than {next_unit}")
    for a in head[: min(rank - 1, MAX_NOTES)]:
        v = int(arcs.unit[a])
        name = problem.units[v].id
        used = unit_arc.get(v)
        if used is not None:
            notes.append(f"{name}: {_describe_use(problem, cand, arcs, used, g)}")
        elif arcs.kind[a] in MOVED_KINDS:
            notes.append(f"{name}: not diverted from {problem.units[v].incident}")
        else:
            extra = float(arcs.cost[a] - arcs.cost[arc])
            notes.append(f"{name}: left free (costs {extra:.0f} weighted s more here)")
    if rank - 1 > MAX_NOTES:
        notes.append(f"and {rank - 1 - MAX_NOTES} more nearer units")
    if lacking:
        notes.append(f"nearer but without {group.capability}: {', '.join(lacking)}")
    return Assignment(
        unit=problem.units[u].id,
        incident=problem.incidents[group.incident].id,
        capability=group.capability,
        eta_s=eta,
        why=Why(rank=rank, next_best_unit=next_unit, next_best_eta_s=next_eta, notes=tuple(notes)),
        preempted_from=problem.units[u].incident if kind in MOVED_KINDS else None,
    )


def _diversion_note(
    problem: DispatchProblem, cand: Candidates, pool: np.ndarray, arc: int, *, margin_s: float
) -> str:
    """Why a unit is taken off its lower-priority call: how much sooner it is than the best
    free unit, against the configured margin."""
    unit = problem.units[int(cand.unit[arc])]
    index = {inc.id: inc for inc in problem.incidents}
    was = index.get(unit.incident or "")
    free = [int(a) for a in pool.tolist() if cand.kind[a] == int(ArcKind.NEW)]
    if free:
        best = free[0]
        gain = float(cand.eta_s[best] - cand.eta_s[arc])
        than = (
            f"arrives {gain:.0f} s before the best free unit "
            f"{problem.units[int(cand.unit[best])].id}"
        )
    else:
        than = "no free unit can reach it"
    was_text = f"{unit.incident} (priority {was.priority})" if was else str(unit.incident)
    return (
        f"diverted from {was_text}: {than} (margin {margin_s:.0f} s); "
        f"{unit.incident} is served again"
    )


def _nearer_without(
    problem: DispatchProblem, cand: Candidates, arcs: list[int]
) -> dict[int, list[str]]:
    """Per chosen arc: up to 3 available units nearer than the chosen one that lack the
    capability (all arcs at once: one ``(arcs × units)`` matrix)."""
    if not arcs:
        return {}
    idx = np.array(arcs, dtype=np.int64)
    incidents = np.array([cand.groups[int(g)].incident for g in cand.group[idx]], dtype=np.int64)
    caps = [cand.groups[int(g)].capability for g in cand.group[idx]]
    lacks = ~np.stack([cand.capable[c] for c in caps])
    etas = np.asarray(problem.travel_times_s, dtype=np.float64)[:, incidents].T
    nearer = (etas < cand.eta_s[idx][:, None]) & lacks & cand.available[None, :]
    masked = np.where(nearer, etas, np.inf)
    k = min(3, masked.shape[1])
    if masked.shape[1] > k:
        masked_k = np.argpartition(masked, k - 1, axis=1)[:, :k]
        masked_k.sort(axis=1)  # unit order first, so the stable sort below breaks ties by it
        by_eta = np.argsort(np.take_along_axis(masked, masked_k, axis=1), axis=1, kind="stable")
        nearest = np.take_along_axis(masked_k, by_eta, axis=1)
    else:
        nearest = np.argsort(masked, axis=1, kind="stable")[:, :k]
    out: dict[int, list[str]] = {}
    for row, arc in enumerate(arcs):
        out[arc] = [
            problem.units[int(v)].id for v in nearest[row] if np.isfinite(masked[row, int(v)])
        ]
    return out


def _unmet_reason(cand: Candidates, g: int, used_by: IntArray, pools: Pools) -> str:
    group = cand.groups[g]
    group_priority, group_incident = pools.group_priority, pools.group_incident
    cap = group.capability
    with_cap = int(cand.capable[cap].sum())
    if not with_cap:
        return f"no unit has {cap}"
    available = int((cand.capable[cap] & cand.available).sum())
    pool = pools.of(g)
    if pool.size == 0:
        if not available:
            here = int(np.sum((cand.group == g) & (cand.kind == _COMMITTED)))
            if here:
                return (
                    f"no available unit with {cap} ({here} already committed here, "
                    f"{with_cap - here} busy elsewhere or out of service)"
                )
            return f"no available unit with {cap} ({with_cap} busy or out of service)"
        return f"no available unit with {cap} can reach it"
    used = used_by[cand.unit[pool]]
    taken = used >= 0
    free = ~taken
    used_t = used[taken]
    other_pri = group_priority[cand.group[used_t]]
    same = (cand.kind[used_t] == _COMMITTED) | (
        group_incident[cand.group[used_t]] == group.incident
    )
    urgency = Counter(
        {
            "free": int(np.sum(free & ~np.isin(cand.kind[pool], MOVED_KINDS))),
            "not diverted": int(np.sum(free & np.isin(cand.kind[pool], MOVED_KINDS))),
            "this incident or its own": int(np.sum(same)),
            "more urgent": int(np.sum(~same & (other_pri < group.priority))),
            "equally urgent": int(np.sum(~same & (other_pri == group.priority))),
            "less urgent": int(np.sum(~same & (other_pri > group.priority))),
        }
    )
    n = int(pool.size)
    if urgency["more urgent"] == n:
        return f"all {n} capable units assigned to more urgent incidents"
    parts = [f"{k}: {v}" for k, v in sorted(urgency.items()) if v]
    return f"all {n} capable units that can reach it are used ({', '.join(parts)})"

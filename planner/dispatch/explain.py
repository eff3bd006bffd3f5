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

from planner.arrays import IntArray
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
    """What the explanations read of the arcs, as plain Python values: the chosen arcs and,
    per chosen movable arc, the head of its group's pool (up to the next-best arc and the
    :data:`MAX_NOTES` nearer ones), with its 0-based ETA rank. Gathering only these arcs
    keeps a city-scale plan from converting tens of thousands of arcs it never reads."""

    unit: dict[int, int]
    group: dict[int, int]
    kind: dict[int, int]
    eta_s: dict[int, float]
    cost: dict[int, float]
    stable: dict[int, bool]
    rank: dict[int, int]
    head: dict[int, list[int]]

    @classmethod
    def of(cls, cand: Candidates, pools: Pools, chosen: IntArray) -> _Arcs:
        position = np.zeros(cand.n_arcs, dtype=np.int64)
        position[pools.order] = np.arange(pools.order.shape[0])
        movable = chosen[cand.kind[chosen] != _COMMITTED]
        first = pools.start[cand.group[movable]]
        rank = position[movable] - first
        length = np.minimum(
            np.minimum(rank + 2, MAX_NOTES + 2), pools.end[cand.group[movable]] - first
        )
        ends = np.cumsum(length)
        offset = np.arange(int(ends[-1]) if ends.size else 0) - np.repeat(ends - length, length)
        heads = pools.order[np.repeat(first, length) + offset]
        read = np.concatenate([chosen, heads])
        keys = read.tolist()
        head_list = heads.tolist()
        movable_list = movable.tolist()
        return cls(
            unit=dict(zip(keys, cand.unit[read].tolist(), strict=True)),
            group=dict(zip(keys, cand.group[read].tolist(), strict=True)),
            kind=dict(zip(keys, cand.kind[read].tolist(), strict=True)),
            eta_s=dict(zip(keys, cand.eta_s[read].tolist(), strict=True)),
            cost=dict(zip(keys, cand.cost[read].tolist(), strict=True)),
            stable=dict(zip(keys, cand.stable[read].tolist(), strict=True)),
            rank=dict(zip(movable_list, rank.tolist(), strict=True)),
            head={
                a: head_list[stop - n : stop]
                for a, stop, n in zip(movable_list, ends.tolist(), length.tolist(), strict=True)
            },
        )


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
    arcs = _Arcs.of(cand, pools, chosen_arr)
    chosen_list = chosen_arr.tolist()
    unit_arc = dict(zip(cand.unit[chosen_arr].tolist(), chosen_list, strict=True))
    new_arcs = [a for a in chosen_list if arcs.kind[a] != _COMMITTED]
    lacking = _nearer_without(problem, cand, new_arcs)
    used_by = np.full(len(problem.units), -1, dtype=np.int64)
    used_by[cand.unit[chosen_arr]] = chosen_arr
    fills = np.bincount(cand.group[chosen_arr], minlength=len(cand.groups)).tolist()
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
                    lacking[arc],
                    pools=pools,
                    margin_s=options.divert_margin_s or 0.0,
                )
            )
    short = [g for g, group in enumerate(cand.groups) if fills[g] < group.capacity]
    reasons = _unmet_reasons(cand, short, used_by, pools)
    unmet = [
        Unmet(
            incident=problem.incidents[cand.groups[g].incident].id,
            capability=cand.groups[g].capability,
            missing=cand.groups[g].capacity - fills[g],
            reason=reason,
        )
        for g, reason in zip(short, reasons, strict=True)
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
    group = cand.groups[arcs.group[arc]]
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
    lacking: list[str],
    *,
    pools: Pools,
    margin_s: float,
) -> Assignment:
    """The recommendation with its explanation."""
    u, g, kind = arcs.unit[arc], arcs.group[arc], arcs.kind[arc]
    eta = arcs.eta_s[arc]
    group = cand.groups[g]
    rank = arcs.rank[arc] + 1
    head = arcs.head[arc]
    others = [a for a in head if a != arc]
    notes: list[str] = []
    if kind == _PREEMPT:
        notes.append(f"diverted from {problem.units[u].incident}")
    if kind == _DIVERT:
        notes.append(_diversion_note(problem, cand, pools.of(g), arc, margin_s=margin_s))
    if arcs.stable[arc]:
        notes.append("kept from the previous plan")
    next_unit: str | None = None
    next_eta: float | None = None
    if others:
        next_unit = problem.units[arcs.unit[others[0]]].id
        next_eta = arcs.eta_s[others[0]]
        delta = next_eta - eta
        if delta >= 0:
            notes.append(f"{delta:.0f} s sooner than {next_unit}")
        else:
            notes.append(f"{-delta:.0f} s later than {next_unit}")
    for a in head[: min(rank - 1, MAX_NOTES)]:
        v = arcs.unit[a]
        name = problem.units[v].id
        used = unit_arc.get(v)
        if used is not None:
            notes.append(f"{name}: {_describe_use(problem, cand, arcs, used, g)}")
        elif arcs.kind[a] in MOVED_KINDS:
            notes.append(f"{name}: not diverted from {problem.units[v].incident}")
        else:
            extra = arcs.cost[a] - arcs.cost[arc]
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
    groups = cand.group[idx].tolist()
    incidents = np.array([cand.groups[g].incident for g in groups], dtype=np.int64)
    names = sorted(cand.capable)
    cap_index = np.array([names.index(cand.groups[g].capability) for g in groups])
    lacks = ~np.stack([cand.capable[c] for c in names])[cap_index]
    etas = np.asarray(problem.travel_times_s, dtype=np.float64).T[incidents]
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
    found = np.isfinite(np.take_along_axis(masked, nearest, axis=1)).tolist()
    units = problem.units
    return {
        arc: [units[v].id for v, ok in zip(row, ok_row, strict=True) if ok]
        for arc, row, ok_row in zip(arcs, nearest.tolist(), found, strict=True)
    }


def _unmet_reasons(
    cand: Candidates, short: list[int], used_by: IntArray, pools: Pools
) -> list[str]:
    """Why each group in ``short`` keeps an empty slot: what its reachable capable units do
    instead. The counts of every such group are computed at once over its pool's arcs."""
    if not short:
        return []
    n_groups = len(cand.groups)
    short_arr = np.array(short, dtype=np.int64)
    sizes_short = pools.end[short_arr] - pools.start[short_arr]
    ends = np.cumsum(sizes_short)
    offset = np.arange(int(ends[-1])) - np.repeat(ends - sizes_short, sizes_short)
    pool = pools.order[np.repeat(pools.start[short_arr], sizes_short) + offset]
    pool_group = cand.group[pool]
    moved = np.isin(cand.kind[pool], MOVED_KINDS)
    used = used_by[cand.unit[pool]]
    taken = used >= 0
    used_group = cand.group[np.where(taken, used, 0)]
    other_pri = pools.group_priority[used_group]
    own_pri = pools.group_priority[pool_group]
    same = taken & (
        (cand.kind[np.where(taken, used, 0)] == _COMMITTED)
        | (pools.group_incident[used_group] == pools.group_incident[pool_group])
    )
    other = taken & ~same
    masks = {
        "free": ~taken & ~moved,
        "not diverted": ~taken & moved,
        "this incident or its own": same,
        "more urgent": other & (other_pri < own_pri),
        "equally urgent": other & (other_pri == own_pri),
        "less urgent": other & (other_pri > own_pri),
    }
    counts = {
        name: np.bincount(pool_group[mask], minlength=n_groups).tolist()
        for name, mask in masks.items()
    }
    # committed units still counting here: one diverted elsewhere is busy, not "committed here"
    kept = (cand.kind == _COMMITTED) & (used_by[cand.unit] == np.arange(cand.n_arcs))
    committed_here = np.bincount(cand.group[kept], minlength=n_groups).tolist()
    sizes = (pools.end - pools.start).tolist()
    by_cap: dict[str, tuple[int, int]] = {}
    reasons: list[str] = []
    for g in short:
        cap = cand.groups[g].capability
        if cap not in by_cap:
            capable = cand.capable[cap]
            by_cap[cap] = (int(capable.sum()), int((capable & cand.available).sum()))
        reasons.append(
            _unmet_reason(
                cap,
                *by_cap[cap],
                sizes[g],
                committed_here[g],
                {name: values[g] for name, values in counts.items()},
            )
        )
    return reasons


def _unmet_reason(
    cap: str, with_cap: int, available: int, n: int, here: int, urgency: dict[str, int]
) -> str:
    """The reason for one group: ``n`` reachable capable units, ``here`` committed to it (and
    not diverted elsewhere), ``urgency`` what the reachable ones do (counts by kind of use)."""
    if not with_cap:
        return f"no unit has {cap}"
    if n == 0:
        if not available:
            if here:
                return (
                    f"no available unit with {cap} ({here} already committed here, "
                    f"{with_cap - here} busy elsewhere or out of service)"
                )
            return f"no available unit with {cap} ({with_cap} busy or out of service)"
        return f"no available unit with {cap} can reach it"
    if urgency["more urgent"] == n:
        return f"all {n} capable units assigned to more urgent incidents"
    parts = [f"{k}: {v}" for k, v in sorted(urgency.items()) if v]
    return f"all {n} capable units that can reach it are used ({', '.join(parts)})"

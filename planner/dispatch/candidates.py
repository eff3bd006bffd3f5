"""Candidate arcs: which unit may fill which requirement slot, at what cost.

Every dispatch policy (exact, greedy, coverage-shaped) starts from the same eligibility rules,
so they live here once, as flat NumPy arrays over *arcs* (unit → requirement group):

- a *group* is one ``(incident, capability)`` pair with ``capacity`` = the required count;
- ``NEW`` arcs: an ``available`` unit with the capability and a finite ETA;
- ``COMMITTED`` arcs: a unit already dispatched/en route/on scene to that incident, at zero
  cost, so it counts towards the requirements first;
- ``PREEMPT`` arcs (only with ``allow_preemption``): a dispatched/en-route unit diverted to an
  incident at least ``preemption_gap`` levels more urgent than its current one;
- ``DIVERT`` arcs (only when the policy asks, the ``coverage`` rule): a dispatched/en-route unit
  of a lower-priority call diverted to a priority-1 call that it reaches at least
  ``divert_margin_s`` before the best free unit. No pre-emption cost: the margin is the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from planner.arrays import BoolArray, FloatArray, IntArray
from planner.dispatch.domain import (
    BUSY_AT_INCIDENT_STATUSES,
    COMMITTED_STATUSES,
    PRIORITIES,
    DispatchProblem,
    SolveOptions,
    UnitStatus,
)


class ArcKind(IntEnum):
    NEW = 0
    COMMITTED = 1
    PREEMPT = 2
    DIVERT = 3


MOVED_KINDS = (int(ArcKind.PREEMPT), int(ArcKind.DIVERT))
"""Arc kinds that take a unit off the call it is heading to."""


@dataclass(frozen=True, slots=True)
class Group:
    """One requirement ``(incident, capability)`` with ``capacity`` slots."""

    incident: int
    capability: str
    capacity: int
    priority: int


@dataclass(frozen=True, slots=True)
class Candidates:
    """All eligible arcs of a problem, as parallel arrays (one entry per arc)."""

    groups: tuple[Group, ...]
    unit: IntArray
    group: IntArray
    kind: IntArray
    eta_s: FloatArray
    cost: FloatArray
    """The arc's objective contribution in weighted seconds (0 for committed arcs)."""
    late: BoolArray
    stable: BoolArray
    """The arc keeps an assignment of the previous plan."""
    available: BoolArray
    """Per unit: status ``available``."""
    capable: Mapping[str, BoolArray]
    """Per required capability: which units have it."""

    @property
    def n_arcs(self) -> int:
        return int(self.unit.shape[0])


@dataclass(frozen=True, slots=True)
class Pools:
    """Each group's ``NEW``/``PREEMPT`` arcs sorted by ETA (ties: arc order), built once."""

    order: IntArray
    start: IntArray
    end: IntArray
    group_priority: IntArray
    group_incident: IntArray

    def of(self, g: int) -> IntArray:
        return self.order[self.start[g] : self.end[g]]


def build_pools(cand: Candidates) -> Pools:
    """Sort the movable arcs by ``(group, eta)`` with one stable argsort of a combined key."""
    movable = np.flatnonzero(cand.kind != int(ArcKind.COMMITTED))
    eta = cand.eta_s[movable]
    span = float(eta.max()) + 1.0 if eta.size else 1.0
    key = cand.group[movable] * span + eta
    order = movable[_stable_argsort(key)]
    groups = cand.group[order]
    ids = np.arange(len(cand.groups))
    return Pools(
        order=order,
        start=np.searchsorted(groups, ids, side="left").astype(np.int64),
        end=np.searchsorted(groups, ids, side="right").astype(np.int64),
        group_priority=np.array([g.priority for g in cand.groups], dtype=np.int64),
        group_incident=np.array([g.incident for g in cand.groups], dtype=np.int64),
    )


def _stable_argsort(key: FloatArray) -> IntArray:
    """``np.argsort(key, kind="stable")``, computed as the default (SIMD) sort, with each run
    of tied keys then put back in index order by sorting the unique integers (run, index),
    which are nearly sorted already. About twice as fast when ties are few (road ETAs: units
    at the same node), somewhat slower when most keys tie."""
    by_key: IntArray = np.argsort(key)
    sorted_key = key[by_key]
    new_run = sorted_key[1:] != sorted_key[:-1]
    if not new_run.all():
        run = np.concatenate(([0], np.cumsum(new_run)))
        by_key = by_key[np.argsort(run * len(key) + by_key, kind="stable")]  # nearly sorted
    return by_key


def weight_of(options: SolveOptions, priority: int) -> float:
    """The priority weight ``w[p]`` (1.0 for a level the options do not name)."""
    return float(options.priority_weights.get(priority, 1.0))


def current_incident_index(problem: DispatchProblem) -> IntArray:
    """For each unit, the index of the open incident it counts towards, or -1."""
    index = {inc.id: k for k, inc in enumerate(problem.incidents)}
    return np.array(
        [
            index.get(unit.incident, -1)
            if unit.incident is not None and unit.status in BUSY_AT_INCIDENT_STATUSES
            else -1
            for unit in problem.units
        ],
        dtype=np.int64,
    ).reshape(len(problem.units))


def build_groups(problem: DispatchProblem) -> tuple[Group, ...]:
    """Requirement groups in incident order, then the incident's requirement order."""
    return tuple(
        Group(incident=i, capability=cap, capacity=int(count), priority=inc.priority)
        for i, inc in enumerate(problem.incidents)
        for cap, count in inc.requirements.items()
        if count > 0
    )


def build_candidates(
    problem: DispatchProblem,
    options: SolveOptions,
    *,
    previous_pairs: Iterable[tuple[str, str]] = (),
    divert: bool = False,
) -> Candidates:
    """Every eligible arc with its ETA and cost; deterministic order (kind, group, unit).

    ``divert``: add the ``DIVERT`` arcs of ``options.divert_margin_s`` (module docstring)."""
    groups = build_groups(problem)
    tt = np.asarray(problem.travel_times_s, dtype=np.float64)
    current = current_incident_index(problem)
    status = [unit.status for unit in problem.units]
    available = np.array([s == UnitStatus.AVAILABLE for s in status], dtype=bool)
    movable = np.array([s in COMMITTED_STATUSES for s in status], dtype=bool) & (current >= 0)
    current_priority = np.array(
        [problem.incidents[c].priority if c >= 0 else 0 for c in current], dtype=np.int64
    )
    unit_index = {unit.id: u for u, unit in enumerate(problem.units)}
    incident_index = {inc.id: i for i, inc in enumerate(problem.incidents)}
    stable_pairs = {
        (unit_index[u], incident_index[i])
        for u, i in previous_pairs
        if u in unit_index and i in incident_index
    }
    caps = sorted({g.capability for g in groups})
    cap_masks = np.array(
        [[cap in unit.capabilities for unit in problem.units] for cap in caps], dtype=bool
    ).reshape(len(caps), len(problem.units))
    capable: dict[str, BoolArray] = {cap: cap_masks[k] for k, cap in enumerate(caps)}
    extra = None if problem.extra_cost_s is None else np.asarray(problem.extra_cost_s, np.float64)

    # (groups × units) eligibility matrices, one per arc kind
    group_cap = np.array([caps.index(g.capability) for g in groups], dtype=np.int64)
    group_inc = np.array([g.incident for g in groups], dtype=np.int64)
    group_pri = np.array([g.priority for g in groups], dtype=np.int64)
    has = cap_masks[group_cap] if groups else np.zeros((0, len(problem.units)), bool)
    eta_gu = tt.T[group_inc].reshape(len(groups), len(problem.units))  # (groups × units)
    reach = np.isfinite(eta_gu)
    own = current[None, :] == group_inc[:, None]
    masks = [(has & available[None, :] & reach, ArcKind.NEW), (has & own, ArcKind.COMMITTED)]
    if options.allow_preemption:
        gap_ok = current_priority[None, :] - group_pri[:, None] >= options.preemption_gap
        masks.append((has & movable[None, :] & reach & gap_ok & ~own, ArcKind.PREEMPT))
    if divert and options.divert_margin_s is not None:
        eligible = has & movable[None, :] & reach & ~own
        if options.allow_preemption:
            eligible &= ~masks[-1][0]  # already a PREEMPT arc
        mask = _divert_mask(
            eligible, eta_gu, masks[0][0], group_pri, current_priority, options.divert_margin_s
        )
        masks.append((mask, ArcKind.DIVERT))
    group_parts: list[IntArray] = []
    unit_parts: list[IntArray] = []
    kind_parts: list[IntArray] = []
    for mask, arc_kind in masks:
        g_idx, u_idx = np.nonzero(mask)
        group_parts.append(g_idx.astype(np.int64))
        unit_parts.append(u_idx.astype(np.int64))
        kind_parts.append(np.full(g_idx.shape[0], int(arc_kind), dtype=np.int64))
    group_of = np.concatenate(group_parts)
    unit = np.concatenate(unit_parts)
    kinds = np.concatenate(kind_parts)

    group_weight = np.array([weight_of(options, g.priority) for g in groups], dtype=np.float64)
    target = np.array([inc.target_s for inc in problem.incidents], dtype=np.float64)
    incident_of = group_inc[group_of]
    eta = tt[unit, incident_of]
    weights = group_weight[group_of]
    targets = target[incident_of]
    late: BoolArray = eta > targets
    cost = weights * (eta + options.late_penalty_s * late)
    if extra is not None:
        cost = cost + extra[unit, incident_of]
    preempt = kinds == int(ArcKind.PREEMPT)
    cost = cost + preempt * options.preemption_cost_s * weights
    n_inc = max(len(problem.incidents), 1)
    stable_codes = np.array(sorted(u * n_inc + i for u, i in stable_pairs), dtype=np.int64)
    stable = (
        np.isin(unit * n_inc + incident_of, stable_codes)
        if stable_pairs
        else np.zeros(unit.shape[0], dtype=bool)
    )
    cost = cost - stable * options.stability_bonus_s * weights
    # Never negative: an arc is at best free, so no policy is paid to send an extra unit.
    cost = np.maximum(cost, 0.0)
    committed_arc = kinds == int(ArcKind.COMMITTED)
    cost = np.where(committed_arc, 0.0, cost)
    late = np.logical_and(late, ~committed_arc)
    stable = np.logical_and(stable, ~committed_arc)
    return Candidates(
        groups=groups,
        unit=unit,
        group=group_of,
        kind=kinds,
        eta_s=eta.astype(np.float64),
        cost=cost.astype(np.float64),
        late=late.astype(bool),
        stable=stable,
        available=available,
        capable=capable,
    )


def _divert_mask(
    eligible: BoolArray,
    eta: FloatArray,
    new: BoolArray,
    group_pri: IntArray,
    current_priority: IntArray,
    margin_s: float,
) -> BoolArray:
    """``(groups × units)``: of the ``eligible`` (capable, divertible, not already here) units,
    those heading to a lower-priority call that reach a priority-1 group ``margin_s`` before
    its best free unit (``new`` arcs; any reachable one when no free unit reaches it)."""
    best_free = np.where(new, eta, np.inf).min(axis=1, initial=np.inf)
    out: BoolArray = (
        eligible
        & (group_pri == 1)[:, None]
        & (current_priority > 1)[None, :]
        & np.isfinite(eta)
        & (eta <= best_free[:, None] - margin_s)
    )
    return out


def filled_by_priority(groups: tuple[Group, ...], fills: Mapping[int, int]) -> dict[int, int]:
    """Slots filled per priority level, from ``group index → filled count``."""
    out = dict.fromkeys(PRIORITIES, 0)
    for g, n in fills.items():
        out[groups[g].priority] = out.get(groups[g].priority, 0) + n
    return out

"""Multi-unit move-up: where every free unit should wait, as one exact MEXCLP model (CP-SAT).

DMEXCLP (:func:`planner.dispatch.coverage.best_base`) only places the unit that has just become
free. The move-up model may also move idle units, within operational limits: at most
``max_moves`` idle units per decision, each drive at most ``max_drive_s``, and a unit that has
used up its moves for the shift stays put. Maximised:

    Σ_j d_j Σ_{k=1..K_j} (1-q) q^(k-1) y_jk   (expected covered demand, Daskin's MEXCLP)

with ``Σ_k y_jk ≤`` the units at bases covering ``j``. The increments fall with ``k``, so the
``y`` fill in order and the sum is exactly ``Σ d_j (1 - q^(n_j))``. Ties (and only ties, to
``COVER_SCALE`` resolution) go to the plan with less driving. Demand points covered by the same
bases are merged first, which keeps the model small.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict, Field

from planner.arrays import BoolArray, FloatArray, IntArray
from planner.dispatch.coverage import CoverageModel

COVER_SCALE = 1e9
"""Expected coverage is counted in 1e-9 of total demand; a second of driving costs one unit."""

WHOLE_UNITS = 24
"""A move-up over this many free units or fewer is solved whole (exact); beyond, only a
neighbourhood of the largest gaps may move (:func:`_neighbourhood`)."""

NEIGHBOURHOOD_UNITS = 12
"""Units that may move in a city-scale move-up (those just freed first, then the idle units
nearest the gaps)."""

NEIGHBOURHOOD_BASES = 12
"""The bases with the largest marginal expected coverage whose reachers join the model."""


@dataclass(frozen=True, slots=True)
class MoveUpLimits:
    """Operational limits of one move-up decision (configurable per centre or scenario)."""

    max_moves: int = 2
    """Idle units moved per decision (a unit that has just become free is not counted)."""
    max_drive_s: float = 1200.0
    """Longest drive of one move of an idle unit."""
    max_moves_per_unit: int = 6
    """Moves per unit per shift."""
    time_limit_s: float = 1.0


_LIMITS = MoveUpLimits()


class MoveUpConfig(BaseModel):
    """The limits as configuration (scenario ``options.moveup``, centre ``relocation``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_moves: int = Field(default=_LIMITS.max_moves, ge=0, le=50)
    max_drive_s: float = Field(default=_LIMITS.max_drive_s, gt=0, allow_inf_nan=False)
    max_moves_per_unit: int = Field(default=_LIMITS.max_moves_per_unit, ge=0)
    time_limit_s: float = Field(default=_LIMITS.time_limit_s, gt=0, le=60)

    def to_limits(self) -> MoveUpLimits:
        return MoveUpLimits(**self.model_dump())


@dataclass(frozen=True, slots=True)
class MoveUp:
    """Each unit's base (an index into the bases) and what the plan is worth."""

    destination: tuple[int, ...]
    moved: tuple[int, ...]
    """Units whose base changes (free units included)."""
    coverage: float
    """Expected covered demand (fraction) with every unit at its destination."""
    status: str
    solve_ms: float


def solve_moveup(
    model: CoverageModel,
    *,
    bases: Sequence[int],
    capacity: Sequence[int],
    stay: Sequence[int],
    drive_s: FloatArray,
    moves_left: Sequence[int],
    limits: MoveUpLimits,
    q: float | None = None,
) -> MoveUp:
    """The best destination of every unit.

    ``bases``: the bases' nodes; ``capacity``: units each may hold; ``stay``: each unit's
    current base (index), or ``-1`` for a unit that has just become free and must go
    somewhere; ``drive_s``: ``(units, bases)`` seconds from each unit's position;
    ``moves_left``: per unit, moves it may still make this shift.
    """
    start = time.perf_counter()
    n_units, n_bases = len(stay), len(bases)
    q = model.busy_fraction if q is None else q
    drive = np.asarray(drive_s, dtype=np.float64).reshape(n_units, n_bases)
    stays = np.asarray(stay, dtype=np.int64)
    cap = np.asarray(capacity, dtype=np.int64).copy()
    for b in stays[stays >= 0]:
        cap[b] = max(cap[b], int(np.sum(stays == b)))
    cover = model.rows(bases).reshape(n_bases, -1)
    patterns, inverse = _patterns(cover.T)
    weight = np.bincount(inverse.reshape(-1), weights=model.demand_weights)

    allowed = _allowed(stays, drive, moves_left, limits)
    fixed = _neighbourhood(model, bases, stays, drive, allowed, q)
    held = np.bincount(stays[fixed], minlength=n_bases)
    cp = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    at_base: list[list[cp_model.IntVar]] = [[] for _ in range(n_bases)]
    free_units = np.flatnonzero(~fixed).tolist()
    for u in free_units:
        options = np.flatnonzero(allowed[u]).tolist()
        for b in options:
            x[u, b] = cp.new_bool_var(f"x{u}_{b}")
            at_base[b].append(x[u, b])
        cp.add_exactly_one(x[u, b] for b in options)
    for b in range(n_bases):
        if at_base[b]:
            cp.add(cp_model.LinearExpr.sum(at_base[b]) <= int(cap[b] - held[b]))
    moves = [x[u, b] for (u, b) in x if stays[u] >= 0 and b != stays[u]]
    if moves:
        cp.add(sum(moves) <= limits.max_moves)
    objective: list[tuple[cp_model.IntVar, int]] = []
    # Units outside the neighbourhood are constants: each pattern's cover starts at their count.
    base_held = patterns.astype(np.int64) @ held
    # Each pattern's k-th extra unit is worth weight·(1-q)·q^(held+k); increments that round to
    # nothing at COVER_SCALE change no objective value and are left out.
    n_vars = patterns.astype(np.int64) @ np.array([len(v) for v in at_base], dtype=np.int64)
    levels = np.minimum(n_vars, len(free_units))
    powers = base_held[:, None] + np.arange(max(int(levels.max(initial=0)), 1))[None, :]
    gains = np.rint(COVER_SCALE * weight[:, None] * (1.0 - q) * q**powers).astype(np.int64)
    gains[np.arange(gains.shape[1])[None, :] >= levels[:, None]] = 0
    for p in np.flatnonzero(gains[:, 0] > 0).tolist():
        kept = gains[p][gains[p] > 0].tolist()
        at = [var for b in np.flatnonzero(patterns[p]).tolist() for var in at_base[b]]
        ys = [cp.new_bool_var(f"y{p}_{k}") for k in range(len(kept))]
        cp.add(cp_model.LinearExpr.sum(ys) <= cp_model.LinearExpr.sum(at))
        objective.extend(zip(ys, kept, strict=True))
    for (u, b), var in x.items():
        if b != stays[u]:
            objective.append((var, -round(float(drive[u, b]))))
    cp.maximize(
        cp_model.LinearExpr.weighted_sum([v for v, _ in objective], [c for _, c in objective])
    )
    solver = cp_model.CpSolver()
    # Deterministic work units: the same decision whatever the machine's load (replays and
    # simulations reproduce); the wall-clock cap only guards against pathological models.
    solver.parameters.max_deterministic_time = limits.time_limit_s
    solver.parameters.max_time_in_seconds = 10.0 * limits.time_limit_s
    solver.parameters.num_workers = 1
    fallback = _greedy(model, bases, cap, stays, allowed, q)
    for (u, b), var in x.items():
        cp.add_hint(var, fallback[u] == b)
    status = solver.solve(cp)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = stays.copy()
        for (u, b), var in x.items():
            if solver.value(var):
                chosen[u] = b
        dest = tuple(int(b) for b in chosen)
        outcome = "optimal" if status == cp_model.OPTIMAL else "feasible"
    else:
        dest, outcome = fallback, "fallback"
    moved = tuple(u for u in range(n_units) if dest[u] != stays[u])
    coverage = model.expected_coverage([int(bases[b]) for b in dest], q=q)
    return MoveUp(
        destination=dest,
        moved=moved,
        coverage=coverage,
        status=outcome,
        solve_ms=(time.perf_counter() - start) * 1000.0,
    )


def _neighbourhood(
    model: CoverageModel,
    bases: Sequence[int],
    stays: IntArray,
    drive: FloatArray,
    allowed: BoolArray,
    q: float,
) -> BoolArray:
    """Restrict a city-scale move-up to a neighbourhood small enough to solve in time: narrows
    ``allowed`` in place and returns the units held where they are (constants in the model).

    Up to :data:`WHOLE_UNITS` units nothing changes (the model is exact). Beyond, the
    units that just became free keep every allowed base; of the idle ones, those that can reach
    one of the :data:`NEIGHBOURHOOD_BASES` bases where one more unit adds the most expected
    coverage (the gaps) take part, nearest first, up to the neighbourhood's size, and may move
    only to those bases; every other idle unit stays.
    """
    n_units = len(stays)
    fixed = np.zeros(n_units, dtype=bool)
    if n_units <= WHOLE_UNITS:
        return fixed
    placed = np.asarray(bases, dtype=np.int64)[stays[stays >= 0]]
    gain = model.gains(bases, placed, q=q)
    gaps = np.argsort(-gain, kind="stable")[:NEIGHBOURHOOD_BASES]
    idle = np.flatnonzero(stays >= 0)
    reach = np.where(allowed[idle][:, gaps], drive[idle][:, gaps], np.inf)
    reach[gaps[None, :] == stays[idle][:, None]] = np.inf  # already there: not a move
    nearest = reach.min(axis=1)
    room = max(NEIGHBOURHOOD_UNITS - int(np.sum(stays < 0)), 0)
    ranked = np.argsort(nearest, kind="stable")[:room]
    keep = idle[ranked[np.isfinite(nearest[ranked])]]
    fixed[idle] = True
    fixed[keep] = False
    gap = np.zeros(len(bases), dtype=bool)
    gap[gaps] = True
    allowed[idle] &= gap[None, :]
    allowed[idle, stays[idle]] = True
    allowed[fixed] = False
    allowed[fixed, stays[fixed]] = True
    return fixed


def _patterns(covered: BoolArray) -> tuple[BoolArray, IntArray]:
    """The distinct rows of ``covered`` (demand points × bases) and each point's row index, as
    ``np.unique(axis=0)`` gives them, but on the rows packed into bytes (several times faster)."""
    packed = np.ascontiguousarray(np.packbits(covered, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return covered[first], inverse.reshape(-1)


def _greedy(
    model: CoverageModel,
    bases: Sequence[int],
    cap: IntArray,
    stays: IntArray,
    allowed: BoolArray,
    q: float,
) -> tuple[int, ...]:
    """Idle units stay; each free unit in turn takes the allowed base with room where it adds
    the most (DMEXCLP): the hint for CP-SAT and the answer if it finds nothing in time."""
    dest = stays.copy()
    for u in np.flatnonzero(stays < 0).tolist():
        placed = [int(bases[b]) for b in dest[dest >= 0]]
        used = np.bincount(dest[dest >= 0], minlength=len(bases))
        gain = model.gains(bases, placed, q=q)
        ok = allowed[u] & (used < cap)
        if not ok.any():
            ok = allowed[u]
        dest[u] = int(np.argmax(np.where(ok, gain, -1.0)))
    return tuple(int(b) for b in dest)


def _allowed(
    stays: IntArray, drive: FloatArray, moves_left: Sequence[int], limits: MoveUpLimits
) -> BoolArray:
    """``(units, bases)``: which bases each unit may be sent to under the limits."""
    n_units = drive.shape[0]
    ok = np.isfinite(drive)
    for u in range(n_units):
        if stays[u] < 0:
            if not ok[u].any():
                ok[u, 0] = True  # stranded: keep the model feasible; it cannot move anyway
            continue
        may_move = moves_left[u] > 0 and limits.max_moves > 0
        ok[u] &= may_move & (drive[u] <= limits.max_drive_s)
        ok[u, stays[u]] = True
    return ok

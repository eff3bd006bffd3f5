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
    cover = np.array([model.covered_by(int(b)) for b in bases], dtype=bool).reshape(n_bases, -1)
    patterns, inverse = np.unique(cover.T, axis=0, return_inverse=True)
    weight = np.bincount(inverse.reshape(-1), weights=model.demand_weights)

    cp = cp_model.CpModel()
    allowed = _allowed(stays, drive, moves_left, limits)
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for u in range(n_units):
        options = np.flatnonzero(allowed[u])
        for b in options.tolist():
            x[u, b] = cp.new_bool_var(f"x{u}_{b}")
        cp.add_exactly_one(x[u, b] for b in options.tolist())
    for b in range(n_bases):
        members = [x[u, b] for u in range(n_units) if (u, b) in x]
        if members:
            cp.add(sum(members) <= int(cap[b]))
    moves = [x[u, b] for (u, b) in x if stays[u] >= 0 and b != stays[u]]
    if moves:
        cp.add(sum(moves) <= limits.max_moves)
    objective: list[tuple[cp_model.IntVar, int]] = []
    for p, pattern in enumerate(patterns):
        if weight[p] <= 0 or not pattern.any():
            continue
        at = [x[u, b] for (u, b) in x if pattern[b]]
        levels = min(len(at), n_units)
        ys = [cp.new_bool_var(f"y{p}_{k}") for k in range(levels)]
        if not ys:
            continue
        cp.add(sum(ys) <= sum(at))
        for k, y in enumerate(ys):
            objective.append((y, round(COVER_SCALE * weight[p] * (1.0 - q) * q**k)))
    for (u, b), var in x.items():
        if b != stays[u]:
            objective.append((var, -round(float(drive[u, b]))))
    cp.maximize(sum(coef * var for var, coef in objective))
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
        dest = tuple(
            next(b for b in range(n_bases) if (u, b) in x and solver.value(x[u, b]))
            for u in range(n_units)
        )
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

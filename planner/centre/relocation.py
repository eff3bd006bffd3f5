"""Live move-up: where the centre's free units should wait, as recommendations.

The relocation part of the policy (``DISPATCH+dmexclp`` or ``DISPATCH+mip``) runs when a unit
becomes free and on the configured timer; both use the coverage model of
:mod:`planner.dispatch.coverage` with the stations the fleet is registered at as the bases
(capacity: the units registered there, at least one).

- ``dmexclp``, a unit freed: each freed unit in turn goes to the station where one more unit
  adds the most expected coverage, the other free units counted where they wait or head
  (Jagtenberg, van den Berg & van der Mei 2015); on the timer: up to ``max_moves`` idle units,
  one at a time, each to the station that adds the most over staying (a move adding less than
  :data:`planner.dispatch.coverage.LOSS_STEP` is not worth a drive).
- ``mip``: the exact multi-unit move-up of :func:`planner.dispatch.moveup.solve_moveup` over
  every free unit with a station, freed units placed anywhere, idle ones within the limits.

For coverage dispatch, :func:`kept_notes` says what a choice protects: "kept M4 to cover S7:
−3.1 % expected coverage if sent".

Idle units may move only if they have moves left this shift, drive at most ``max_drive_s``, are
not already relocating and had no relocation declined since their last status change. Every
recommendation is computed from the state and its time alone, so a replay recomputes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

import numpy as np

from planner.arrays import FloatArray
from planner.centre.events import Position, RelocationMove, RelocationRecommended
from planner.centre.state import FREE_STATUSES, CentreState, UnitState
from planner.dispatch.coverage import COVERING_STATUSES, CoverageModel, best_base, loss_levels
from planner.dispatch.domain import DispatchProblem, Plan, UnitStatus
from planner.dispatch.moveup import MoveUpLimits, solve_moveup
from planner.network.geo import Location

Drive = Callable[[Sequence[Location], Sequence[Location]], FloatArray]
"""Seconds from each origin to each destination (the engine's road or crow-fly ETAs)."""

Trigger = Literal["unit_freed", "timer"]


@dataclass(frozen=True, slots=True)
class Station:
    """A base of the move-up: a station the fleet is registered at."""

    id: str
    location: Location
    capacity: int


def stations(state: CentreState) -> list[Station]:
    """The stations units are registered at, by id: placed at the home of their first unit
    (by unit id), holding as many units as are registered there."""
    first: dict[str, Location] = {}
    count: dict[str, int] = {}
    for unit in sorted(state.units.values(), key=lambda u: u.id):
        if unit.station is None:
            continue
        first.setdefault(unit.station, unit.home)
        count[unit.station] = count.get(unit.station, 0) + 1
    return [Station(s, first[s], count[s]) for s in sorted(first)]


@dataclass(slots=True)
class _Picture:
    """The free units, the stations and where each free unit waits (a station index or -1)."""

    units: list[UnitState]
    bases: list[Station]
    nodes: list[int]
    """Each station's node."""
    at: list[int]
    """Each free unit's station index (-1: it has no station here)."""
    where: list[int]
    """Each free unit's node where it waits (its station's, else its position's)."""
    drive: FloatArray
    """``(free units, stations)`` seconds from each unit's position."""


def recommend(
    state: CentreState,
    *,
    rule: str,
    policy: str,
    trigger: Trigger,
    freed: Sequence[str],
    at: datetime | None,
    model: CoverageModel,
    q: float,
    drive: Drive,
    limits: MoveUpLimits,
) -> RelocationRecommended | None:
    """The move-up recommendation for ``state``: every pending move (``None``: no station).

    ``freed``: units that have just become free (``trigger`` ``unit_freed``); with
    ``dmexclp`` only they are placed and the other pending moves stand; otherwise the whole
    recommendation is recomputed.
    """
    bases = stations(state)
    if not bases:
        return None
    units = [
        u for u in sorted(state.units.values(), key=lambda u: u.id) if u.status in FREE_STATUSES
    ]
    index = {b.id: k for k, b in enumerate(bases)}
    nodes = [model.node_of(b.location.lat, b.location.lon) for b in bases]
    waits = [index.get(u.waits_at or "", -1) for u in units]
    where = [
        nodes[k] if k >= 0 else model.node_of(u.location.lat, u.location.lon)
        for u, k in zip(units, waits, strict=True)
    ]
    seconds = drive([u.location for u in units], [b.location for b in bases])
    picture = _Picture(units, bases, nodes, waits, where, np.asarray(seconds, dtype=np.float64))
    now = model.expected_coverage(where, q=q)
    freed_set = {u for u in freed if u in {v.id for v in units}}
    if rule == "mip":
        dest = _mip(picture, freed_set, model=model, q=q, limits=limits)
    elif trigger == "unit_freed":
        dest = _dmexclp_freed(picture, freed_set, model=model, q=q)
    else:
        dest = _dmexclp_timer(picture, model=model, q=q, limits=limits)
    moves = _moves(picture, dest, freed_set, model=model, q=q)
    if rule != "mip" and trigger == "unit_freed":
        moved = {m.unit for m in moves}
        kept = [m for u, m in state.relocations.items() if u not in freed_set | moved]
        moves = sorted([*kept, *moves], key=lambda m: m.unit)
    after = list(where)
    position = {u.id: k for k, u in enumerate(units)}
    for m in moves:
        after[position[m.unit]] = nodes[index[m.to_station]]
    return RelocationRecommended(
        at=at,
        policy=policy,
        trigger=trigger,
        units_freed=sorted(freed_set),
        moves=moves,
        coverage_now=round(now, 6),
        coverage_after=round(model.expected_coverage(after, q=q), 6),
        busy_fraction=round(q, 6),
    )


def move_key(moves: Sequence[RelocationMove]) -> tuple[tuple[str, str], ...]:
    """What makes a move-up recommendation different: which unit goes to which station."""
    return tuple(sorted((m.unit, m.to_station) for m in moves))


def _movable(unit: UnitState, k: int, limits: MoveUpLimits) -> bool:
    """An idle unit the limits let move: on station, not relocating, not declined, moves left."""
    return (
        k >= 0
        and unit.station is not None
        and unit.relocating_to is None
        and not unit.declined
        and unit.moves < limits.max_moves_per_unit
        and limits.max_moves > 0
    )


def _room(picture: _Picture, dest: Sequence[int], skip: int) -> FloatArray:
    taken = np.bincount(
        [d for i, d in enumerate(dest) if d >= 0 and i != skip], minlength=len(picture.bases)
    )
    capacity = np.array([b.capacity for b in picture.bases])
    room: FloatArray = (capacity - taken).astype(np.float64)
    return room


def _dmexclp_freed(
    picture: _Picture, freed: set[str], *, model: CoverageModel, q: float
) -> list[int]:
    """Each freed unit (by id) to the station where one more unit adds the most."""
    dest = list(picture.at)
    placed = list(picture.where)
    for i, unit in enumerate(picture.units):
        if unit.id not in freed or unit.station is None or unit.declined or dest[i] < 0:
            continue
        others = [n for j, n in enumerate(placed) if j != i]
        pick = best_base(
            model,
            bases=picture.nodes,
            room=_room(picture, dest, i).tolist(),
            others=others,
            origin=picture.where[i],
            q=q,
            reach_s=picture.drive[i],
        )
        if pick is not None:
            dest[i] = pick
            placed[i] = picture.nodes[pick]
    return dest


def _dmexclp_timer(
    picture: _Picture, *, model: CoverageModel, q: float, limits: MoveUpLimits
) -> list[int]:
    """Up to ``max_moves`` idle units, one at a time, each the move that adds the most."""
    dest = list(picture.at)
    placed = list(picture.where)
    moved: set[int] = set()
    for _ in range(limits.max_moves):
        best: tuple[int, float, str, int, int] | None = None
        for i, unit in enumerate(picture.units):
            if i in moved or not _movable(unit, dest[i], limits):
                continue
            others = [n for j, n in enumerate(placed) if j != i]
            gain = model.gains(picture.nodes, others, q=q)
            improvement = loss_levels(gain - gain[dest[i]])
            ok = (
                (_room(picture, dest, i) > 0)
                & (picture.drive[i] <= limits.max_drive_s)
                & (improvement >= 1)
            )
            ok[dest[i]] = False
            for b in np.flatnonzero(ok).tolist():
                key = (-int(improvement[b]), float(picture.drive[i, b]), unit.id, b, i)
                if best is None or key < best:
                    best = key
        if best is None:
            break
        _, _, _, b, i = best
        dest[i] = b
        placed[i] = picture.nodes[b]
        moved.add(i)
    return dest


def _mip(
    picture: _Picture, freed: set[str], *, model: CoverageModel, q: float, limits: MoveUpLimits
) -> list[int]:
    """The exact move-up over the free units with a station."""
    members = [i for i, k in enumerate(picture.at) if k >= 0]
    if not members:
        return list(picture.at)
    stay, moves_left = [], []
    for i in members:
        unit = picture.units[i]
        fresh = unit.id in freed and not unit.declined and unit.station is not None
        stay.append(-1 if fresh else picture.at[i])
        if fresh:
            moves_left.append(1)
        elif _movable(unit, picture.at[i], limits):
            moves_left.append(limits.max_moves_per_unit - unit.moves)
        else:
            moves_left.append(0)
    result = solve_moveup(
        model,
        bases=picture.nodes,
        capacity=[b.capacity for b in picture.bases],
        stay=stay,
        drive_s=picture.drive[members],
        moves_left=moves_left,
        limits=limits,
        q=q,
    )
    dest = list(picture.at)
    for k, i in enumerate(members):
        dest[i] = result.destination[k]
    return dest


def _moves(
    picture: _Picture, dest: Sequence[int], freed: set[str], *, model: CoverageModel, q: float
) -> list[RelocationMove]:
    """The moves ``dest`` makes, each explained by what it adds over staying put."""
    final = [picture.nodes[d] if d >= 0 else n for d, n in zip(dest, picture.where, strict=True)]
    total = model.expected_coverage(final, q=q)
    moves: list[RelocationMove] = []
    for i, unit in enumerate(picture.units):
        if dest[i] < 0 or dest[i] == picture.at[i]:
            continue
        stayed = list(final)
        stayed[i] = picture.where[i]
        gain = total - model.expected_coverage(stayed, q=q)
        station = picture.bases[dest[i]]
        origin = picture.bases[picture.at[i]].id if picture.at[i] >= 0 else None
        drive_s = float(picture.drive[i, dest[i]])
        instead = f" instead of {origin}" if unit.id in freed and origin else ""
        moves.append(
            RelocationMove(
                unit=unit.id,
                from_station=origin,
                to_station=station.id,
                to=Position(lat=station.location.lat, lon=station.location.lon),
                drive_s=round(drive_s, 1),
                coverage_gain=round(gain, 6),
                freed=unit.id in freed,
                explanation=(
                    f"move {unit.id} to {station.id}{instead}: {gain * 100:+.1f} % expected "
                    f"coverage of priority-1 demand ({drive_s / 60:.0f} min drive)"
                ),
            )
        )
    return moves


def kept_notes(
    plan: Plan,
    problem: DispatchProblem,
    model: CoverageModel,
    *,
    q: float | None,
    stations: dict[str, str | None],
) -> Plan:
    """Put first in each assignment's notes the nearer free unit the coverage rule kept back,
    where it waits and the expected coverage its departure would have cost."""
    covering = [
        (u, model.node_of(unit.location.lat, unit.location.lon))
        for u, unit in enumerate(problem.units)
        if unit.status in COVERING_STATUSES and unit.location is not None
    ]
    if not covering or not plan.assignments:
        return plan
    if q is None:
        q = model.busy_at(max((inc.opened_at for inc in problem.incidents), default=None))
    losses = model.losses([node for _, node in covering], q=q)
    loss = {problem.units[u].id: float(x) for (u, _), x in zip(covering, losses, strict=True)}
    column = {inc.id: j for j, inc in enumerate(problem.incidents)}
    seconds = np.asarray(problem.travel_times_s, dtype=np.float64)
    used = {a.unit for a in plan.assignments}
    explained = []
    for a in plan.assignments:
        j = column[a.incident]
        sent = loss.get(a.unit, 0.0)
        nearer = [
            (float(seconds[u, j]), unit.id)
            for u, unit in enumerate(problem.units)
            if unit.id not in used
            and unit.status == UnitStatus.AVAILABLE
            and a.capability in unit.capabilities
            and seconds[u, j] < a.eta_s
            and loss.get(unit.id, 0.0) > sent
        ]
        if nearer:
            kept = min(nearer)[1]
            note = (
                f"kept {kept} to cover {stations.get(kept) or 'its area'}: "
                f"−{loss[kept] * 100:.1f} % expected coverage if sent "
                f"({a.unit}: −{sent * 100:.1f} %)"
            )
            a = replace(a, why=replace(a.why, notes=(note, *a.why.notes)))
        explained.append(a)
    return replace(plan, assignments=tuple(explained))

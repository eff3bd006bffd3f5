"""The perfect-hindsight limit of a day: how many calls *could* have been reached in time.

In the spirit of the offline benchmark of Jagtenberg, van den Berg & van der Mei (2017): every
call of the day is known in advance, with its own service times. The model is a relaxation, so
its optimum bounds every online policy from below (fewest late calls):

- a unit reaches call ``i`` in time only if it leaves its base when the call is ready
  (``ready_i``) and drives there within what is left of the target; it is then busy for
  ``busy[u, i]`` (drive, on scene, hospital or the drive back, to its base again);
- calls not reached in time occupy no unit (late calls are free, which only helps).

Maximised, lexicographically as the online solver fills slots: first the priority-1 calls
reached in time, then (keeping that number) priority 2, and so on, subject to one unit per call
and no unit reaching two calls whose busy periods overlap. Solved exactly with HiGHS, one level
after the other; :func:`brute_force` checks tiny days.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from planner.arrays import BoolArray, FloatArray


@dataclass(frozen=True, slots=True)
class BoundProblem:
    """A known day: per call its priority and ready time; per (unit, call) whether the unit
    reaches it in time from its base and how long it is then busy."""

    priority: Sequence[int]
    ready_s: FloatArray
    on_time: BoolArray
    """``(units, calls)``."""
    busy_s: FloatArray
    """``(units, calls)``: seconds from ``ready_s`` until the unit is back at its base."""


@dataclass(frozen=True, slots=True)
class Bound:
    served: tuple[int, ...]
    """Per call: the unit reaching it in time, or -1."""
    late_by_priority: dict[int, int]
    calls_by_priority: dict[int, int]
    status: str


def _conflicts(problem: BoundProblem) -> list[tuple[int, int, int]]:
    """``(unit, i, j)``: the unit cannot reach both ``i`` and ``j`` in time."""
    out = []
    ready = problem.ready_s
    for u in range(problem.on_time.shape[0]):
        calls = np.flatnonzero(problem.on_time[u])
        for a, b in itertools.combinations(calls.tolist(), 2):
            i, j = (a, b) if (ready[a], a) <= (ready[b], b) else (b, a)
            if ready[j] < ready[i] + problem.busy_s[u, i]:
                out.append((u, i, j))
    return out


def _result(problem: BoundProblem, served: list[int], status: str) -> Bound:
    late: dict[int, int] = {}
    calls: dict[int, int] = {}
    for i, p in enumerate(problem.priority):
        calls[p] = calls.get(p, 0) + 1
        late[p] = late.get(p, 0) + (served[i] < 0)
    return Bound(tuple(served), late, calls, status)


def solve_bound(problem: BoundProblem, *, time_limit_s: float = 60.0) -> Bound:
    """The exact optimum with HiGHS (status ``optimal``, or ``time_limit`` with the best found,
    which is then no bound). ``time_limit_s`` is shared by the priority levels."""
    n_units, n_calls = problem.on_time.shape
    pairs = [(u, i) for u in range(n_units) for i in range(n_calls) if problem.on_time[u, i]]
    if not pairs:
        return _result(problem, [-1] * n_calls, "optimal")
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.silent()
    # One thread, as every HiGHS model in the project: HiGHS runs one worker pool per process,
    # sized by the first solve, and refuses a model asking for another size.
    h.setOptionValue("threads", 1)
    index = {pair: k for k, pair in enumerate(pairs)}
    for _ in pairs:
        h.addVariable(lb=0, ub=1)
    h.changeColsIntegrality(
        len(pairs),
        np.arange(len(pairs), dtype=np.int32),
        np.full(len(pairs), highspy.HighsVarType.kInteger),
    )
    for i in range(n_calls):
        units = [index[(u, i)] for u in range(n_units) if (u, i) in index]
        if len(units) > 1:
            h.addRow(0, 1, len(units), np.array(units, dtype=np.int32), np.ones(len(units)))
    for u, i, j in _conflicts(problem):
        pair = np.array([index[(u, i)], index[(u, j)]], dtype=np.int32)
        h.addRow(0, 1, 2, pair, np.ones(2))
    everything = np.arange(len(pairs), dtype=np.int32)
    status = "optimal"
    deadline = time.monotonic() + time_limit_s
    for level in sorted(set(problem.priority)):
        cols = np.array(
            [k for (_, i), k in index.items() if problem.priority[i] == level], dtype=np.int32
        )
        if not len(cols):
            continue
        h.changeColsCost(len(pairs), everything, np.zeros(len(pairs)))
        h.changeColsCost(len(cols), cols, -np.ones(len(cols)))
        h.setOptionValue("time_limit", max(deadline - time.monotonic(), 0.0))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            status = "time_limit"
            break
        reached = round(-h.getInfo().objective_function_value)
        h.addRow(reached, len(cols), len(cols), cols, np.ones(len(cols)))  # keep this level
    values = list(h.getSolution().col_value)
    served = [-1] * n_calls
    for (u, i), k in index.items():
        if values[k] > 0.5:
            served[i] = u
    return _result(problem, served, status)


def brute_force(problem: BoundProblem) -> Bound:
    """Every assignment of calls to units (or to nobody): for tiny days only (tests)."""
    n_units, n_calls = problem.on_time.shape
    conflicts = {(u, i, j) for u, i, j in _conflicts(problem)}
    levels = sorted(set(problem.priority))
    best: tuple[tuple[int, ...], list[int]] = ((-1,), [-1] * n_calls)
    for choice in itertools.product(range(-1, n_units), repeat=n_calls):
        if any(u >= 0 and not problem.on_time[u, i] for i, u in enumerate(choice)):
            continue
        clash = any(
            choice[i] == choice[j] >= 0 and ((choice[i], i, j) in conflicts)
            for i in range(n_calls)
            for j in range(n_calls)
            if i != j
        )
        if clash:
            continue
        value = tuple(
            sum(1 for i, u in enumerate(choice) if u >= 0 and problem.priority[i] == p)
            for p in levels
        )
        if value > best[0]:
            best = (value, list(choice))
    return _result(problem, best[1], "optimal")

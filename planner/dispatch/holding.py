"""The ``coverage`` dispatch rule as a whole: strict dynamic MEXCLP, holding lower priorities
back, and diverting units to priority 1.

- **Strict dynamic MEXCLP** (:func:`planner.dispatch.coverage.coverage_extra_cost`): among the
  free units that reach a call within its remaining budget, the one whose departure loses the
  least expected coverage; every priority uses its own target, so a lower-priority call may
  take a farther unit that still arrives in time.
- **Hold**: a call of priority ``hold_from_priority`` or lower, with no unit on it yet, is held
  back when *every* free unit that reaches it in time would open a coverage gap: leave
  priority-1 demand (at least :data:`LOSS_STEP` of it) that no other free unit reaches within
  the cover time. The hold ends at the earlier of ``hold_max_s`` after the call and the last
  moment its nearest in-time unit still arrives within target (the call's target less
  ``delay_s`` and that unit's drive, at the priority's ``priority_speed``), or as soon as a
  unit can go without opening a gap. A call no unit can reach in time is never held: waiting
  cannot help it. The engine re-solves at the hold's end at the latest (``hold_released``), so
  a hold is always released by its bound.
- **Divert**: a unit on its way to a lower-priority call may be sent to a priority-1 call it
  reaches ``divert_margin_s`` before the best free unit; the other call is served again in the
  same solve (:mod:`planner.dispatch.candidates`, ``DIVERT`` arcs).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from planner.arrays import BoolArray, FloatArray
from planner.dispatch.coverage import (
    COVERING_STATUSES,
    LOSS_STEP,
    CoverageModel,
    coverage_extra_cost,
    decision_time,
    remaining_budget_s,
)
from planner.dispatch.domain import (
    BUSY_AT_INCIDENT_STATUSES,
    DispatchProblem,
    Hold,
    Plan,
    SolveOptions,
    UnitStatus,
)
from planner.dispatch.solver import register_policy, solve_optimal


def solve_coverage(
    problem: DispatchProblem,
    options: SolveOptions,
    model: CoverageModel,
    *,
    q: float | None = None,
    previous: Plan | None = None,
) -> Plan:
    """The ``coverage`` rule's plan (module docstring); ``q`` overrides the busy fraction."""
    now = decision_time(problem)
    q = model.busy_at(now) if q is None else q
    holds = find_holds(problem, options, model)
    if holds:
        tt = np.array(problem.travel_times_s, dtype=np.float64, copy=True)
        free = [u.status == UnitStatus.AVAILABLE for u in problem.units]
        for i in holds:
            tt[np.array(free, dtype=bool), i] = np.inf
        problem = replace(problem, travel_times_s=tt)
    extra = coverage_extra_cost(problem, options, model, q=q)
    if problem.extra_cost_s is not None:
        extra = extra + problem.extra_cost_s
    plan = solve_optimal(replace(problem, extra_cost_s=extra), options, previous, divert=True)
    by_id = {problem.incidents[i].id: hold for i, hold in holds.items()}
    unmet = tuple(
        replace(u, reason=by_id[u.incident].reason) if u.incident in by_id else u
        for u in plan.unmet
    )
    return replace(plan, policy=options.policy, unmet=unmet, holds=tuple(by_id.values()))


def gap_if_sent(model: CoverageModel, problem: DispatchProblem) -> FloatArray:
    """Per unit: the share of demand that no other free unit reaches within the cover time if
    it leaves (0 for units that cover nothing now)."""
    gap = np.zeros(len(problem.units))
    covering = [
        (u, model.node_of(unit.location.lat, unit.location.lon))
        for u, unit in enumerate(problem.units)
        if unit.status in COVERING_STATUSES and unit.location is not None
    ]
    if not covering:
        return gap
    rows = model.rows([node for _, node in covering])
    sole = rows.sum(axis=0) == 1
    # einsum's own loop, not a BLAS product: on a busy machine BLAS threads wait for cores
    # (about 6x the wall time at city scale; see CoverageModel.losses).
    alone = np.einsum("ij,j->i", rows[:, sole], model.demand_weights[sole])
    gap[[u for u, _ in covering]] = alone
    return gap


def find_holds(
    problem: DispatchProblem, options: SolveOptions, model: CoverageModel
) -> dict[int, Hold]:
    """Incident index → its hold, for the calls to hold back now (module docstring). A gap is
    a gap at any load, so the busy fraction plays no part."""
    now = decision_time(problem)
    if options.hold_max_s <= 0 or now is None or not problem.incidents:
        return {}
    tt = np.asarray(problem.travel_times_s, dtype=np.float64)
    budget = remaining_budget_s(problem, model)
    served = {
        u.incident for u in problem.units if u.status in BUSY_AT_INCIDENT_STATUSES and u.incident
    }
    free = np.array([u.status == UnitStatus.AVAILABLE for u in problem.units], dtype=bool)
    calls = [
        i
        for i, inc in enumerate(problem.incidents)
        if inc.priority >= options.hold_from_priority and inc.id not in served
    ]
    if not calls:
        return {}
    # Every candidate call at once, as (units × calls) matrices: who reaches it in time, the
    # least gap among those (first unit on ties) and the nearest of them.
    capable_by_need: dict[frozenset[str], BoolArray] = {}  # calls share a few requirement sets
    columns = []
    for i in calls:
        needed = frozenset(c for c, n in problem.incidents[i].requirements.items() if n > 0)
        if needed not in capable_by_need:
            capable_by_need[needed] = free & np.array(
                [bool(needed & u.capabilities) for u in problem.units], dtype=bool
            )
        columns.append(capable_by_need[needed])
    call_tt = tt[:, calls].reshape(len(problem.units), len(calls))
    in_time = np.stack(columns, axis=1).reshape(call_tt.shape) & (call_tt <= budget[calls])
    reached_any = np.asarray(in_time.any(axis=0), dtype=bool)
    reached: list[bool] = reached_any.tolist()
    if not any(reached):
        return {}
    gap = gap_if_sent(model, problem)
    least_of = np.argmin(np.where(in_time, gap[:, None], np.inf), axis=0).tolist()
    nearest_of = np.where(in_time, call_tt, np.inf).min(axis=0).tolist()
    holds: dict[int, Hold] = {}
    for i, ok, least, nearest in zip(calls, reached, least_of, nearest_of, strict=True):
        inc = problem.incidents[i]
        if not ok or gap[least] < LOSS_STEP:
            continue
        nearest_s = nearest / model.priority_speed.get(inc.priority, 1.0)
        until = min(
            inc.opened_at + options.hold_max_s,
            inc.opened_at + inc.target_s - model.delay_s - nearest_s,
        )
        if now >= until:
            continue
        clock = datetime.fromtimestamp(until, tz=UTC).strftime("%H:%M:%S UTC")
        holds[i] = Hold(
            incident=inc.id,
            until=until,
            reason=(
                f"held until {clock} (at most {options.hold_max_s:.0f} s after the call, "
                "and while its nearest unit can still arrive in time): every unit that "
                "reaches it in time would leave demand without cover (least: "
                f"{problem.units[least].id}, {100 * gap[least]:.1f} % of demand)"
            ),
        )
    return holds


def install(model: CoverageModel, *, name: str = "coverage") -> None:
    """Register the coverage policy for ``model``'s region in the solver's registry."""

    def policy(problem: DispatchProblem, options: SolveOptions, previous: Plan | None) -> Plan:
        return solve_coverage(problem, options, model, previous=previous)

    register_policy(name, policy)

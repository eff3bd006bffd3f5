"""Recommendations: the solver's problem built from the state, plans as logged events, diffs.

A recommendation is what the engine logs as ``recommendation_issued``; these conversions are
exact both ways (apart from objective terms), so replay can compare and restore plans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from planner.centre.codes import CodeTable
from planner.centre.config import EngineConfig
from planner.centre.events import (
    RecommendationChanges,
    RecommendationIssued,
    RecommendedAssignment,
    RecommendedUnmet,
)
from planner.centre.state import CentreState, IncidentState
from planner.dispatch.domain import (
    BUSY_AT_INCIDENT_STATUSES,
    Assignment,
    DispatchProblem,
    Incident,
    Objective,
    Plan,
    Unit,
    UnitStatus,
    Unmet,
    Why,
)


@dataclass(frozen=True, slots=True)
class PlanChanges:
    """What changed between two recommendations, keyed by unit."""

    added: tuple[Assignment, ...] = ()
    removed: tuple[Assignment, ...] = ()
    changed: tuple[Assignment, ...] = ()
    """The new assignment of each unit now sent elsewhere or for another capability."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def build_problem(state: CentreState, *, codes: CodeTable) -> DispatchProblem:
    """The solver's problem for the current state (travel times left empty for the caller)."""
    units = tuple(
        Unit(
            id=u.id,
            capabilities=u.capabilities,
            status=u.status,
            location=u.location,
            call_sign=u.call_sign,
            station=u.station,
            incident=u.incident,
        )
        for u in state.units.values()
        if u.status == UnitStatus.AVAILABLE
        or (u.status in BUSY_AT_INCIDENT_STATUSES and u.incident in state.incidents)
    )
    served: dict[str, list[frozenset[str]]] = {}
    for u in state.units.values():
        if (
            u.status in _SERVED_STATUSES
            and u.incident is not None
            and u.incident in state.incidents
        ):
            served.setdefault(u.incident, []).append(u.capabilities)
    incidents = tuple(
        Incident(
            id=i.id,
            priority=i.priority,
            code=i.code,
            location=i.location,
            requirements=_requirements(codes, i, served.get(i.id, ())),
            target_s=codes[i.code].target_s,
            opened_at=i.opened_at.timestamp(),
        )
        for i in state.incidents.values()
    )
    return DispatchProblem(
        units=units,
        incidents=incidents,
        travel_times_s=np.zeros((len(units), len(incidents)), dtype=np.float64),
    )


_SERVED_STATUSES = frozenset({UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL})
"""A unit that took a patient away has served its incident: it is not to be replaced."""


def _requirements(
    codes: CodeTable, incident: IncidentState, served: Sequence[frozenset[str]]
) -> dict[str, int]:
    """The code's response at the incident's level, less what transporting units served."""
    need = codes[incident.code].requirements(incident.level)
    for capabilities in served:
        for capability in sorted(capabilities):
            if need.get(capability, 0) > 0:
                need[capability] -= 1
                break
    return {c: n for c, n in need.items() if n > 0}


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _recommended(a: Assignment) -> RecommendedAssignment:
    return RecommendedAssignment(
        unit=a.unit,
        incident=a.incident,
        capability=a.capability,
        eta_s=a.eta_s,
        preempted_from=a.preempted_from,
        rank=a.why.rank,
        next_best_unit=a.why.next_best_unit,
        next_best_eta_s=_finite(a.why.next_best_eta_s),
        notes=list(a.why.notes),
    )


def recommendation_event(
    plan: Plan, changes: PlanChanges, *, at: datetime | None
) -> RecommendationIssued:
    """The ``recommendation_issued`` event for a new plan."""
    return RecommendationIssued(
        at=at,
        actor="system",
        status=plan.status,
        policy=plan.policy,
        assignments=[_recommended(a) for a in plan.assignments],
        unmet=[
            RecommendedUnmet(
                incident=u.incident, capability=u.capability, missing=u.missing, reason=u.reason
            )
            for u in plan.unmet
        ],
        cost=plan.objective.cost,
        changes=recommendation_changes(changes),
    )


def recommendation_changes(changes: PlanChanges) -> RecommendationChanges:
    """What changed between two plans, as the events and the API carry it."""
    return RecommendationChanges(
        added=[_recommended(a) for a in changes.added],
        removed=[_recommended(a) for a in changes.removed],
        changed=[_recommended(a) for a in changes.changed],
    )


def plan_from_recommendation(event: RecommendationIssued, config: EngineConfig) -> Plan:
    """The plan a logged recommendation stands for (objective terms are not logged)."""
    return Plan(
        status=event.status,
        policy=event.policy,
        assignments=tuple(
            Assignment(
                unit=a.unit,
                incident=a.incident,
                capability=a.capability,
                eta_s=a.eta_s,
                why=Why(
                    rank=a.rank,
                    next_best_unit=a.next_best_unit,
                    next_best_eta_s=a.next_best_eta_s,
                    notes=tuple(a.notes),
                ),
                preempted_from=a.preempted_from,
            )
            for a in event.assignments
        ),
        unmet=tuple(
            Unmet(incident=u.incident, capability=u.capability, missing=u.missing, reason=u.reason)
            for u in event.unmet
        ),
        objective=Objective(filled_by_priority={}, cost=event.cost, late_assignments=0),
        options=config.solver.to_options(),
        solve_ms=0.0,
    )


RecommendationKey = tuple[
    tuple[tuple[str, str, str, str | None], ...], tuple[tuple[str, str, int], ...]
]


def plan_key(plan: Plan | RecommendationIssued | None) -> RecommendationKey:
    """What makes a recommendation different: who goes where for what, and what is short.
    ETAs alone (a unit moved) do not make a new recommendation. A logged
    ``recommendation_issued`` has the same key as the plan it stands for."""
    if plan is None:
        return ((), ())
    return (
        tuple(
            sorted((a.unit, a.incident, a.capability, a.preempted_from) for a in plan.assignments)
        ),
        tuple(sorted((u.incident, u.capability, u.missing) for u in plan.unmet)),
    )


def plan_changes(before: Plan | None, after: Plan | None) -> PlanChanges:
    """Assignments added, removed and changed (by unit) from ``before`` to ``after``."""
    old = {a.unit: a for a in before.assignments} if before else {}
    new = {a.unit: a for a in after.assignments} if after else {}
    return PlanChanges(
        added=tuple(a for u, a in new.items() if u not in old),
        removed=tuple(a for u, a in old.items() if u not in new),
        changed=tuple(
            a
            for u, a in new.items()
            if u in old
            and (a.incident, a.capability, a.preempted_from)
            != (old[u].incident, old[u].capability, old[u].preempted_from)
        ),
    )

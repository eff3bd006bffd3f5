"""The dispatch domain: units, incidents and the plans that match them.

Plain frozen dataclasses shared by the solver, the engine and the simulator. JSON parsing and
validation happen at the edges (pydantic schemas); inside, everything is already valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from planner.arrays import FloatArray
from planner.network.geo import Location


class UnitStatus(StrEnum):
    """Where a unit is in its duty cycle."""

    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    RETURNING = "returning"
    OUT_OF_SERVICE = "out_of_service"


COMMITTED_STATUSES = frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE})
"""Statuses of a unit travelling to an incident: the only ones that may be pre-empted."""

BUSY_AT_INCIDENT_STATUSES = frozenset(
    {UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE}
)
"""Statuses in which a unit counts towards its incident's requirements."""

PRIORITIES = (1, 2, 3, 4, 5)
"""Priority 1 is the most urgent."""


@dataclass(frozen=True, slots=True)
class Unit:
    """A resource that can be sent: an ambulance, an engine, a patrol car, a gas crew."""

    id: str
    capabilities: frozenset[str]
    status: UnitStatus = UnitStatus.AVAILABLE
    location: Location | None = None
    call_sign: str | None = None
    station: str | None = None
    incident: str | None = None
    """The incident the unit is committed to, if any."""


@dataclass(frozen=True, slots=True)
class Incident:
    """Something that needs units: its requirements are the total response, not what is left."""

    id: str
    priority: int
    code: str
    location: Location | None
    requirements: Mapping[str, int]
    target_s: float
    opened_at: float = 0.0
    """Seconds on the engine clock; orders incidents of equal priority (oldest first)."""


@dataclass(frozen=True, slots=True)
class SolveOptions:
    """What the solver optimises; every field can be set per request."""

    policy: str = "optimal"
    priority_weights: Mapping[int, float] = field(
        default_factory=lambda: {1: 16.0, 2: 8.0, 3: 4.0, 4: 2.0, 5: 1.0}
    )
    late_penalty_s: float = 600.0
    time_limit_s: float = 2.0
    allow_preemption: bool = False
    preemption_gap: int = 2
    """A diverted unit's new incident must be at least this many priority levels more urgent."""
    preemption_cost_s: float = 300.0
    """Extra cost (in weighted seconds) of each diversion."""
    stability_bonus_s: float = 60.0
    """Cost saved (in weighted seconds) by keeping an assignment of the previous plan."""
    hold_max_s: float = 300.0
    """``coverage`` rule: the longest a call of priority ``hold_from_priority`` or lower is held
    back (from its opening) when every unit that reaches it in time would open a coverage gap;
    never past the moment its nearest unit would still arrive within target. 0: never held."""
    hold_from_priority: int = 2
    """``coverage`` rule: the most urgent priority level that may be held."""
    divert_margin_s: float | None = 60.0
    """``coverage`` rule: a unit on its way to a lower-priority call is diverted to a
    priority-1 call when it arrives at least this many seconds before the best free unit
    (the other call is then served again). ``None``: never diverted."""


@dataclass(frozen=True, slots=True)
class Why:
    """Why this unit: its rank among capable free units and what the next best would cost."""

    rank: int
    next_best_unit: str | None
    next_best_eta_s: float | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Assignment:
    unit: str
    incident: str
    capability: str
    eta_s: float
    why: Why
    preempted_from: str | None = None
    """The incident the unit is diverted from, when this assignment is a pre-emption."""


@dataclass(frozen=True, slots=True)
class Unmet:
    incident: str
    capability: str
    missing: int
    reason: str


@dataclass(frozen=True, slots=True)
class Objective:
    filled_by_priority: Mapping[int, int]
    """Requirement slots filled per priority level, committed units included."""
    cost: float
    """The minimised cost in weighted seconds: the sum of ``terms``."""
    late_assignments: int
    terms: Mapping[str, float] = field(default_factory=dict)
    """``cost`` split into ``travel``, ``late``, ``preemption``, ``extra`` and ``stability``."""


@dataclass(frozen=True, slots=True)
class Hold:
    """A call held back by the ``coverage`` rule: no unit is recommended until ``until``."""

    incident: str
    until: float
    """POSIX seconds; the engine re-solves at this moment at the latest (``hold_released``)."""
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """A recommendation: which units go where, why, and what stays unmet."""

    status: str
    """``optimal`` (proven), ``feasible`` (time-out, best found) or ``fallback`` (greedy)."""
    policy: str
    assignments: tuple[Assignment, ...]
    unmet: tuple[Unmet, ...]
    objective: Objective
    options: SolveOptions
    solve_ms: float
    committed: tuple[Assignment, ...] = ()
    """Units already dispatched/en route/on scene that count towards their incident's slots."""
    holds: tuple[Hold, ...] = ()
    """Calls held back (listed among ``unmet`` too, with the hold as the reason)."""


@dataclass(frozen=True, slots=True)
class DispatchProblem:
    """A solver-neutral problem: units, open incidents and the unit→incident travel times.

    ``travel_times_s[u, i]`` is the ETA in seconds of ``units[u]`` to ``incidents[i]``;
    ``inf`` means unreachable. The solver knows nothing of maps, HTTP or SQL.
    """

    units: tuple[Unit, ...]
    incidents: tuple[Incident, ...]
    travel_times_s: FloatArray
    extra_cost_s: FloatArray | None = None
    """Optional ``(units, incidents)`` cost added to each assignment (e.g. lost coverage),
    in the same weighted seconds as the objective; lets a policy shape the optimum."""
    now_s: float | None = None
    """The moment of the decision (POSIX seconds), for rules that depend on how long a call
    has waited; ``None``: the latest ``opened_at``."""

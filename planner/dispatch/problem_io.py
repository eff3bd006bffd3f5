"""The stateless Problem/Plan JSON contract of ``planner solve`` and ``POST /v1/plan``.

Pydantic models validate at the edge (every error names its field, e.g.
``incidents[2].priority``); inside, the solver sees plain dataclasses and a NumPy matrix.
A ``previous`` plan may be given for the stability bonus: any object with an ``assignments``
list of ``{"unit", "incident"}`` — so a plan written by ``planner solve`` can be passed back as is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.dispatch.domain import (
    Assignment,
    DispatchProblem,
    Incident,
    Objective,
    Plan,
    SolveOptions,
    Unit,
    UnitStatus,
    Unmet,
    Why,
)
from planner.dispatch.options import NonNegative, NotBool, OptionsIn
from planner.errors import InputError, PlannerError
from planner.network.geo import Location

Id = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationIn(_Strict):
    lat: Annotated[float, NotBool] = Field(ge=-90, le=90)
    lon: Annotated[float, NotBool] = Field(ge=-180, le=180)


class UnitIn(_Strict):
    id: Id
    capabilities: list[str]
    status: UnitStatus = UnitStatus.AVAILABLE
    location: LocationIn | None = None
    incident: str | None = None
    call_sign: str | None = None
    station: str | None = None


class IncidentIn(_Strict):
    id: Id
    priority: Annotated[int, NotBool] = Field(ge=1, le=5)
    code: str = ""
    location: LocationIn | None = None
    requirements: dict[str, Annotated[int, NotBool, Field(ge=0)]]
    target_s: NonNegative
    opened_at: Annotated[float, NotBool] = Field(default=0.0, allow_inf_nan=False)


class PreviousAssignmentIn(BaseModel):
    """One earlier recommendation; other fields of a written plan are ignored."""

    model_config = ConfigDict(extra="ignore")
    unit: Id
    incident: Id
    capability: str = ""


class PreviousPlanIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    assignments: list[PreviousAssignmentIn] = Field(default_factory=list)


class ProblemIn(_Strict):
    """The body of ``planner solve PROBLEM.json`` and ``POST /v1/plan``."""

    units: list[UnitIn]
    incidents: list[IncidentIn]
    travel_times_s: dict[str, dict[str, NonNegative]] | None = None
    region: str | None = None
    options: OptionsIn = Field(default_factory=OptionsIn)
    previous: PreviousPlanIn | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ProblemIn:
        _unique([u.id for u in self.units], "units")
        _unique([i.id for i in self.incidents], "incidents")
        if self.travel_times_s is None and self.region is None:
            raise InputError(
                "give travel_times_s or a region to compute them from", field="travel_times_s"
            )
        if self.travel_times_s is not None:
            units = {u.id for u in self.units}
            incidents = {i.id for i in self.incidents}
            for uid, row in self.travel_times_s.items():
                if uid not in units:
                    raise InputError(f"unknown unit {uid!r}", field=f"travel_times_s.{uid}")
                for iid in row:
                    if iid not in incidents:
                        raise InputError(
                            f"unknown incident {iid!r}", field=f"travel_times_s.{uid}.{iid}"
                        )
        return self


def _unique(ids: list[str], field: str) -> None:
    seen: set[str] = set()
    for k, value in enumerate(ids):
        if value in seen:
            raise InputError(f"duplicate id {value!r}", field=f"{field}[{k}].id")
        seen.add(value)


@dataclass(frozen=True, slots=True)
class ParsedProblem:
    """What a Problem JSON stands for, ready for :func:`planner.dispatch.solver.solve`."""

    problem: DispatchProblem
    options: SolveOptions
    previous: Plan | None


def parse_problem(data: str | bytes | Mapping[str, Any]) -> ParsedProblem:
    """Validate Problem JSON (text or already-decoded) into solver inputs."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                field="problem",
            ) from exc
    if not isinstance(data, Mapping):
        raise InputError("must be a JSON object", field="problem")
    try:
        model = ProblemIn.model_validate(data)
    except ValidationError as exc:
        raise _input_error(exc) from exc
    return problem_from_model(model)


def load_problem(path: Path) -> ParsedProblem:
    """Read and validate a Problem JSON file."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", field="problem") from exc
    return parse_problem(text)


def problem_from_model(model: ProblemIn) -> ParsedProblem:
    """Solver inputs from a validated model (travel times from the region if not given)."""
    units = tuple(
        Unit(
            id=u.id,
            capabilities=frozenset(u.capabilities),
            status=u.status,
            location=_location(u.location),
            call_sign=u.call_sign,
            station=u.station,
            incident=u.incident,
        )
        for u in model.units
    )
    incidents = tuple(
        Incident(
            id=i.id,
            priority=i.priority,
            code=i.code,
            location=_location(i.location),
            requirements=dict(i.requirements),
            target_s=i.target_s,
            opened_at=i.opened_at,
        )
        for i in model.incidents
    )
    if model.travel_times_s is not None:
        tt = np.full((len(units), len(incidents)), math.inf)
        col = {inc.id: k for k, inc in enumerate(incidents)}
        for u, unit in enumerate(units):
            for iid, seconds in model.travel_times_s.get(unit.id, {}).items():
                tt[u, col[iid]] = seconds
    else:
        tt = _region_etas(str(model.region), units, incidents)
    options = model.options.to_options()
    previous = None
    if model.previous is not None:
        previous = _previous_plan(model.previous, options)
    return ParsedProblem(DispatchProblem(units, incidents, tt), options, previous)


def _location(loc: LocationIn | None) -> Location | None:
    return None if loc is None else Location(lat=loc.lat, lon=loc.lon)


def _region_etas(
    spec: str, units: tuple[Unit, ...], incidents: tuple[Incident, ...]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Road-network ETAs; units without a location cannot be sent (``inf``)."""
    from planner.network.loader import load_region
    from planner.network.region import eta_matrix

    for k, inc in enumerate(incidents):
        if inc.location is None:
            raise InputError(
                "needed to compute travel times from the region", field=f"incidents[{k}].location"
            )
    located = [u for u, unit in enumerate(units) if unit.location is not None]
    origins = [loc for unit in units if (loc := unit.location) is not None]
    destinations = [loc for inc in incidents if (loc := inc.location) is not None]
    region = load_region(spec)
    try:
        etas = eta_matrix(region, origins, destinations)
    except PlannerError as exc:
        raise type(exc)(exc.message, field=_edge_field(exc.field, located)) from exc
    tt = np.full((len(units), len(incidents)), math.inf)
    tt[located, :] = etas
    return tt


def _edge_field(field: str | None, located: list[int]) -> str | None:
    """Map ``origins[k]``/``destinations[k]`` of ``eta_matrix`` back to the input fields."""
    if field is None:
        return None
    if field.startswith("origins[") and field.endswith("]"):
        return f"units[{located[int(field[8:-1])]}].location"
    if field.startswith("destinations[") and field.endswith("]"):
        return f"incidents[{field[13:-1]}].location"
    return field


def _previous_plan(previous: PreviousPlanIn, options: SolveOptions) -> Plan:
    assignments = tuple(
        Assignment(
            unit=a.unit,
            incident=a.incident,
            capability=a.capability,
            eta_s=math.nan,
            why=Why(rank=0, next_best_unit=None, next_best_eta_s=None),
        )
        for a in previous.assignments
    )
    return Plan(
        status="previous",
        policy=options.policy,
        assignments=assignments,
        unmet=(),
        objective=Objective(filled_by_priority={}, cost=0.0, late_assignments=0),
        options=options,
        solve_ms=0.0,
    )


def _input_error(exc: ValidationError) -> InputError:
    """The first validation error as an ``InputError`` naming its field."""
    first = exc.errors()[0]
    parts: list[str] = []
    for part in first["loc"]:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(f".{part}" if parts else str(part))
    field = "".join(parts) or "problem"
    ctx_error = first.get("ctx", {}).get("error")
    if isinstance(ctx_error, PlannerError):
        return InputError(ctx_error.message, field=ctx_error.field or field)
    message = str(first["msg"]).removeprefix("Value error, ")
    return InputError(message, field=field)


# --- output ------------------------------------------------------------------------------


class WhyOut(BaseModel):
    rank: int
    next_best_unit: str | None
    next_best_eta_s: float | None
    notes: list[str]


class AssignmentOut(BaseModel):
    unit: str
    incident: str
    capability: str
    eta_s: float | None
    """``null`` for a committed unit whose ETA is unknown."""
    why: WhyOut
    preempted_from: str | None = None


class UnmetOut(BaseModel):
    incident: str
    capability: str
    missing: int
    reason: str


class ObjectiveOut(BaseModel):
    filled_by_priority: dict[str, int]
    cost: float
    late_assignments: int
    terms: dict[str, float]


class OptionsOut(BaseModel):
    policy: str
    priority_weights: dict[str, float]
    late_penalty_s: float
    time_limit_s: float
    allow_preemption: bool
    preemption_gap: int
    preemption_cost_s: float
    stability_bonus_s: float
    hold_max_s: float
    hold_from_priority: int
    divert_margin_s: float | None


class PlanOut(BaseModel):
    """The Plan JSON: the issue's shape plus ``committed`` and ``objective.terms``."""

    status: str
    policy: str
    assignments: list[AssignmentOut]
    unmet: list[UnmetOut]
    objective: ObjectiveOut
    options: OptionsOut
    solve_ms: float
    committed: list[AssignmentOut]

    @classmethod
    def from_plan(cls, plan: Plan) -> PlanOut:
        return cls(
            status=plan.status,
            policy=plan.policy,
            assignments=[_assignment_out(a) for a in plan.assignments],
            unmet=[_unmet_out(m) for m in plan.unmet],
            objective=ObjectiveOut(
                filled_by_priority={
                    str(p): n for p, n in sorted(plan.objective.filled_by_priority.items())
                },
                cost=round(plan.objective.cost, 3),
                late_assignments=plan.objective.late_assignments,
                terms={k: round(v, 3) for k, v in plan.objective.terms.items()},
            ),
            options=_options_out(plan.options),
            solve_ms=round(plan.solve_ms, 3),
            committed=[_assignment_out(a) for a in plan.committed],
        )


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The Plan JSON of ``planner solve`` and ``POST /v1/plan`` (JSON-safe types only)."""
    return PlanOut.from_plan(plan).model_dump(mode="json")


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 3)


def _assignment_out(a: Assignment) -> AssignmentOut:
    return AssignmentOut(
        unit=a.unit,
        incident=a.incident,
        capability=a.capability,
        eta_s=_finite(a.eta_s),
        why=WhyOut(
            rank=a.why.rank,
            next_best_unit=a.why.next_best_unit,
            next_best_eta_s=_finite(a.why.next_best_eta_s),
            notes=list(a.why.notes),
        ),
        preempted_from=a.preempted_from,
    )


def _unmet_out(m: Unmet) -> UnmetOut:
    return UnmetOut(
        incident=m.incident, capability=m.capability, missing=m.missing, reason=m.reason
    )


def _options_out(options: SolveOptions) -> OptionsOut:
    return OptionsOut(
        policy=options.policy,
        priority_weights={str(p): w for p, w in sorted(options.priority_weights.items())},
        late_penalty_s=options.late_penalty_s,
        time_limit_s=options.time_limit_s,
        allow_preemption=options.allow_preemption,
        preemption_gap=options.preemption_gap,
        preemption_cost_s=options.preemption_cost_s,
        stability_bonus_s=options.stability_bonus_s,
        hold_max_s=options.hold_max_s,
        hold_from_priority=options.hold_from_priority,
        divert_margin_s=options.divert_margin_s,
    )

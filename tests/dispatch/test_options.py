"""One solver-options model: the CLI/API Problem ``options``, the engine's ``solver`` config and a
scenario's ``solver`` all read options alike; partial priority weights keep the other levels."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from planner.centre.config import EngineConfig, SolverConfig
from planner.centre.events import CentreConfigured, parse_event
from planner.dispatch.domain import PRIORITIES, DispatchProblem, Incident, SolveOptions, Unit
from planner.dispatch.options import OptionsIn
from planner.dispatch.problem_io import parse_problem
from planner.dispatch.solver import solve
from planner.errors import InputError
from planner.sim.scenario import Scenario

DEFAULT_WEIGHTS = {1: 16.0, 2: 8.0, 3: 4.0, 4: 2.0, 5: 1.0}


def _via_problem_json(weights: dict[str, float] | None) -> SolveOptions:
    options: dict[str, Any] = {} if weights is None else {"priority_weights": weights}
    body = {"units": [], "incidents": [], "travel_times_s": {}, "options": options}
    return parse_problem(body).options


def _via_centre_event(weights: dict[str, float] | None) -> SolveOptions:
    event = parse_event({"type": "centre_configured", "solver": {"priority_weights": weights}})
    assert isinstance(event, CentreConfigured)
    return event.config().solver.to_options()


def _via_engine_config(weights: dict[str, float] | None) -> SolveOptions:
    return EngineConfig.model_validate(
        {"solver": {"priority_weights": weights}}
    ).solver.to_options()


def _via_scenario(weights: dict[str, float] | None) -> SolveOptions:
    solver = Scenario.model_fields["solver"].annotation
    assert solver is SolverConfig
    return SolverConfig.model_validate({"priority_weights": weights}).to_options()


ENTRY_POINTS = [_via_problem_json, _via_centre_event, _via_engine_config, _via_scenario]


def test_there_is_one_options_model() -> None:
    """The engine's config *is* the Problem's options model, and it covers every solver field."""
    assert SolverConfig is OptionsIn
    assert set(OptionsIn.model_fields) == {f.name for f in dataclasses.fields(SolveOptions)}
    assert OptionsIn().to_options() == SolveOptions()


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("level", PRIORITIES)
def test_every_priority_level_keeps_its_weight(entry: Any, level: int) -> None:
    """Setting one level changes only that level; the engine used to drop the others to 1.0."""
    options = entry({str(level): 100.0})
    assert options.priority_weights == {**DEFAULT_WEIGHTS, level: 100.0}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_absent_or_null_weights_are_the_defaults(entry: Any) -> None:
    """Older logs carry ``"priority_weights": null``; it means the defaults everywhere."""
    assert entry(None).priority_weights == DEFAULT_WEIGHTS


def test_unknown_level_is_refused_naming_it() -> None:
    with pytest.raises(InputError, match=r"unknown priority '6' \(use '1'..'5'\)") as info:
        _via_problem_json({"6": 2.0})
    assert info.value.field == "options.priority_weights.6"
    with pytest.raises(InputError, match="unknown priority '0'"):
        SolverConfig(priority_weights={0: 2.0})


def test_weights_change_the_plan_through_the_engine_config() -> None:
    """A config setting only level 2 leaves level 1 at 16: sending the one unit 300 s to the P1
    call costs 16 x 300 (it cost 1 x 300 when the engine replaced the whole table)."""
    problem = DispatchProblem(
        units=(Unit("U", frozenset({"ALS"})),),
        incidents=(
            Incident("A", 1, "X", None, {"ALS": 1}, 600.0),
            Incident("B", 3, "X", None, {"ALS": 1}, 600.0),
        ),
        travel_times_s=np.array([[300.0, 100.0]]),
    )
    options = SolverConfig(priority_weights={2: 50.0}).to_options()
    plan = solve(problem, options)
    assert [(a.unit, a.incident) for a in plan.assignments] == [("U", "A")]
    assert plan.objective.cost == pytest.approx(16.0 * 300.0)


def test_time_limit_is_honoured() -> None:
    """A budget already spent before the exact solve gives the closest-idle plan, marked
    ``feasible`` (not proven optimal); a normal budget gives the proven optimum."""
    problem = DispatchProblem(
        units=(Unit("U1", frozenset({"ALS"})), Unit("U2", frozenset({"ALS"}))),
        incidents=(
            Incident("A", 1, "X", None, {"ALS": 1}, 600.0),
            Incident("B", 1, "X", None, {"ALS": 1}, 600.0, opened_at=1.0),
        ),
        # Closest-idle sends U1 to A (60 s), leaving U2 1000 s from B; optimal: 100 + 120.
        travel_times_s=np.array([[60.0, 100.0], [120.0, 1000.0]]),
    )
    exact = solve(problem, SolveOptions())
    assert exact.status == "optimal"
    assert {(a.unit, a.incident) for a in exact.assignments} == {("U1", "B"), ("U2", "A")}
    rushed = solve(problem, SolveOptions(time_limit_s=1e-12))
    assert rushed.status == "feasible"
    assert {(a.unit, a.incident) for a in rushed.assignments} == {("U1", "A"), ("U2", "B")}


@pytest.mark.parametrize("value", [0.0, -1.0, math.inf])
def test_time_limit_must_be_positive_and_finite(value: float) -> None:
    with pytest.raises(InputError, match=r"greater than 0|finite number") as info:
        parse_problem(
            {"units": [], "incidents": [], "travel_times_s": {}, "options": {"time_limit_s": value}}
        )
    assert info.value.field == "options.time_limit_s"

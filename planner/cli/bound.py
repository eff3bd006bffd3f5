"""``planner bound``: the perfect-hindsight limit of a simulated day."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from planner.cli._common import fail
from planner.errors import InputError, PlannerError


def bound_command(
    scenario_path: Path = typer.Argument(..., help="Scenario YAML (see scenarios/)."),
    replication: int = typer.Option(0, "--replication", "-r", help="Which replication's calls."),
    hours: float | None = typer.Option(
        None, "--hours", help="Only the calls of the first HOURS (default: the whole horizon)."
    ),
    time_limit_s: float = typer.Option(60.0, "--time-limit", help="HiGHS time limit (s)."),
) -> None:
    """Fewest late calls any policy could achieve on a simulated day, all calls known in
    advance (a relaxation solved exactly with HiGHS; prints JSON)."""
    from planner.dispatch.bound import solve_bound
    from planner.sim.hindsight import hindsight_problem
    from planner.sim.scenario import load_scenario
    from planner.sim.world import generate_calls, prepare_world

    try:
        if replication < 0:
            raise InputError("must be at least 0", field="--replication")
        if hours is not None and hours <= 0:
            raise InputError("must be positive", field="--hours")
        if time_limit_s <= 0:
            raise InputError("must be positive", field="--time-limit")
        scenario = load_scenario(scenario_path)
        world = prepare_world(scenario)
        calls = generate_calls(world, replication)
        if hours is not None:
            calls = [c for c in calls if c.t_s < hours * 3600.0]
        result = solve_bound(hindsight_problem(world, calls), time_limit_s=time_limit_s)
    except PlannerError as exc:
        raise fail(str(exc)) from None
    doc = {
        "scenario": scenario.name,
        "replication": replication,
        "calls": len(calls),
        "status": result.status,
        "by_priority": {
            str(p): {
                "calls": result.calls_by_priority[p],
                "late": result.late_by_priority[p],
                "fraction_late": result.late_by_priority[p] / result.calls_by_priority[p],
            }
            for p in sorted(result.calls_by_priority)
        },
    }
    typer.echo(json.dumps(doc, indent=2))


def register(root: typer.Typer) -> None:
    root.command("bound")(bound_command)

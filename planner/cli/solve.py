"""``planner solve PROBLEM.json [-o PLAN.json]``: the stateless dispatch recommendation."""

from __future__ import annotations

from pathlib import Path

import typer

from planner.cli._common import write_json


def solve_command(
    problem: Path = typer.Argument(..., help="Problem JSON (units, incidents, travel times)."),
    out: Path | None = typer.Option(
        None, "-o", "--out", help="Write the plan here (default stdout)."
    ),
) -> None:
    """Recommend which units go where, now, and why (see README: the objective)."""
    from planner.dispatch.problem_io import load_problem, plan_to_json  # solver stack: load on use
    from planner.dispatch.solver import solve

    parsed = load_problem(problem)
    plan = solve(parsed.problem, parsed.options, previous=parsed.previous)
    write_json(plan_to_json(plan), out)


def register(root: typer.Typer) -> None:
    """Attach the top-level ``solve`` command to the root app."""
    root.command("solve")(solve_command)

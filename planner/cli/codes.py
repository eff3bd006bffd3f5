"""``planner codes``: check, list and show the incident code table (``data/codes.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from planner.centre.codes import SERVICES, CodeTable
from planner.cli._common import fail, write_json

app = typer.Typer(name="codes", help="Incident codes and response plans.", no_args_is_help=True)


def _table_option() -> Any:
    return typer.Option(None, "--table", help="Code table YAML (default: data/codes.yaml).")


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {c}" for c, n in counts.items())


@app.command()
def check(path: Path | None = typer.Argument(None, help="Code table YAML to validate.")) -> None:
    """Validate a code table; exit 2 with the code and field of the first problem."""
    table = CodeTable.load(path)
    services = sorted({c.service for c in table})
    typer.echo(
        f"ok: {len(table)} codes ({', '.join(services)}), "
        f"{len(table.capabilities)} capabilities in {table.source}"
    )


@app.command("list")
def list_codes(
    table_path: Path | None = _table_option(),
    service: str | None = typer.Option(None, "--service", help="Only this service."),
    json_out: bool = typer.Option(False, "--json", help="Print the whole table as JSON."),
) -> None:
    """One line per code: priority, target standard and the level-1 response."""
    if service is not None and service not in SERVICES:
        raise fail(f"--service: unknown service {service!r}; one of {', '.join(SERVICES)}")
    table = CodeTable.load(table_path)
    if json_out:
        write_json(table.to_json(), None)
        return
    for code in table:
        if service is not None and code.service != service:
            continue
        typer.echo(
            f"{code.code:30s} {code.service:9s} P{code.default_priority}  "
            f"{code.standard:32s} L1: {_fmt(code.requirements(1))}"
        )


@app.command()
def show(code_name: str, table_path: Path | None = _table_option()) -> None:
    """A code's run card level by level (additions and totals) and its approved advice."""
    code = CodeTable.load(table_path)[code_name]
    typer.echo(f"{code.code}: {code.label} ({code.service}, priority {code.default_priority})")
    typer.echo(f"target: {code.standard}")
    for level in range(1, code.max_level + 1):
        command = code.command_levels[level - 1]
        suffix = f"  [inform {command}]" if command else ""
        typer.echo(
            f"level {level}: adds {_fmt(dict(code.levels[level - 1]))}; "
            f"total {_fmt(code.requirements(level))}{suffix}"
        )
    typer.echo("Approved advice:")
    for sentence in code.advice:
        typer.echo(f"  - {sentence}")


@app.command()
def seattle(log_path: Path | None = typer.Argument(None, help="Seattle dispatch log.")) -> None:
    """Print the Seattle figures the fire run cards are derived from."""
    from planner.centre.codes_from_seattle import main as derive

    derive([str(log_path)] if log_path else [])

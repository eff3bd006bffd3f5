"""Plumbing shared by the CLI sub-commands: error handling and JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from typer import TyperException
from typer._click.exceptions import UsageError  # Typer 0.29 bundles its own click

from planner.atomic_write import write_text_atomic
from planner.errors import InputError, PlannerError


def fail(message: str) -> typer.Exit:
    """Print a one-line error to stderr and return the exit to raise (code 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def run_app(app: typer.Typer) -> None:
    """Run a Typer app: planner errors and usage errors exit 2 with a one-line message."""
    try:
        code = app(standalone_mode=False)  # returns (not raises) a command's typer.Exit code
        if isinstance(code, int) and code:
            sys.exit(code)
    except PlannerError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except TyperException as exc:  # Typer's bundled click: usage errors, bad values, files
        typer.echo(f"error: {usage_message(exc)}", err=True)
        sys.exit(2)


def usage_message(exc: TyperException) -> str:
    """Click's multi-line usage error as one line, with the help hint when there is one."""
    message = " ".join(exc.format_message().split())
    if isinstance(exc, UsageError) and exc.ctx is not None:
        message += f" (try '{exc.ctx.command_path} --help')"
    return message


def write_file(path: Path, text: str, *, field: str) -> None:
    """Write a command's output atomically; an unwritable path is bad input naming ``field``."""
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}", field=field) from None


def write_json(data: Any, out: Path | None, *, field: str = "-o") -> None:
    """Write JSON to a file (atomically), or to stdout when no file is given."""
    text = json.dumps(data, indent=2, sort_keys=False)
    if out is None:
        typer.echo(text)
    else:
        write_file(out, text + "\n", field=field)

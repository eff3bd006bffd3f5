"""``planner events apply`` and ``planner log replay``: drive the engine from files and logs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import typer

from planner.centre.codes import CodeTable
from planner.centre.engine import Engine, Outcome
from planner.centre.events import CentreConfigured
from planner.centre.state import CentreState
from planner.cli._common import fail, write_json
from planner.cli.log import app as log_app
from planner.dispatch.domain import Plan
from planner.dispatch.problem_io import plan_to_json
from planner.errors import InputError, PlannerError
from planner.log.incident_log import IncidentLog, line_ids
from planner.log.signing import load_signing_key
from planner.settings import get_settings

app = typer.Typer(
    name="events", help="Apply dispatch events to an incident log.", no_args_is_help=True
)


def _codes(path: Path | None) -> CodeTable:
    return CodeTable.load(path)


@app.command("apply")
def apply_events(
    events: Path = typer.Argument(..., help="JSON-lines file of events (the API's event JSON)."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: PLANNER_DB_URL)."),
    codes: Path | None = typer.Option(
        None,
        "--codes",
        help="Code table YAML (default: bundled); on an existing log, a table that differs "
        "from the logged one is recorded by a centre_configured first.",
    ),
    signing_key: Path | None = typer.Option(
        None, "--signing-key", help="Ed25519 private key: sign every entry appended."
    ),
) -> None:
    """Apply events in order; stop at the first malformed or rejected one (exit 2).

    Each line is applied in one transaction with a record of it, so re-running the same file
    adds nothing and a run that was killed resumes after the last line it committed."""
    try:
        text = events.read_bytes().decode("utf-8")
    except OSError as exc:
        raise fail(f"cannot read {events}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise fail(f"{events}: not a UTF-8 JSON-lines file (byte {exc.start})") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise fail(f"{events}: no events (the file is empty)")
    ids = line_ids(lines)
    table = _codes(codes)
    key = None if signing_key is None else load_signing_key(signing_key)
    with IncidentLog(db or get_settings().db_url, signing_key=key) as log:
        done = log.imported(ids)
        has_events = log.head() > 0 and bool(log.entries(limit=1))
        if has_events:
            engine = Engine.replay(log, codes=table)
            adopted = engine.adopt_codes(table)
            if adopted is not None and isinstance(adopted.event, CentreConfigured):
                typer.echo(f"logged centre_configured (seq {adopted.seq}): {adopted.event.reason}")
        else:
            engine = Engine(codes=table, log=log)
        applied = derived = skipped = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            line_id = ids[number - 1]
            if line_id in done:
                skipped += 1
                continue

            def remember(outcome: Outcome, line_id: str = line_id, number: int = number) -> None:
                log.record_import(line_id, line=number, seq=outcome.seq)

            try:
                outcome = engine.submit(_parse_line(line), before_commit=remember)
            except PlannerError as exc:
                raise fail(
                    f"{events}:{number}: rejected: {exc} (applied {applied} events before the "
                    "rejection)"
                ) from None
            applied += 1
            derived += len(outcome.derived)
        again = f"; {skipped} lines applied by an earlier run skipped" if skipped else ""
        typer.echo(
            f"applied {applied} events ({derived} derived by the engine){again}; "
            f"log head {engine.version}"
        )
        typer.echo(_summary(engine.state, engine.plan))


def _parse_line(line: str) -> Any:
    """One JSON-lines event; malformed JSON is rejected like any other bad event."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", field="line") from None
    except RecursionError:
        raise InputError("JSON nested too deeply", field="line") from None


def replay(
    db: str | None = typer.Option(None, "--db", help="Database URL (default: PLANNER_DB_URL)."),
    codes: Path | None = typer.Option(
        None,
        "--codes",
        help="Code table YAML, only for logs whose centre_configured does not embed one "
        "(default: bundled).",
    ),
    fast: bool = typer.Option(
        False, "--fast", help="Trust the logged recommendations instead of re-solving each one."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Rebuild the state from the log alone and print it with the final recommendations."""
    with IncidentLog(db or get_settings().db_url, create=False) as log:
        engine = Engine.replay(log, codes=_codes(codes), resolve=not fast)
    if as_json:
        write_json(_summary_json(engine), None)
    else:
        typer.echo(f"replayed to log head {engine.version}")
        typer.echo(_summary(engine.state, engine.plan))


def _summary(state: CentreState, plan: Plan | None) -> str:
    statuses = Counter(u.status.value for u in state.units.values())
    lines = [
        f"units: {len(state.units)} ("
        + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        + ")",
        f"incidents: {len(state.incidents)} open, {len(state.closed_incidents)} closed; "
        f"contacts: {len(state.contacts)}; closures on: {len(state.closures)}",
    ]
    for incident in state.incidents.values():
        committed = sorted(u.id for u in state.units.values() if u.incident == incident.id)
        flags = " MAJOR INCIDENT" if incident.major_incident else ""
        lines.append(
            f"  {incident.id} {incident.code} P{incident.priority} level {incident.level}"
            f" command {incident.command_level or '-'}{flags}; units {', '.join(committed) or '-'}"
        )
    if plan is None:
        lines.append("recommendation: none")
        return "\n".join(lines)
    lines.append(f"recommendation ({plan.status}):")
    for a in plan.assignments:
        diverted = f" (diverted from {a.preempted_from})" if a.preempted_from else ""
        lines.append(
            f"  send {a.unit} to {a.incident} as {a.capability}, ETA {a.eta_s:.0f} s{diverted}"
        )
    for u in plan.unmet:
        lines.append(f"  unmet {u.incident} {u.capability} x{u.missing}: {u.reason}")
    if not plan.assignments and not plan.unmet:
        lines.append("  nothing to send")
    return "\n".join(lines)


def _summary_json(engine: Engine) -> dict[str, Any]:
    state = engine.state
    return {
        "version": engine.version,
        "units": {
            u.id: {"status": u.status.value, "incident": u.incident} for u in state.units.values()
        },
        "open_incidents": {
            i.id: {
                "code": i.code,
                "priority": i.priority,
                "level": i.level,
                "command_level": i.command_level,
                "major_incident": i.major_incident,
            }
            for i in state.incidents.values()
        },
        "closed_incidents": sorted(state.closed_incidents),
        "events": dict(state.counts),
        "plan": plan_to_json(engine.plan) if engine.plan is not None else None,
    }


def register(root: typer.Typer) -> None:
    """Add ``planner events`` to the root app and ``replay`` to the ``planner log`` group."""
    root.add_typer(app, name="events")
    log_app.command("replay")(replay)

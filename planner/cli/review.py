"""``planner review``, ``planner review-trends``, ``planner review-import`` and
``planner coaching record``: supervisors' reviews, trends, external logs and coaching records."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer

from planner.cli._common import fail, write_file, write_json
from planner.errors import InputError, PlannerError
from planner.settings import get_settings

P = ParamSpec("P")
R = TypeVar("R")

coaching_app = typer.Typer(
    name="coaching", help="Record coaching and buddying sessions.", no_args_is_help=True
)


def _one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Bad input exits 2 with a one-line message, also when invoked without ``run_app``."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PlannerError as exc:
            raise fail(str(exc)) from None

    return wrapper


def _date(text: str, *, field: str, end: bool, tz: str) -> datetime:
    """An ISO date or date-time; without an offset it is read in the centre's time zone."""
    from planner.review.performance import time_zone

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"not an ISO date or date-time: {text!r}", field=field) from None
    if len(text) == 10 and end:
        value = value.replace(hour=23, minute=59, second=59, microsecond=999999)
    return value if value.tzinfo else value.replace(tzinfo=time_zone(tz))


def _period(
    date_from: str | None, date_to: str | None, tz: str
) -> tuple[datetime | None, datetime | None]:
    start = _date(date_from, field="--from", end=False, tz=tz) if date_from else None
    stop = _date(date_to, field="--to", end=True, tz=tz) if date_to else None
    if start and stop and stop < start:
        raise InputError("--to is before --from", field="--to")
    return start, stop


def review_command(
    db: str | None = typer.Option(None, "--db", help="Incident log URL (default: settings)."),
    date_from: str | None = typer.Option(None, "--from", help="First day (ISO date)."),
    date_to: str | None = typer.Option(None, "--to", help="Last day (ISO date, inclusive)."),
    roster: Path | None = typer.Option(None, "--roster", help="YAML: dispatcher -> team."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write Markdown (and .json) here."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of Markdown."),
    tz: str | None = typer.Option(
        None, "--tz", help="Centre time zone, IANA name (default: PLANNER_CENTRE_TZ, UTC)."
    ),
    few_calls: int = typer.Option(
        5, "--few-calls", help="Mark figures resting on fewer calls than this."
    ),
    reversal_window: float = typer.Option(
        120.0, "--reversal-window", help="Seconds within which an override counts as reversed."
    ),
    timelines: int | None = typer.Option(
        None, "--timelines", min=0, help="After-action timelines in Markdown (default: all)."
    ),
) -> None:
    """Performance review per role (call-takers, dispatchers, crews) and team."""
    from planner.review.performance import build_review, load_roster, review_markdown

    settings = get_settings()
    zone = tz or settings.centre_tz
    start, stop = _period(date_from, date_to, zone)
    if reversal_window < 0:
        raise InputError("must not be negative", field="--reversal-window")
    if few_calls < 1:
        raise InputError("must be at least 1", field="--few-calls")
    review = build_review(
        db or settings.db_url,
        start=start,
        end=stop,
        roster=load_roster(roster) if roster else None,
        tz=zone,
        min_calls=few_calls,
        reversal_window_s=reversal_window,
    )
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot write {out}: {exc.strerror or exc}", field="--out") from None
        write_file(out, review_markdown(review, timelines=timelines), field="--out")
        write_json(review, out.with_suffix(".json"), field="--out")
        typer.echo(f"review: {out}")
    elif json_out:
        write_json(review, None)
    else:
        typer.echo(review_markdown(review, timelines=timelines))


@coaching_app.command("record")
@_one_line_errors
def coaching_record(
    coach: str = typer.Option(..., "--coach", help="Who coached (e.g. morgan)."),
    colleague: str = typer.Option(..., "--with", help="The colleague coached (e.g. alice)."),
    topic: str = typer.Option(..., "--topic", help="What the session was about."),
    figure: str | None = typer.Option(
        None,
        "--figure",
        help="Review figure it aims to move: answer, call_handling, dispatch, "
        "turnout, travel, override_rate.",
    ),
    incidents: list[str] = typer.Option([], "--incident", help="Incident discussed (repeat)."),
    follow_up: str | None = typer.Option(None, "--follow-up", help="Follow-up date (ISO)."),
    notes: str | None = typer.Option(None, "--notes", help="Notes (kept as personal data)."),
    db: str | None = typer.Option(None, "--db", help="Incident log URL (default: settings)."),
) -> None:
    """Record a coaching session as a ``coaching_recorded`` event in the incident log."""
    from planner.centre.engine import Engine
    from planner.log.incident_log import IncidentLog

    if follow_up is not None:
        try:
            date.fromisoformat(follow_up)
        except ValueError:
            raise InputError(f"not an ISO date: {follow_up!r}", field="--follow-up") from None
    event = {
        "type": "coaching_recorded",
        "actor": f"supervisor:{coach}",
        "coach": coach,
        "colleague": colleague,
        "topic": topic,
        "figure": figure,
        "incidents": incidents,
        "follow_up": follow_up,
        "notes": notes,
    }
    with IncidentLog(db or get_settings().db_url, create=False) as log:
        engine = Engine.replay(log, resolve=False)
        outcome = engine.submit(event)
    typer.echo(f"coaching_recorded: seq {outcome.seq}")


def review_import(
    source: Path = typer.Argument(..., help="CAD export (CSV/TSV, optionally gzipped)."),
    db: str = typer.Option(..., "--db", help="URL of the new, review-only log."),
    mapping: Path | None = typer.Option(
        None, "--mapping", help="Column mapping YAML (default: the Seattle dispatch log)."
    ),
) -> None:
    """Import an external CAD export into a review-only log; review it with 'planner review'."""
    from planner.review.cad_import import import_cad, load_mapping, seattle_mapping

    if mapping is not None:
        columns = load_mapping(mapping)
    else:
        columns = seattle_mapping(get_settings().data_dir / "regions" / "seattle")
    summary = import_cad(source, db, columns)
    typer.echo(
        f"imported {summary.rows} rows, {summary.incidents} incidents as {summary.events} "
        f"events (source times: {', '.join(summary.source_times)}) into {db}"
    )


def review_trends(
    db: str | None = typer.Option(None, "--db", help="Incident log URL (default: settings)."),
    date_from: str | None = typer.Option(None, "--from", help="First day (ISO date)."),
    date_to: str | None = typer.Option(None, "--to", help="Last day (ISO date, inclusive)."),
    by: str = typer.Option("week", "--by", help="shift, day or week."),
    shift_start: int = typer.Option(7, "--shift-start", help="Hour the first shift starts."),
    shift_hours: int = typer.Option(12, "--shift-hours", help="Length of a shift (divides 24)."),
    roster: Path | None = typer.Option(None, "--roster", help="YAML: person -> team."),
    tz: str | None = typer.Option(
        None, "--tz", help="Centre time zone, IANA name (default: PLANNER_CENTRE_TZ, UTC)."
    ),
    few_calls: int = typer.Option(
        5, "--few-calls", help="Mark points resting on fewer calls than this."
    ),
    out: Path = typer.Option(
        Path("trends-out"), "--out", "-o", help="Directory for trends.md, .json and .png."
    ),
) -> None:
    """Per-person and per-team figures across shifts, days or weeks, with small multiples."""
    from planner.review.performance import load_records, load_roster
    from planner.review.trends import build_trends, plot_trends, trends_markdown

    settings = get_settings()
    zone = tz or settings.centre_tz
    start, stop = _period(date_from, date_to, zone)
    if by not in ("shift", "day", "week"):
        raise InputError("one of shift, day, week", field="--by")
    if few_calls < 1:
        raise InputError("must be at least 1", field="--few-calls")
    trends = build_trends(
        load_records(db or settings.db_url),
        by=by,  # type: ignore[arg-type]  # checked just above
        tz=zone,
        roster=load_roster(roster) if roster else None,
        min_calls=few_calls,
        start=start,
        end=stop,
        shift_start=shift_start,
        shift_hours=shift_hours,
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}", field="--out") from None
    write_file(out / "trends.md", trends_markdown(trends), field="--out")
    write_json(trends, out / "trends.json", field="--out")
    written = [out / "trends.md", out / "trends.json"]
    if trends["periods"]:
        written.append(plot_trends(trends, out / "trends.png"))
    typer.echo("trends: " + ", ".join(str(p) for p in written))


def register(root: typer.Typer) -> None:
    """Attach ``review``, ``review-import`` and the ``coaching`` group to the root app."""
    root.command("review")(_one_line_errors(review_command))
    root.command("review-import")(_one_line_errors(review_import))
    root.command("review-trends")(_one_line_errors(review_trends))
    root.add_typer(coaching_app, name="coaching")

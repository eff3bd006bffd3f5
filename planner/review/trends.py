"""Trends across shifts, days or weeks: per person and per team, with small-multiple plots.

Each period's figures are the review's own (owned segments only, see
:mod:`planner.review.records`): answer, call handling and dispatch medians and the override
rate. Every point carries its number of calls and a "few calls" flag below ``min_calls``; the
plots draw such points hollow, so a supervisor does not read a trend into one or two calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from planner.errors import InputError
from planner.review.performance import MIN_CALLS, figures, time_zone
from planner.review.records import Records

Period = Literal["shift", "day", "week"]
FIGURES = ("answer", "call_handling", "dispatch", "override_rate")
TITLES = {
    "answer": "answer, median s",
    "call_handling": "call handling, median s",
    "dispatch": "dispatch, median s",
    "override_rate": "override rate",
}


def period_of(
    by: Period, tz: str, *, shift_start: int = 7, shift_hours: int = 12
) -> Callable[[datetime], str]:
    """The label of the period an instant falls in, in the centre's time zone."""
    zone = time_zone(tz)
    if not 0 <= shift_start < 24:
        raise InputError("must be an hour from 0 to 23", field="shift_start")
    if shift_hours < 1 or 24 % shift_hours:
        raise InputError("must divide 24 (e.g. 8 or 12)", field="shift_hours")

    def label(t: datetime) -> str:
        local = t.astimezone(zone)
        if by == "week":
            year, week, _ = local.isocalendar()
            return f"{year}-W{week:02d}"
        if by == "day":
            return local.date().isoformat()
        shifted = local - timedelta(hours=shift_start)
        start = shift_start + shifted.hour // shift_hours * shift_hours
        return f"{shifted.date().isoformat()} {start % 24:02d}:00"

    return label


def build_trends(
    rec: Records,
    *,
    by: Period = "week",
    tz: str = "UTC",
    roster: dict[str, str] | None = None,
    min_calls: int = MIN_CALLS,
    start: datetime | None = None,
    end: datetime | None = None,
    shift_start: int = 7,
    shift_hours: int = 12,
) -> dict[str, Any]:
    """``{periods, people: {name: {figure: [point per period]}}, teams: {...}}``."""
    if by not in ("shift", "day", "week"):
        raise InputError("one of shift, day, week", field="by")
    if min_calls < 1:
        raise InputError("must be at least 1", field="min_calls")
    label = period_of(by, tz, shift_start=shift_start, shift_hours=shift_hours)

    def in_window(t: datetime) -> bool:
        return (start is None or t >= start) and (end is None or t <= end)

    periods = sorted({label(s.start) for s in rec.segments if in_window(s.start)})
    people: dict[str, dict[str, list[dict[str, Any]]]] = {}
    teams: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for i, period in enumerate(periods):

        def inside(t: datetime, period: str = period) -> bool:
            return in_window(t) and label(t) == period

        fig = figures(rec, inside, roster or {}, min_calls)
        for target, source in ((people, fig["dispatchers"]), (teams, fig["teams"])):
            for name, doc in source.items():
                series = target.setdefault(name, {f: _empty(periods) for f in FIGURES})
                for f in FIGURES:
                    series[f][i] = _point(period, doc, f, min_calls)
    return {
        "by": by,
        "time_zone": tz,
        "few_calls_below": min_calls,
        "periods": periods,
        "people": {n: _drop_empty(s) for n, s in sorted(people.items())},
        "teams": {n: _drop_empty(s) for n, s in sorted(teams.items())},
    }


def _empty(periods: list[str]) -> list[dict[str, Any]]:
    return [{"period": p, "n": 0, "value": None, "few_calls": True} for p in periods]


def _point(period: str, doc: dict[str, Any], figure: str, min_calls: int) -> dict[str, Any]:
    if figure == "override_rate":
        n = doc["dispatches"]
        return {"period": period, "n": n, "value": doc["override_rate"], "few_calls": n < min_calls}
    st = doc[figure]
    return {"period": period, "n": st["n"], "value": st["median_s"], "few_calls": st["few_calls"]}


def _drop_empty(series: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {f: pts for f, pts in series.items() if any(p["n"] for p in pts)}


def trends_markdown(trends: dict[str, Any]) -> str:
    """One table per figure: people and teams by period, ``*`` on few-calls points."""
    periods = trends["periods"]
    lines = [
        f"# Trends by {trends['by']} ({trends['time_zone']})",
        "",
        f"Medians in seconds (override rate in %) with the number of calls; `*` marks a point "
        f"resting on fewer than {trends['few_calls_below']} calls.",
        "",
    ]
    if not periods:
        return "\n".join([*lines, "No activity in this period."]) + "\n"
    for figure in FIGURES:
        rows = [
            (kind, name, series[figure])
            for kind, group in (("person", trends["people"]), ("team", trends["teams"]))
            for name, series in group.items()
            if figure in series
        ]
        if not rows:
            continue
        lines += [
            f"## {TITLES[figure]}",
            "",
            "| who | " + " | ".join(periods) + " |",
            "|---|" + "---|" * len(periods),
        ]
        for kind, name, points in rows:
            cells = [_cell(p, figure) for p in points]
            lines.append(f"| {name} ({kind}) | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _cell(point: dict[str, Any], figure: str) -> str:
    if point["value"] is None:
        return "–"
    mark = "*" if point["few_calls"] else ""
    value = point["value"] * 100 if figure == "override_rate" else point["value"]
    unit = " %" if figure == "override_rate" else " s"
    return f"{value:.0f}{unit} ({point['n']}{mark})"


def plot_trends(trends: dict[str, Any], path: Path) -> Path:
    """Small multiples: one row per person (then teams), one column per figure; few-calls
    points hollow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(f"{name}", s) for name, s in trends["people"].items()]
    rows += [(f"team {name}", s) for name, s in trends["teams"].items()]
    columns = [f for f in FIGURES if any(f in s for _, s in rows)]
    if not rows or not columns:
        raise InputError("no figures to plot in this period", field="period")
    fig, axes = plt.subplots(
        len(rows),
        len(columns),
        figsize=(2.8 * len(columns) + 0.6, 1.7 * len(rows) + 0.8),
        squeeze=False,
        sharex=True,
    )
    x = list(range(len(trends["periods"])))
    for r, (name, series) in enumerate(rows):
        for c, figure in enumerate(columns):
            ax = axes[r][c]
            points = series.get(figure)
            if points:
                scale = 100.0 if figure == "override_rate" else 1.0
                xs = [i for i, p in zip(x, points, strict=True) if p["value"] is not None]
                ys = [p["value"] * scale for p in points if p["value"] is not None]
                few = [p["few_calls"] for p in points if p["value"] is not None]
                ax.plot(xs, ys, color="tab:blue", linewidth=1.2)
                ax.scatter(
                    [a for a, f in zip(xs, few, strict=True) if not f],
                    [b for b, f in zip(ys, few, strict=True) if not f],
                    color="tab:blue", s=18, zorder=3,
                )  # fmt: skip
                ax.scatter(
                    [a for a, f in zip(xs, few, strict=True) if f],
                    [b for b, f in zip(ys, few, strict=True) if f],
                    facecolors="white", edgecolors="tab:orange", s=22, zorder=3,
                )  # fmt: skip
                top = 100.0 if figure == "override_rate" else max(ys, default=1.0) * 1.15
                ax.set_ylim(0, top)  # from zero, so small wobbles do not look like trends
            else:
                ax.set_facecolor("#f4f4f4")
                ax.set_yticks([])
            if r == 0:
                ax.set_title(TITLES[figure].replace("median s", "median (s)"), fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xticks(x)
        ax.set_xticklabels(trends["periods"], rotation=45, ha="right", fontsize=7)
    fig.suptitle(
        f"Trends by {trends['by']}; hollow orange = few calls (< {trends['few_calls_below']})",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""``planner simulate``, ``planner compare`` and ``planner sweep``: what-if runs."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from planner.cli._common import fail
from planner.errors import InputError, PlannerError
from planner.sim.scenario import load_scenario

if TYPE_CHECKING:  # the simulator stack (pandas, scipy.stats) loads only when a command runs
    from planner.sim.metrics import ReplicationResult
    from planner.sim.scenario import Scenario

P = ParamSpec("P")
R = TypeVar("R")

# The options simulate, compare and sweep share: declared once, with one meaning and one check.
Policies = Annotated[
    str | None,
    typer.Option(
        "--policies",
        help="Comma-separated policies (default: the scenario's; compare: those both list).",
    ),
]
Replications = Annotated[int | None, typer.Option("--replications", "-n", help="Replications.")]
Hours = Annotated[float | None, typer.Option("--hours", help="Override the horizon (hours).")]
Workers = Annotated[int, typer.Option("--workers", help="Parallel processes (1: in-process).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
Cluster = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Run on Dask: 'local' (a LocalCluster of --workers processes) or a scheduler "
        "address tcp://HOST:8786.",
    ),
]


def _one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Bad input exits 2 with a one-line message, also when invoked without ``run_app``."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PlannerError as exc:
            raise fail(str(exc)) from None

    return wrapper


def _policies(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise InputError("give at least one policy", field="--policies")
    return names


def _run(
    scenario: Scenario,
    *,
    policies: list[str] | None,
    replications: int | None,
    workers: int,
    quiet: bool,
    cluster: str | None = None,
) -> list[ReplicationResult]:
    from planner.sim.simulator import simulate

    _check_counts(replications, workers)
    if quiet:
        return simulate(
            scenario,
            policies=policies,
            replications=replications,
            workers=workers,
            cluster=cluster,
        )
    with Progress(
        TextColumn(f"[bold]{scenario.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("runs", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        callback: Callable[[int, int], None] = progress
        return simulate(
            scenario,
            policies=policies,
            replications=replications,
            workers=workers,
            progress=callback,
            cluster=cluster,
        )


def simulate_command(
    scenario_path: Path = typer.Argument(..., help="Scenario YAML (see scenarios/)."),
    policies: Policies = None,
    replications: Replications = None,
    out: Path = typer.Option(Path("sim-out"), "--out", "-o", help="Output directory."),
    hours: Hours = None,
    workers: Workers = 2,
    quiet: Quiet = False,
    cluster: Cluster = None,
) -> None:
    """Simulate a scenario with each policy on common random numbers; write a report."""
    from planner.sim.report import write_simulation_report

    _check_writable(out)
    scenario = _with_hours(load_scenario(scenario_path), hours)
    results = _run(
        scenario,
        policies=_policies(policies),
        replications=replications,
        workers=workers,
        quiet=quiet,
        cluster=cluster,
    )
    try:
        summary = write_simulation_report(scenario, results, out)
    except OSError as exc:
        raise _unwritable(out, exc) from None
    for policy, doc in summary["policies"].items():
        parts = [
            f"p{p}: late {s['fraction_late'] * 100:.1f} % mean {s['mean_response_s']:.0f} s"
            for p, s in doc["by_priority"].items()
        ]
        typer.echo(f"{policy}: " + "; ".join(parts))
    typer.echo(f"report: {out / 'report.md'}")


def compare_command(
    base_path: Path = typer.Argument(..., help="Base scenario YAML."),
    whatif_path: Path = typer.Argument(..., help="What-if scenario YAML."),
    policies: Policies = None,
    replications: Replications = None,
    out: Path = typer.Option(Path("compare-out"), "--out", "-o", help="Output directory."),
    hours: Hours = None,
    workers: Workers = 2,
    quiet: Quiet = False,
    cluster: Cluster = None,
) -> None:
    """Run a base scenario and a what-if on the same seeds; report the paired differences."""
    from planner.sim.report import write_comparison_report

    _check_writable(out)
    base = load_scenario(base_path)
    whatif = load_scenario(whatif_path)
    base, whatif = _with_hours(base, hours), _with_hours(whatif, hours)
    whatif = whatif.model_copy(update={"seed": base.seed})
    chosen = _policies(policies) or [p for p in base.policies if p in whatif.policies]
    runs = {
        name: _run(
            sc,
            policies=chosen,
            replications=replications,
            workers=workers,
            quiet=quiet,
            cluster=cluster,
        )
        for name, sc in (("base", base), ("whatif", whatif))
    }
    try:
        doc = write_comparison_report(base, whatif, runs["base"], runs["whatif"], out)
    except OSError as exc:
        raise _unwritable(out, exc) from None
    for policy, by_p in doc["difference"].items():
        for p, d in by_p.items():
            lo, hi = d["ci95_diff_fraction_late"]
            typer.echo(
                f"{policy} p{p}: late {d['fraction_late_base'] * 100:.1f} % -> "
                f"{d['fraction_late_alt'] * 100:.1f} % (diff {d['diff_fraction_late'] * 100:+.1f}"
                f" pp, 95 % CI [{_pp(lo)}, {_pp(hi)}]); mean response "
                f"{d['diff_mean_response_s']:+.0f} s"
            )
    typer.echo(f"report: {out / 'comparison.md'}")


def sweep_command(
    scenario_path: Path = typer.Argument(..., help="Scenario YAML (see scenarios/)."),
    vary: str = typer.Option(..., "--vary", help="What to vary: units=MIN..MAX (fleet size)."),
    policies: Policies = None,
    replications: Replications = None,
    out: Path = typer.Option(Path("sweep-out"), "--out", "-o", help="Output directory."),
    hours: Hours = None,
    workers: Workers = 2,
    cluster: Cluster = None,
) -> None:
    """P1 compliance against fleet size for each policy (sweep.md, sweep.png, sweep.json)."""
    from planner.sim.sweep import parse_vary, run_sweep, sweep_summary, write_sweep_report

    _check_writable(out)
    sizes = parse_vary(vary)
    scenario = _with_hours(load_scenario(scenario_path), hours)
    _check_counts(replications, workers)
    results = run_sweep(
        scenario,
        sizes,
        policies=_policies(policies) or scenario.policies,
        replications=replications or scenario.replications,
        workers=workers,
        cluster=cluster,
    )
    summary = sweep_summary(results)
    try:
        write_sweep_report(scenario, summary, out)
    except OSError as exc:
        raise _unwritable(out, exc) from None
    for row in summary["points"]:
        typer.echo(
            f"{row['units']} units {row['policy']}: P1 within target "
            f"{row['p1_within_target'] * 100:.1f} %"
        )
    typer.echo(f"report: {out / 'sweep.md'}")


def _with_hours(scenario: Scenario, hours: float | None) -> Scenario:
    """The scenario with the horizon ``--hours`` gives, if any."""
    if hours is None:
        return scenario
    if hours <= 0:
        raise InputError("must be positive", field="--hours")
    return scenario.model_copy(update={"duration_h": hours})


def _check_counts(replications: int | None, workers: int) -> None:
    if replications is not None and replications < 1:
        raise InputError("must be at least 1", field="--replications")
    if workers < 1:
        raise InputError(f"must be at least 1 (1: in-process), got {workers}", field="--workers")


def _check_writable(out: Path) -> None:
    """Refuse an output directory that cannot be created before spending minutes simulating."""
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise InputError(f"cannot write to {out}: {existing} is not a directory", field="-o")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"cannot write to {out}: {existing} is not writable", field="-o")


def _unwritable(out: Path, exc: OSError) -> InputError:
    return InputError(f"cannot write to {out}: {exc.strerror or exc}", field="-o")


def _pp(v: float | None) -> str:
    return "nan" if v is None else f"{v * 100:+.1f}"


def register(root: typer.Typer) -> None:
    """Attach ``simulate``, ``compare`` and ``sweep`` to the root app."""
    root.command("simulate")(_one_line_errors(simulate_command))
    root.command("compare")(_one_line_errors(compare_command))
    root.command("sweep")(_one_line_errors(sweep_command))

"""``make demo``: the product end to end on the bundled Harrisburg data.

1. Build (or load from cache) the Harrisburg road network.
2. Run the sample shift (``scenarios/sample-shift.jsonl``) through the live engine into a fresh
   SQLite incident log, printing each recommendation as a dispatcher would see it.
3. Verify the log's hash chain and write the supervisor's review of the shift.
4. Simulate the demo scenario and the "station 7 closed at night" what-if with every policy on
   common random numbers, and write the planner's reports.

Everything goes to ``out/demo/`` (override with ``PLANNER_DEMO_OUT``); the simulation horizon
can be shortened with ``PLANNER_DEMO_HOURS`` (default 24).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from rich.console import Console

from planner.centre.codes import CodeTable
from planner.centre.engine import Engine, Outcome
from planner.dispatch.domain import Plan
from planner.log.incident_log import IncidentLog
from planner.network.loader import load_region
from planner.review.performance import build_review, review_markdown
from planner.settings import PROJECT_ROOT, SCENARIOS_DIR
from planner.sim.report import write_comparison_report, write_simulation_report
from planner.sim.scenario import load_scenario
from planner.sim.simulator import simulate

console = Console(highlight=False, soft_wrap=True)


def _out_dir() -> Path:
    out = Path(os.environ.get("PLANNER_DEMO_OUT", PROJECT_ROOT / "out" / "demo"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _describe(outcome: Outcome) -> str:
    event = outcome.event
    subject = next(
        (
            str(getattr(event, name))
            for name in ("incident_id", "unit_id", "contact_id", "closure_id")
            if getattr(event, name, None)
        ),
        "",
    )
    return f"{event.at:%H:%M:%S} {event.type:<22} {subject}"


def _print_plan_changes(outcome: Outcome, plan: Plan | None) -> None:
    for a in outcome.changes.added:
        why = a.why
        alt = (
            f"; next best {why.next_best_unit} at {why.next_best_eta_s:.0f} s"
            if why.next_best_unit and why.next_best_eta_s is not None
            else ""
        )
        diverted = f" [diverted from {a.preempted_from}]" if a.preempted_from else ""
        console.print(
            f"    [green]recommend[/] {a.unit} → {a.incident} as {a.capability}, "
            f"ETA {a.eta_s:.0f} s (rank {why.rank}{alt}){diverted}"
        )
    if plan is not None and outcome.changes.added:
        for u in plan.unmet:
            console.print(f"    [red]unmet[/] {u.incident} {u.capability} ×{u.missing}: {u.reason}")


def run_shift(out: Path) -> str:
    """Apply the sample shift to a fresh log; returns the log's URL."""
    db = out / "shift.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    events = (SCENARIOS_DIR / "sample-shift.jsonl").read_text(encoding="utf-8").splitlines()
    with IncidentLog(url) as log:
        engine = Engine(codes=CodeTable.load(), log=log)
        for line in filter(str.strip, events):
            outcome = engine.submit(json.loads(line))
            if outcome.event.type in {"unit_registered", "recommendation_issued"}:
                continue
            console.print(_describe(outcome))
            _print_plan_changes(outcome, outcome.plan)
            for derived in outcome.derived:
                if derived.type == "incident_escalated":
                    console.print(
                        f"    [yellow]escalated[/] {derived.incident_id} (level "
                        f"{derived.from_level} → {derived.level}): {derived.cause} "
                        f"(inform {derived.command_level})"
                    )
        report = log.verify()
        console.print(
            f"\nlog: {report.checked} entries, hash chain "
            + ("[green]verified[/]" if report.ok else f"[red]BROKEN at {report.first_bad_seq}[/]")
        )
    return url


def run_review(url: str, out: Path) -> Path:
    path = out / "shift-review.md"
    path.write_text(review_markdown(build_review(url)))
    return path


def run_what_if(out: Path) -> Path:
    hours = float(os.environ.get("PLANNER_DEMO_HOURS", "24"))
    base = load_scenario(SCENARIOS_DIR / "harrisburg-demo.yaml")
    whatif = load_scenario(SCENARIOS_DIR / "harrisburg-close-station.yaml")
    base = base.model_copy(update={"duration_h": hours})
    whatif = whatif.model_copy(update={"duration_h": hours, "seed": base.seed})
    policies = [p for p in base.policies if p in whatif.policies]
    base_runs = simulate(base, policies=policies)
    whatif_runs = simulate(whatif, policies=policies)
    write_simulation_report(base, base_runs, out / "harrisburg-demo")
    write_comparison_report(base, whatif, base_runs, whatif_runs, out / "what-if")
    return out / "what-if" / "comparison.md"


def main() -> None:
    out = _out_dir()
    start = time.perf_counter()
    console.rule("1. Harrisburg road network")
    region = load_region("harrisburg")
    west, south, east, north = region.bbox
    console.print(
        f"{region.n_nodes:,} nodes, bbox {west:.3f},{south:.3f},{east:.3f},{north:.3f} "
        f"(ready after {time.perf_counter() - start:.1f} s)"
    )
    console.rule("2. A live shift: events in, recommendations out")
    url = run_shift(out)
    console.rule("3. Supervisor's review of the shift")
    review = run_review(url, out)
    console.print(f"review: {review}")
    console.rule("4. What-if for planners: station 7 closed at night")
    comparison = run_what_if(out)
    console.print(comparison.read_text())
    console.print(
        f"reports: {out / 'harrisburg-demo' / 'report.md'}, {comparison}, {review}\n"
        f"done in {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()

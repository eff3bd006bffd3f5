"""Fleet-size sweeps: the question planners ask most, "how many units do we need?".

``units=10..16`` makes one scenario per fleet size from the base scenario by a ``changes``
entry (so every point keeps the base's seed and calls: common random numbers across sizes):
fewer units than the base removes the last ones in deployment order; more adds copies of the
base units in turn (same station, capabilities and shifts, ids ``<id>-<k>``). Every policy runs
on every point for the given replications, in processes or on a Dask cluster.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from planner.errors import InputError
from planner.sim.deployment import apply_changes
from planner.sim.metrics import ReplicationResult, summarise
from planner.sim.scenario import Scenario

VARY = re.compile(r"^units=(\d+)\.\.(\d+)$")


def parse_vary(text: str) -> list[int]:
    """``units=10..16`` → ``[10, 11, …, 16]``."""
    match = VARY.match(text.strip())
    if match is None:
        raise InputError(f"expected units=MIN..MAX, got {text!r}", field="--vary")
    low, high = int(match.group(1)), int(match.group(2))
    if not 1 <= low <= high:
        raise InputError(f"need 1 <= MIN <= MAX, got {low}..{high}", field="--vary")
    return list(range(low, high + 1))


def with_fleet_size(scenario: Scenario, size: int) -> Scenario:
    """The scenario with exactly ``size`` units (see the module docstring)."""
    units = apply_changes(scenario).units
    change: dict[str, Any]
    if size < len(units):
        change = {"remove_units": [u.id for u in units[size:]]}
    elif size > len(units):
        extra = [
            units[k % len(units)].model_copy(
                update={"id": f"{units[k % len(units)].id}-{k // len(units) + 1}"}
            )
            for k in range(size - len(units))
        ]
        change = {"add_units": [u.model_dump() for u in extra]}
    else:
        return scenario.model_copy(update={"name": f"{scenario.name}@{size}"})
    doc = scenario.model_dump()
    doc["changes"] = [*doc["changes"], change]
    doc["name"] = f"{scenario.name}@{size}"
    return Scenario.model_validate(doc)


def run_sweep(
    scenario: Scenario,
    sizes: Sequence[int],
    *,
    policies: Sequence[str],
    replications: int,
    workers: int = 2,
    cluster: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[int, list[ReplicationResult]]:
    """Results per fleet size (each: replications × policies, ordered as ``simulate``)."""
    from planner.sim.simulator import run_task, simulate, tasks

    points = {size: with_fleet_size(scenario, size) for size in sizes}
    if cluster is not None:
        from planner.sim.cluster import run_on_cluster

        todo = [(points[s], p, r) for s in sizes for p, r in tasks(policies, replications)]
        flat = run_on_cluster(
            todo, run=run_task, address=cluster, workers=workers, progress=progress
        )
        per = len(policies) * replications
        return {s: flat[k * per : (k + 1) * per] for k, s in enumerate(sizes)}
    out = {}
    for k, size in enumerate(sizes):
        out[size] = simulate(
            points[size], policies=policies, replications=replications, workers=workers
        )
        if progress:
            progress(k + 1, len(sizes))
    return out


def sweep_summary(results: dict[int, list[ReplicationResult]]) -> dict[str, Any]:
    """Per fleet size and policy: P1 share within target (with CI), late share, utilisation."""
    rows = []
    for size, runs in results.items():
        doc = summarise(runs, baseline=None)
        for policy, pol in doc["policies"].items():
            p1 = pol["by_priority"].get("1", {})
            late = p1.get("fraction_late", math.nan)
            lo, hi = p1.get("ci95_fraction_late", [math.nan, math.nan])
            rows.append(
                {
                    "units": size,
                    "policy": policy,
                    "p1_calls": p1.get("n", 0),
                    "p1_within_target": 1.0 - late,
                    "ci95_p1_within_target": [1.0 - hi, 1.0 - lo],
                    "p1_mean_response_s": p1.get("mean_response_s", math.nan),
                    "utilisation": pol["utilisation"],
                    "replications": pol["replications"],
                }
            )
    return {"points": rows}


def write_sweep_report(scenario: Scenario, summary: dict[str, Any], out: Path) -> None:
    """``sweep.json``, ``sweep.md`` and ``sweep.png`` (P1 within target against fleet size)."""
    from planner.sim.report import _clean

    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(_clean(summary), indent=2) + "\n")
    rows = summary["points"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for policy in dict.fromkeys(r["policy"] for r in rows):
        mine = [r for r in rows if r["policy"] == policy]
        x = [r["units"] for r in mine]
        y = [r["p1_within_target"] * 100 for r in mine]
        lo = [
            (r["p1_within_target"] - _or(r["ci95_p1_within_target"][0], r["p1_within_target"]))
            * 100
            for r in mine
        ]
        hi = [
            (_or(r["ci95_p1_within_target"][1], r["p1_within_target"]) - r["p1_within_target"])
            * 100
            for r in mine
        ]
        ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3, label=policy)
    ax.set_xlabel("units in the fleet")
    ax.set_ylabel("priority-1 calls within target (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{scenario.name}: P1 compliance against fleet size (95 % CI)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "sweep.png", dpi=110)
    plt.close(fig)
    lines = [
        f"# Fleet-size sweep: {scenario.name}",
        "",
        "Each point is the base scenario with that many units (common random numbers: the same "
        "calls at every size); P1 within target = share of priority-1 calls reached within "
        "their code's target_s, 95 % CI over replications.",
        "",
        "| units | policy | P1 calls | P1 within target [95 % CI] | P1 mean s | utilisation |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["ci95_p1_within_target"]
        ci = f"[{lo * 100:.1f}, {hi * 100:.1f}]" if _finite(lo) and _finite(hi) else "–"
        lines.append(
            f"| {r['units']} | {r['policy']} | {r['p1_calls']} | "
            f"{r['p1_within_target'] * 100:.1f} % {ci} | {r['p1_mean_response_s']:.0f} | "
            f"{r['utilisation'] * 100:.1f} % |"
        )
    lines += ["", "![sweep](sweep.png)"]
    (out / "sweep.md").write_text("\n".join(lines) + "\n")


def _finite(v: Any) -> bool:
    return isinstance(v, float | int) and math.isfinite(v)


def _or(v: Any, fallback: float) -> float:
    return float(v) if _finite(v) else fallback

"""Simulation reports: ``summary.json``, per-incident CSV, PNG plots and a Markdown report.

The Markdown report puts the policies side by side per priority (with 95 % confidence
intervals) and, against the closest-idle baseline, the paired differences that answer "does
optimised dispatch beat closest-idle here, and at what cost?".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from planner.sim.metrics import (
    ReplicationResult,
    incidents_frame,
    paired_difference,
    summarise,
    units_frame,
)
from planner.sim.scenario import Scenario


def write_simulation_report(
    scenario: Scenario, results: Sequence[ReplicationResult], out: Path
) -> dict[str, Any]:
    """Write everything for one scenario run into ``out``; returns the summary document."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(results)
    summary["scenario"] = {
        "name": scenario.name,
        "source": scenario.source,
        "region": scenario.region,
        "duration_h": scenario.duration_h,
        "replications": len({r.replication for r in results}),
        "seed": scenario.seed,
    }
    incidents = incidents_frame(results)
    units = units_frame(results)
    (out / "summary.json").write_text(json.dumps(_clean(summary), indent=2) + "\n")
    incidents.to_csv(out / "incidents.csv", index=False)
    units.to_csv(out / "units.csv", index=False)
    plots = _plots(incidents, units, out)
    (out / "report.md").write_text(_markdown(scenario, summary, plots))
    return summary


def write_comparison_report(
    base: Scenario,
    whatif: Scenario,
    base_results: Sequence[ReplicationResult],
    whatif_results: Sequence[ReplicationResult],
    out: Path,
) -> dict[str, Any]:
    """What-if minus base, per policy and priority, paired by replication (same seeds)."""
    out.mkdir(parents=True, exist_ok=True)
    b = incidents_frame(base_results)
    w = incidents_frame(whatif_results)
    diff: dict[str, Any] = {}
    for policy in dict.fromkeys(r.policy for r in base_results):
        if policy not in set(w["policy"]):
            continue
        diff[policy] = paired_difference(
            b[b["policy"] == policy],
            baseline=policy,
            other=policy,
            other_frame=w[w["policy"] == policy],
        )
    doc = {
        "base": {"name": base.name, "source": base.source, **summarise(base_results)},
        "whatif": {"name": whatif.name, "source": whatif.source, **summarise(whatif_results)},
        "difference": diff,
    }
    (out / "comparison.json").write_text(json.dumps(_clean(doc), indent=2) + "\n")
    lines = [
        f"# What-if: {whatif.name} against {base.name}",
        "",
        "Differences are what-if minus base, paired by replication (same seeds, so the same "
        "calls); 95 % t-intervals.",
        "",
        *_difference_table(diff),
    ]
    (out / "comparison.md").write_text("\n".join(lines) + "\n")
    return doc


def _clean(value: Any) -> Any:
    """JSON without NaN: missing figures become ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _fmt_ci(ci: Sequence[float | None], *, scale: float = 1.0, digits: int = 1) -> str:
    lo, hi = ci
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "–"
    return f"[{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"


def _difference_table(diff: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = [
        "| policy | priority | late (base → alt) | Δ late (pp) | 95 % CI | relative | "
        "mean response s (base → alt) | Δ s | 95 % CI |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for policy, by_p in diff.items():
        for p, d in by_p.items():
            rel = d["relative_change_late"]
            rel_s = f"{rel * 100:+.1f} %" if rel is not None and math.isfinite(rel) else "–"
            lines.append(
                f"| {policy} | {p} | {d['fraction_late_base'] * 100:.1f} % → "
                f"{d['fraction_late_alt'] * 100:.1f} % | {d['diff_fraction_late'] * 100:+.1f} | "
                f"{_fmt_ci(d['ci95_diff_fraction_late'], scale=100)} | {rel_s} | "
                f"{d['mean_response_s_base']:.0f} → {d['mean_response_s_alt']:.0f} | "
                f"{d['diff_mean_response_s']:+.1f} | {_fmt_ci(d['ci95_diff_mean_response_s'])} |"
            )
    return lines


def _markdown(scenario: Scenario, summary: Mapping[str, Any], plots: list[str]) -> str:
    meta = summary["scenario"]
    lines = [
        f"# Simulation: {scenario.name}",
        "",
        scenario.description,
        "",
        f"Region `{scenario.region}`, {meta['duration_h']:g} h per replication, "
        f"{meta['replications']} replications (seed {meta['seed']}), common random numbers "
        "across policies. Response time = call to first unit on scene (dispatcher delay "
        "included); calls never reached count as late. 95 % CIs are t-intervals over "
        "replications.",
        "",
        "## By policy and priority",
        "",
        "| policy | priority | calls | mean response s | 95 % CI | p90 s | late | 95 % CI | "
        "unmet | mean queued s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for policy, doc in summary["policies"].items():
        for p, s in doc["by_priority"].items():
            lines.append(
                f"| {policy} | {p} | {s['n']} | {s['mean_response_s']:.0f} | "
                f"{_fmt_ci(s['ci95_mean_response_s'], digits=0)} | {s['p90_response_s']:.0f} | "
                f"{s['fraction_late'] * 100:.1f} % | {_fmt_ci(s['ci95_fraction_late'], scale=100)}"
                f" | {s['unmet']} | {s['mean_queued_s']:.0f} |"
            )
    lines += [
        "",
        "| policy | utilisation | 95 % CI | pre-emptions | engine events / replication | "
        "median solve ms | wall s / replication |",
        "|---|---|---|---|---|---|---|",
    ]
    for policy, doc in summary["policies"].items():
        pre = sum(s["preemptions"] for s in doc["by_priority"].values())
        lines.append(
            f"| {policy} | {doc['utilisation'] * 100:.1f} % | "
            f"{_fmt_ci(doc['ci95_utilisation'], scale=100)} | {pre} | "
            f"{doc['engine_events_per_replication']:.0f} | {doc['median_solve_ms']:.2f} | "
            f"{doc['wall_s_per_replication']:.2f} |"
        )
    if "vs_closest_idle" in summary:
        lines += [
            "",
            "## Against closest-idle (paired by replication)",
            "",
            "Averages of the per-replication values (so they can differ slightly from the "
            "pooled figures above); differences are alternative minus closest-idle.",
            "",
            *_difference_table(summary["vs_closest_idle"]),
        ]
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def _plots(incidents: pd.DataFrame, units: pd.DataFrame, out: Path) -> list[str]:
    names = []
    policies = list(dict.fromkeys(incidents["policy"]))
    priorities = sorted(incidents["priority"].unique())
    fig, axes = plt.subplots(1, max(len(priorities), 1), figsize=(5 * max(len(priorities), 1), 3.6))
    for ax, p in zip(np.atleast_1d(axes), priorities, strict=False):
        sub = incidents[incidents["priority"] == p]
        for policy in policies:
            r = np.sort(sub.loc[(sub["policy"] == policy) & ~sub["unmet"], "response_s"] / 60.0)
            if r.size:
                ax.step(
                    r, np.arange(1, r.size + 1) / len(sub[sub["policy"] == policy]), label=policy
                )
        target = float(sub["target_s"].iloc[0]) / 60.0 if len(sub) else math.nan
        ax.axvline(target, color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"priority {p}: response time (target {target:.1f} min)")
        ax.set_xlabel("minutes from call to first arrival")
        ax.set_ylabel("fraction of calls reached")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "response_times.png", dpi=110)
    plt.close(fig)
    names.append("response_times.png")

    fig, ax = plt.subplots(figsize=(8, 3.6))
    for policy in policies:
        late = incidents[incidents["policy"] == policy].groupby("hour")["late"].mean()
        ax.plot(late.index, late.to_numpy() * 100, marker="o", label=policy)
    ax.set_xlabel("hour of day of the call")
    ax.set_ylabel("late (%)")
    ax.set_title("Late fraction by hour")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "late_by_hour.png", dpi=110)
    plt.close(fig)
    names.append("late_by_hour.png")

    fig, ax = plt.subplots(figsize=(max(6, 0.5 * units["unit"].nunique() + 2), 3.6))
    table = units.groupby(["unit", "policy"])["utilisation"].mean().unstack("policy")
    table = table[[p for p in policies if p in table.columns]]
    (table * 100).plot.bar(ax=ax)
    ax.set_ylabel("utilisation (%)")
    ax.set_title("Unit utilisation (busy / on duty)")
    fig.tight_layout()
    fig.savefig(out / "utilisation.png", dpi=110)
    plt.close(fig)
    names.append("utilisation.png")
    return names

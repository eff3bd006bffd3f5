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
    compliance_by_code,
    coverage_frame,
    hospitals_frame,
    incidents_frame,
    natural_key,
    paired_difference,
    summarise,
    units_frame,
)
from planner.sim.scenario import Scenario, code_table


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
    codes = code_table(scenario)
    summary["compliance"] = {
        policy: compliance_by_code(incidents[incidents["policy"] == policy], codes)
        for policy in summary["policies"]
    }
    summary["assumptions"] = assumptions(scenario)
    (out / "summary.json").write_text(json.dumps(_clean(summary), indent=2) + "\n")
    incidents.to_csv(out / "incidents.csv", index=False)
    units.to_csv(out / "units.csv", index=False)
    visits = hospitals_frame(results)
    visits.to_csv(out / "hospitals.csv", index=False)
    coverage_frame(results).to_csv(out / "coverage.csv", index=False)
    plots = _plots(incidents, units, out)
    plots += _day_plots(summary, visits, results, out)
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
    doc: dict[str, Any] = {
        "base": {"name": base.name, "source": base.source, **summarise(base_results)},
        "whatif": {"name": whatif.name, "source": whatif.source, **summarise(whatif_results)},
        "difference": diff,
        "changes": scenario_changes(base, whatif),
        "reach": change_reach(whatif, base_incidents=b),
    }
    (out / "comparison.json").write_text(json.dumps(_clean(doc), indent=2) + "\n")
    lines = [
        f"# What-if: {whatif.name} against {base.name}",
        "",
        "## Changes",
        "",
        *[f"- {c}" for c in doc["changes"] or ["(none: the same scenario)"]],
        *[f"- *reach:* {r}" for r in doc["reach"]],
        "",
        "## Calls",
        "",
        "| policy | priority | base calls | what-if calls | replications |",
        "|---|---|---|---|---|",
        *_count_rows(b, w),
        "",
        "## Differences",
        "",
        "Differences are what-if minus base, paired by replication (common random numbers: "
        "the base calls are a subset of the what-if calls even under a surge); 95 % "
        "t-intervals, the relative change's by the delta method.",
        "",
        *_difference_table(diff),
        *[f"\n> warning: {w_}" for w_ in doc["whatif"]["warnings"]],
    ]
    _difference_plot(diff, out / "differences.png", title=f"{whatif.name} − {base.name}")
    lines += ["", "![differences](differences.png)"]
    (out / "comparison.md").write_text("\n".join(lines) + "\n")
    return doc


def assumptions(scenario: Scenario) -> list[str]:
    """The modelling assumptions behind the figures, in words a planner can check."""
    sc = scenario
    svc = sc.service
    demand = sc.demand
    items = [
        f"Region `{sc.region}`; travel times from its road network or matrix"
        + (f", road-class speeds {dict(sc.speeds.kph)}" if sc.speeds.kph else "")
        + (
            f", speed × {dict(sc.speeds.priority_factor)} by priority"
            if sc.speeds.priority_factor
            else ""
        )
        + (", speed factors by hour" if sc.speeds.hour_factor else "")
        + ".",
        (
            f"Calls replayed from `{demand.replay.file}` from {demand.replay.start}"
            if demand.replay
            else f"Poisson calls at {demand.rate_per_h:g}/h, profile `{demand.profile}`"
        )
        + f"; places: {demand.spatial.kind}"
        + (" inside the service area" if sc.service_area else " over the whole region")
        + ".",
        f"Dispatcher delay {_dist(svc.dispatch_delay_s)}; turnout "
        + (", ".join(f"{k} {v:g} s" for k, v in svc.turnout_s.items()) or "0 s")
        + f"; on scene {_dist(svc.on_scene_s)}; {svc.transport_probability:.0%} transported to "
        f"the nearest hospital; hand-over {_dist(svc.handover_s)}; return: {svc.return_to}.",
        _hospital_assumption(sc),
        f"{sc.duration_h:g} h horizon"
        + (f" (first {sc.warmup_h:g} h warm-up, not counted)" if sc.warmup_h else "")
        + f", {sc.drain_h:g} h drain; calls never reached count as late and unmet.",
        "Late = one call's response (call to first unit on scene) above its code's target_s; "
        "compliance follows each code's standard (mean + 90th centile, or a fraction within).",
    ]
    return items


def _hospital_assumption(sc: Scenario) -> str:
    bays = {h.id: h.bays for h in sc.hospitals if h.bays is not None}
    bays |= {
        f"imported ({spec.format})": spec.hospital_bays
        for spec in sc.imports
        if spec.hospital_bays is not None
    }
    text = (
        "Hand-over bays: " + ", ".join(f"{k} {v}" for k, v in bays.items()) + " (others "
        "unlimited); crews beyond them queue first come, first served"
        if bays
        else "Hospitals hand over every crew at once (no bay limits, no queues)"
    )
    if sc.service.divert_at_queue is not None:
        text += (
            f"; a patient is diverted to the next nearest hospital when "
            f"{sc.service.divert_at_queue} or more crews queue at the nearest"
        )
    return text + "."


def _dist(d: Any) -> str:
    if d.dist == "constant":
        return f"{d.mean:g} s"
    extra = f", sd {d.sd:g} s" if d.sd is not None else ""
    return f"{d.dist} mean {d.mean:g} s{extra}"


def scenario_changes(base: Scenario, whatif: Scenario) -> list[str]:
    """What the what-if changes: its extra ``changes`` and any other differing setting."""
    out = [
        json.dumps(c.model_dump(exclude_none=True), default=str)
        for c in whatif.changes[len(base.changes) :]
    ]
    skip = {"name", "description", "source", "changes"}
    a, b = base.model_dump(), whatif.model_dump()
    out += [
        f"{key}: {json.dumps(a.get(key), default=str)} → {json.dumps(b.get(key), default=str)}"
        for key in sorted(set(a) | set(b))
        if key not in skip and a.get(key) != b.get(key)
    ]
    return out


def change_reach(whatif: Scenario, *, base_incidents: pd.DataFrame | None = None) -> list[str]:
    """For each closed station: its units, their capabilities, the simulated codes (and
    priorities) that ask for those capabilities and, from the base run, how many calls of each
    priority those units served during the closed hours — so a what-if without effect on a
    priority says why it could not have one."""
    from planner.sim.deployment import apply_changes

    deployment = apply_changes(whatif)
    codes = code_table(whatif)
    mix = {m.code: m.priority or codes[m.code].default_priority for m in whatif.demand.mix}
    out = []
    for closure in deployment.station_closures:
        units = [u for u in deployment.units if u.station == closure.station]
        caps = sorted({c for u in units for c in u.capabilities})
        served = sorted(
            (p, code)
            for code, p in mix.items()
            if any(c in codes[code].requirements(1) for c in caps)
        )
        hours = (
            f"{closure.from_h:g}:00–{closure.to_h:g}:00"
            if closure.from_h is not None
            else "all day"
        )
        who = ", ".join(f"{u.id} ({'/'.join(u.capabilities)})" for u in units) or "no units"
        if base_incidents is not None and units:
            who += "; " + _served_when_closed(base_incidents, closure, {u.id or "" for u in units})
        if served:
            what = ", ".join(f"{code} (P{p})" for p, code in served)
            priorities = sorted({p for p, _ in served})
            out.append(
                f"station {closure.station} closed {hours}: {who}; the simulated codes that "
                f"ask for {'/'.join(caps)} are {what} — priorities "
                f"{', '.join(map(str, priorities))} can be affected directly, others only "
                "through knock-on effects on other units"
            )
        else:
            out.append(
                f"station {closure.station} closed {hours}: {who}; no simulated code asks for "
                f"{'/'.join(caps) or 'their capabilities'}, so the closure cannot change any "
                "response"
            )
    return out


def _served_when_closed(incidents: pd.DataFrame, closure: Any, ids: set[str]) -> str:
    """Base-run calls per priority (all replications and policies) that the closed station's
    units were sent to while it would be closed."""
    from planner.sim.deployment import in_window

    mask = incidents["sent"].fillna("").map(lambda text: bool(ids & set(str(text).split(";"))))
    if closure.from_h is not None:
        mask &= incidents["hour"].map(lambda h: in_window(float(h), closure.from_h, closure.to_h))
    served = incidents[mask].groupby("priority").size()
    if served.empty:
        return "in the base run they served no call during those hours"
    counts = ", ".join(f"P{p}: {n}" for p, n in served.items())
    return f"in the base run they served {counts} calls during those hours (all runs)"


def _count_rows(b: pd.DataFrame, w: pd.DataFrame) -> list[str]:
    rows = []
    for (policy, priority), g in b.groupby(["policy", "priority"], sort=True):
        other = w[(w["policy"] == policy) & (w["priority"] == priority)]
        rows.append(
            f"| {policy} | {priority} | {len(g)} | {len(other)} | {g['replication'].nunique()} |"
        )
    return rows


def _difference_plot(diff: Mapping[str, Mapping[str, Any]], path: Path, *, title: str) -> None:
    """Paired differences in late percentage points with their 95 % CIs, per policy and
    priority: the view that overlapping response-time curves hide."""
    labels, values, lows, highs = [], [], [], []
    for policy, by_p in diff.items():
        for p, d in by_p.items():
            ci = d["ci95_diff_fraction_late"]
            labels.append(f"{policy} P{p}")
            values.append(d["diff_fraction_late"] * 100)
            lows.append(
                (d["diff_fraction_late"] - (ci[0] if _finite(ci[0]) else d["diff_fraction_late"]))
                * 100
            )
            highs.append(
                ((ci[1] if _finite(ci[1]) else d["diff_fraction_late"]) - d["diff_fraction_late"])
                * 100
            )
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(labels), 2) + 1.2))
    y = np.arange(len(labels))
    ax.errorbar(values, y, xerr=[lows, highs], fmt="o", capsize=3)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(y, labels)
    ax.set_xlabel("Δ late (percentage points), 95 % CI")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _finite(v: Any) -> bool:
    return isinstance(v, float | int) and math.isfinite(v)


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
        "| policy | priority | late (base → alt) | Δ late (pp) | 95 % CI | relative [95 % CI] | "
        "mean response s (base → alt) | Δ s | 95 % CI |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for policy, by_p in diff.items():
        for p, d in by_p.items():
            rel = d["relative_change_late"]
            rel_s = f"{rel * 100:+.1f} %" if rel is not None and math.isfinite(rel) else "–"
            rel_ci = d.get("ci95_relative_change_late")
            if rel_ci is not None and _finite(rel_ci[0]):
                rel_s += f" {_fmt_ci(rel_ci, scale=100)}"
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
        *[f"> warning: {w}\n" for w in summary.get("warnings", [])],
        "## Assumptions",
        "",
        *[f"- {a}" for a in summary.get("assumptions", [])],
        "",
        "## By policy and priority",
        "",
        "*late*: the share of calls whose own response exceeded the code's `target_s` (a "
        "per-call measure, not the standard; see *Compliance by code*).",
        "",
        "| policy | priority | calls | mean response s | 95 % CI | p90 s | late (per call) | "
        "95 % CI | unmet | mean queued s |",
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
    if summary.get("compliance"):
        lines += ["", "## Compliance by code (as the code table defines each standard)", ""]
        lines += _compliance_table(summary["compliance"])
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
    lines += _utilisation_by_hour_table(summary["policies"])
    lines += _turnaround_table(summary["policies"])
    lines += _coverage_table(summary["policies"])
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def _utilisation_by_hour_table(policies: Mapping[str, Any]) -> list[str]:
    """Hours down, one column per policy and unit type: busy / on duty in that clock hour."""
    cols = [(p, kind) for p, doc in policies.items() for kind in doc["utilisation_by_hour"]]
    if not cols:
        return []
    lines = [
        "",
        "## Utilisation by hour of day",
        "",
        "Busy / on-duty time of each unit type in each clock hour, pooled over its units and "
        "all replications (busy: from dispatch until back in service).",
        "",
        "| hour | " + " | ".join(f"{p} {kind}" for p, kind in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for h in range(24):
        cells = [policies[p]["utilisation_by_hour"][kind].get(str(h)) for p, kind in cols]
        if all(c is None for c in cells):
            continue
        lines.append(
            f"| {h} | "
            + " | ".join("–" if c is None else f"{c['utilisation'] * 100:.1f} %" for c in cells)
            + " |"
        )
    return lines


def _turnaround_table(policies: Mapping[str, Any]) -> list[str]:
    rows = [(p, h, t) for p, doc in policies.items() for h, t in doc["hospital_turnaround"].items()]
    if not rows:
        return []
    lines = [
        "",
        "## Hospital turnaround",
        "",
        "Time at hospital from arrival to leaving: waiting for a hand-over bay (hospitals with "
        "`bays`) plus the hand-over itself.",
        "",
        "| policy | hospital | visits | mean s [95 % CI] | median s | p90 s | mean wait s | "
        "waited | diverted here |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for policy, hospital, t in rows:
        lines.append(
            f"| {policy} | {hospital} | {t['visits']} | {t['mean_turnaround_s']:.0f} "
            f"{_fmt_ci(t['ci95_mean_turnaround_s'], digits=0)} | {t['p50_turnaround_s']:.0f} | "
            f"{t['p90_turnaround_s']:.0f} | {t['mean_wait_s']:.0f} | "
            f"{t['fraction_waited'] * 100:.1f} % | {t['diverted_here']} |"
        )
    return lines


def _coverage_table(policies: Mapping[str, Any]) -> list[str]:
    names = [p for p, doc in policies.items() if doc["coverage_by_hour"]]
    if not names:
        return []
    hours = sorted({int(h) for p in names for h in policies[p]["coverage_by_hour"]})
    lines = [
        "",
        "## Coverage through the day",
        "",
        "Share of the most urgent priority's demand that a free unit (available or returning, "
        "where it is at that moment) reaches within the cover time (that priority's target "
        "less dispatcher delay and turnout, at the hour's speed factor), sampled every clock "
        "hour; mean over days and replications, with the mean number of free units.",
        "",
        "| hour | " + " | ".join(f"{p} covered | {p} free units" for p in names) + " |",
        "|---|" + "---|---|" * len(names),
    ]
    for h in hours:
        cells = []
        for p in names:
            c = policies[p]["coverage_by_hour"].get(str(h))
            cells += (
                ["–", "–"]
                if c is None
                else [
                    f"{c['fraction_covered'] * 100:.1f} % "
                    f"{_fmt_ci(c['ci95_fraction_covered'], scale=100)}",
                    f"{c['free_units']:.1f}",
                ]
            )
        lines.append(f"| {h} | " + " | ".join(cells) + " |")
    return lines


def _day_plots(
    summary: Mapping[str, Any],
    visits: pd.DataFrame,
    results: Sequence[ReplicationResult],
    out: Path,
) -> list[str]:
    """Utilisation by hour, hospital turnaround and coverage through the day (those with
    data)."""
    names = []
    policies = summary["policies"]
    if any(doc["utilisation_by_hour"] for doc in policies.values()):
        _utilisation_by_hour_plot(policies, out / "utilisation_by_hour.png")
        names.append("utilisation_by_hour.png")
    if len(visits):
        _turnaround_plot(visits, out / "hospital_turnaround.png")
        names.append("hospital_turnaround.png")
    if any(doc["coverage_by_hour"] for doc in policies.values()):
        _coverage_plot(policies, out / "coverage_by_hour.png")
        _coverage_map(results, out / "coverage_map.png")
        names += ["coverage_by_hour.png", "coverage_map.png"]
    return names


def _utilisation_by_hour_plot(policies: Mapping[str, Any], path: Path) -> None:
    kinds = sorted(
        {k for doc in policies.values() for k in doc["utilisation_by_hour"]}, key=natural_key
    )
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 3.6), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        for policy, doc in policies.items():
            by_h = doc["utilisation_by_hour"].get(kind, {})
            hours = sorted(int(h) for h in by_h)
            mean = np.array([by_h[str(h)]["utilisation"] for h in hours]) * 100
            yerr = _bars(mean, [by_h[str(h)]["ci95"] for h in hours])
            ax.errorbar(hours, mean, yerr=yerr, marker="o", capsize=2, label=policy)
        ax.set_xlim(-0.5, 23.5)
        ax.set_ylim(0, 100)
        ax.set_title(f"{kind}: utilisation by hour (±95 % CI)")
        ax.set_xlabel("hour of day")
        ax.set_ylabel("busy / on duty (%)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(mean: Any, ci: Sequence[Sequence[Any]]) -> list[Any]:
    """Error-bar lengths below and above ``mean`` (percent) from fraction CIs (none: 0)."""
    lo = [m - (c[0] * 100 if _finite(c[0]) else m) for m, c in zip(mean, ci, strict=True)]
    hi = [(c[1] * 100 if _finite(c[1]) else m) - m for m, c in zip(mean, ci, strict=True)]
    return [np.array(lo), np.array(hi)]


def _turnaround_plot(visits: pd.DataFrame, path: Path) -> None:
    """Per policy, the distribution of time at each hospital (box: quartiles, whiskers: 5th
    and 95th centiles), labelled with the number of visits."""
    policies = list(dict.fromkeys(visits["policy"]))
    hospitals = sorted(set(visits["hospital"]), key=lambda h: natural_key(str(h)))
    fig, axes = plt.subplots(
        1, len(policies), figsize=(4.5 * len(policies), 0.4 * len(hospitals) + 1.6), squeeze=False
    )
    for ax, policy in zip(axes[0], policies, strict=True):
        mine = visits[visits["policy"] == policy]
        data = [
            mine.loc[mine["hospital"] == h, "turnaround_s"].to_numpy() / 60.0 for h in hospitals
        ]
        ax.boxplot(
            [d if len(d) else np.array([np.nan]) for d in data],
            orientation="horizontal",
            whis=(5, 95),
            showfliers=False,
        )
        ax.set_yticks(
            np.arange(1, len(hospitals) + 1),
            [f"{h} (n={len(d)})" for h, d in zip(hospitals, data, strict=True)],
        )
        ax.set_xlabel("minutes at hospital (queue + hand-over)")
        ax.set_title(f"{policy}: hospital turnaround", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _coverage_plot(policies: Mapping[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for policy, doc in policies.items():
        by_h = doc["coverage_by_hour"]
        hours = sorted(int(h) for h in by_h)
        mean = np.array([by_h[str(h)]["fraction_covered"] for h in hours]) * 100
        yerr = _bars(mean, [by_h[str(h)]["ci95_fraction_covered"] for h in hours])
        ax.errorbar(hours, mean, yerr=yerr, marker="o", capsize=2, label=policy)
    ax.set_xlim(-0.5, 23.5)
    ax.set_ylim(0, 100)
    ax.set_xlabel("hour of day")
    ax.set_ylabel("demand covered (%)")
    ax.set_title("Top-priority demand reachable within the cover time (±95 % CI)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


MAP_HOURS = (0, 6, 12, 18)
"""Hours of day shown as small multiples on the coverage map (those sampled)."""


def _coverage_map(results: Sequence[ReplicationResult], path: Path) -> None:
    """Small multiples: rows are policies, columns hours of day; each cell of the grid is
    coloured by the share of its demand covered (mean over days and replications)."""
    runs = [r for r in results if r.coverage and r.zone_edges[0]]
    if not runs:
        return
    lon, lat = (np.asarray(e) for e in runs[0].zone_edges)
    sampled = sorted({c.hour for r in runs for c in r.coverage})
    hours = [h for h in MAP_HOURS if h in sampled] or sampled[:: max(1, len(sampled) // 4)][:4]
    policies = list(dict.fromkeys(r.policy for r in runs))
    n = len(lon) - 1
    fig, axes = plt.subplots(
        len(policies),
        len(hours),
        figsize=(3.0 * len(hours) + 1.2, 3.0 * len(policies) + 0.4),
        squeeze=False,
    )
    image = None
    aspect = 1 / max(np.cos(np.radians(float(lat.mean()))), 0.1)
    for i, policy in enumerate(policies):
        for j, hour in enumerate(hours):
            grids = [
                np.asarray(c.zones, dtype=np.float64)
                for r in runs
                if r.policy == policy
                for c in r.coverage
                if c.hour == hour
            ]
            ax = axes[i][j]
            if grids:
                stack = np.vstack(grids)
                seen = np.isfinite(stack).sum(axis=0)
                total = np.nansum(stack, axis=0)
                share = np.where(seen > 0, total / np.maximum(seen, 1), np.nan)
                share = share.reshape(n, n) * 100
                image = ax.pcolormesh(lon, lat, share, vmin=0, vmax=100, cmap="RdYlGn")
            ax.set_title(f"{policy}, {hour:02d}:00", fontsize=8)
            ax.set_aspect(aspect)
            ax.tick_params(labelsize=5)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label="% of zone demand covered")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _compliance_table(compliance: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = [
        "| policy | code | calls | standard | mean s | p90 s | within target [95 % CI] | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for policy, by_code in compliance.items():
        for code, c in by_code.items():
            if c["standard"] == "mean_and_p90":
                standard = f"mean ≤ {c['target_s']:g} s, p90 ≤ {c['target_p90_s']:g} s"
            elif c["standard"] == "fraction_within":
                standard = f"{c['target_fraction']:.0%} within {c['target_s']:g} s"
            else:
                standard = f"each call within {c['target_s']:g} s"
            met = {True: "yes", False: "**no**", None: "–"}[c["met"]]
            lines.append(
                f"| {policy} | {code} | {c['n']} | {standard} | {_num(c['mean_response_s'])} | "
                f"{_num(c['p90_response_s'])} | {c['fraction_within_target'] * 100:.1f} % "
                f"{_fmt_ci(c['ci95_fraction_within_target'], scale=100)} | {met} |"
            )
    return lines


def _num(v: Any) -> str:
    return f"{v:.0f}" if _finite(v) else "–"


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

    fig, axes = plt.subplots(
        2, max(len(priorities), 1), figsize=(5.5 * max(len(priorities), 1), 6), squeeze=False
    )
    for k, p in enumerate(priorities):
        sub = incidents[incidents["priority"] == p]
        ax, ax_n = axes[0][k], axes[1][k]
        for policy in policies:
            mine = sub[sub["policy"] == policy]
            per = mine.groupby(["hour", "replication"])["late"].mean().unstack("replication")
            mean = per.mean(axis=1) * 100
            half = (
                per.std(axis=1, ddof=1) / np.sqrt(per.count(axis=1)) * 1.96 * 100
                if per.shape[1] > 1
                else mean * 0
            )
            ax.errorbar(
                mean.index,
                mean.to_numpy(),
                yerr=half.fillna(0).to_numpy(),
                marker="o",
                capsize=2,
                label=policy,
            )
        counts = sub[sub["policy"] == policies[0]].groupby("hour").size()
        ax_n.bar(counts.index, counts.to_numpy(), color="grey")
        ax.set_ylim(0, 100)
        ax.set_xlim(-0.5, 23.5)
        ax_n.set_xlim(-0.5, 23.5)
        ax.set_title(f"priority {p}: late by hour (±95 % CI over replications)")
        ax.set_ylabel("late (%)")
        ax_n.set_ylabel("calls (all replications)")
        ax_n.set_xlabel("hour of day of the call")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "late_by_hour.png", dpi=110)
    plt.close(fig)
    names.append("late_by_hour.png")

    fig, ax = plt.subplots(figsize=(max(6, 0.5 * units["unit"].nunique() + 2), 3.6))
    table = units.groupby(["unit", "policy"])["utilisation"].mean().unstack("policy")
    table = table[[p for p in policies if p in table.columns]]
    table = table.loc[sorted(table.index, key=lambda u: natural_key(str(u)))]
    (table * 100).plot.bar(ax=ax)
    ax.set_ylabel("utilisation (%)")
    ax.set_title("Unit utilisation (busy / on duty)")
    fig.tight_layout()
    fig.savefig(out / "utilisation.png", dpi=110)
    plt.close(fig)
    names.append("utilisation.png")
    if incidents["lat"].notna().any():
        _zone_map(incidents, out / "compliance_by_zone.png", policies=policies)
        names.append("compliance_by_zone.png")
    return names


ZONES = 8
"""Zones per side of the map grid (the calls' bounding box cut into ZONES × ZONES cells)."""


def _zone_map(incidents: pd.DataFrame, path: Path, *, policies: list[str]) -> None:
    """Per policy, the most urgent priority's share of calls within target in each grid zone
    (colour) with the number of calls (label); zones without calls stay blank."""
    top = int(incidents["priority"].min())
    sub = incidents[(incidents["priority"] == top) & incidents["lat"].notna()]
    lon_edges = np.linspace(sub["lon"].min(), sub["lon"].max() + 1e-9, ZONES + 1)
    lat_edges = np.linspace(sub["lat"].min(), sub["lat"].max() + 1e-9, ZONES + 1)
    fig, axes = plt.subplots(1, len(policies), figsize=(4.2 * len(policies), 4.6), squeeze=False)
    image = None
    for ax, policy in zip(axes[0], policies, strict=True):
        mine = sub[sub["policy"] == policy]
        ix = np.clip(np.searchsorted(lon_edges, mine["lon"], side="right") - 1, 0, ZONES - 1)
        iy = np.clip(np.searchsorted(lat_edges, mine["lat"], side="right") - 1, 0, ZONES - 1)
        calls = np.zeros((ZONES, ZONES))
        within = np.zeros((ZONES, ZONES))
        np.add.at(calls, (iy, ix), 1.0)
        np.add.at(within, (iy, ix), (~mine["late"].to_numpy(dtype=bool)).astype(float))
        share = np.where(calls > 0, within / np.maximum(calls, 1.0), np.nan) * 100
        image = ax.pcolormesh(lon_edges, lat_edges, share, vmin=0, vmax=100, cmap="RdYlGn")
        for j in range(ZONES):
            for i in range(ZONES):
                if calls[j, i]:
                    ax.text(
                        (lon_edges[i] + lon_edges[i + 1]) / 2,
                        (lat_edges[j] + lat_edges[j + 1]) / 2,
                        f"{int(calls[j, i])}",
                        ha="center",
                        va="center",
                        fontsize=6,
                    )
        ax.set_title(f"{policy}: P{top} within target", fontsize=9)
        ax.set_aspect(1 / max(np.cos(np.radians(float(sub["lat"].mean()))), 0.1))
        ax.tick_params(labelsize=6)
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label="% within target (label: calls)")
    fig.savefig(path, dpi=110)
    plt.close(fig)

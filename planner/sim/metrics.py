"""Simulation metrics: per-incident and per-unit records, summaries with confidence intervals.

Every replication yields one record per call. Fractions and means are pooled over the calls of
all replications; their 95 % confidence intervals are t-intervals over the replication values
(each replication is one independent observation). Policies run on common random numbers, so
differences between policies (and between a base scenario and a what-if with the same seeds)
are paired by replication, which gives much tighter intervals than comparing two intervals.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from planner.centre.codes import CodeTable


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """What happened to one call; times in seconds from the simulation start."""

    call: int
    code: str
    priority: int
    target_s: float
    t_call_s: float
    hour: int
    """Hour of day of the call (for late fraction by hour)."""
    node: int
    ready_s: float
    """When the call could first be dispatched (call + dispatcher delay)."""
    dispatched_s: float = math.nan
    arrived_s: float = math.nan
    units: int = 0
    preempted: int = 0
    """Times a unit heading here was diverted to a more urgent call."""
    lat: float = math.nan
    lon: float = math.nan
    """Where the call was (its road node or matrix point)."""
    sent: str = ""
    """The units dispatched to it, ``;``-separated (to see who served what)."""

    @property
    def response_s(self) -> float:
        """Call to first unit on scene; ``nan`` when no unit arrived (unmet)."""
        return self.arrived_s - self.t_call_s

    @property
    def unmet(self) -> bool:
        return math.isnan(self.arrived_s)

    @property
    def late(self) -> bool:
        """Unmet calls count as late."""
        return self.unmet or self.response_s > self.target_s

    @property
    def queued_s(self) -> float:
        """From ready to dispatch (time waiting for a free unit); to the end if never sent."""
        return self.dispatched_s - self.ready_s


@dataclass(frozen=True, slots=True)
class UnitRecord:
    unit: str
    station: str
    on_duty_s: float
    busy_s: float
    """From dispatch to back in service, while on duty."""
    dispatches: int
    kind: str = ""
    """The unit type: its capabilities joined by ``/`` (``ALS``, ``BLS``)."""
    busy_by_hour: tuple[float, ...] = ()
    on_duty_by_hour: tuple[float, ...] = ()
    """Busy and on-duty seconds by clock hour 0..23 (empty: not recorded)."""


@dataclass(frozen=True, slots=True)
class HospitalVisit:
    """One ambulance at a hospital: arrival, start of hand-over (a bay free), departure."""

    hospital: str
    unit: str
    call: int
    arrived_s: float
    handover_start_s: float
    left_s: float
    diverted: bool = False
    """Taken past the nearest hospital because its hand-over queue was full."""

    @property
    def wait_s(self) -> float:
        """Queued for a hand-over bay."""
        return self.handover_start_s - self.arrived_s

    @property
    def turnaround_s(self) -> float:
        """Time at hospital: queue plus hand-over."""
        return self.left_s - self.arrived_s


@dataclass(frozen=True, slots=True)
class CoverageSnapshot:
    """Cover at one moment (every clock hour): the share of top-priority demand a free unit
    reaches within the cover time, and the same per map zone (``nan``: no demand there)."""

    t_s: float
    hour: int
    fraction: float
    free_units: int
    zones: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplicationResult:
    """One policy on one replication's calls."""

    scenario: str
    policy: str
    replication: int
    seed: int
    incidents: tuple[IncidentRecord, ...]
    units: tuple[UnitRecord, ...]
    wall_s: float
    events: int
    """Events submitted to the engine."""
    solve_ms: tuple[float, ...] = field(default=())
    hospitals: tuple[HospitalVisit, ...] = field(default=())
    coverage: tuple[CoverageSnapshot, ...] = field(default=())
    zone_edges: tuple[tuple[float, ...], tuple[float, ...]] = field(default=((), ()))
    """Longitude and latitude edges of the coverage zones."""


def incidents_frame(results: Iterable[ReplicationResult]) -> pd.DataFrame:
    """One row per call of every result: the per-incident CSV."""
    rows = []
    for res in results:
        for inc in res.incidents:
            row = asdict(inc)
            row.update(
                scenario=res.scenario,
                policy=res.policy,
                replication=res.replication,
                response_s=inc.response_s,
                queued_s=inc.queued_s,
                late=inc.late,
                unmet=inc.unmet,
            )
            rows.append(row)
    columns = [
        "scenario", "policy", "replication", "call", "code", "priority", "target_s",
        "t_call_s", "hour", "node", "lat", "lon", "ready_s", "dispatched_s", "arrived_s",
        "response_s", "queued_s", "late", "unmet", "units", "sent", "preempted",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def units_frame(results: Iterable[ReplicationResult]) -> pd.DataFrame:
    rows = [
        {**asdict(u), "policy": r.policy, "replication": r.replication}
        for r in results
        for u in r.units
    ]
    frame = pd.DataFrame(
        rows,
        columns=["policy", "replication", "unit", "station", "on_duty_s", "busy_s", "dispatches"],
    )
    frame["utilisation"] = frame["busy_s"] / frame["on_duty_s"].where(frame["on_duty_s"] > 0)
    return frame


def hospitals_frame(results: Iterable[ReplicationResult]) -> pd.DataFrame:
    """One row per hospital visit (the turnaround table)."""
    rows = [
        {
            **asdict(v),
            "wait_s": v.wait_s,
            "turnaround_s": v.turnaround_s,
            "policy": r.policy,
            "replication": r.replication,
        }
        for r in results
        for v in r.hospitals
    ]
    columns = [
        "policy", "replication", "hospital", "unit", "call", "arrived_s", "handover_start_s",
        "left_s", "wait_s", "turnaround_s", "diverted",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def coverage_frame(results: Iterable[ReplicationResult]) -> pd.DataFrame:
    """One row per coverage snapshot (hourly) of every result."""
    rows = [
        {
            "policy": r.policy,
            "replication": r.replication,
            "t_s": c.t_s,
            "hour": c.hour,
            "fraction": c.fraction,
            "free_units": c.free_units,
        }
        for r in results
        for c in r.coverage
    ]
    return pd.DataFrame(
        rows, columns=["policy", "replication", "t_s", "hour", "fraction", "free_units"]
    )


def utilisation_by_hour(results: Sequence[ReplicationResult]) -> dict[str, Any]:
    """Per unit type and clock hour: busy / on-duty seconds pooled over that type's units,
    with a 95 % CI over replications."""
    per: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for r in results:
        busy: dict[str, np.ndarray] = {}
        duty: dict[str, np.ndarray] = {}
        for u in r.units:
            if not u.on_duty_by_hour:
                continue
            busy[u.kind] = busy.get(u.kind, np.zeros(24)) + np.asarray(u.busy_by_hour)
            duty[u.kind] = duty.get(u.kind, np.zeros(24)) + np.asarray(u.on_duty_by_hour)
        for kind in busy:
            for h in range(24):
                per.setdefault((kind, h), []).append((busy[kind][h], duty[kind][h]))
    out: dict[str, Any] = {}
    for (kind, h), pairs in sorted(per.items(), key=lambda kv: (natural_key(kv[0][0]), kv[0][1])):
        b = np.array([p[0] for p in pairs])
        d = np.array([p[1] for p in pairs])
        if d.sum() <= 0:
            continue
        by_rep = [float(x / y) for x, y in zip(b, d, strict=True) if y > 0]
        out.setdefault(kind, {})[str(h)] = {
            "utilisation": _r(float(b.sum() / d.sum())),
            "ci95": _ci(by_rep, bounds=(0.0, 1.0)),
            "on_duty_h": _r(float(d.sum()) / 3600.0 / max(len(pairs), 1), 3),
        }
    return out


def hospital_turnaround(visits: pd.DataFrame) -> dict[str, Any]:
    """Per hospital: visits, mean and centiles of time at hospital, mean queue wait and the
    share that waited, and how many patients were diverted there."""
    out: dict[str, Any] = {}
    for hospital, g in sorted(visits.groupby("hospital"), key=lambda kv: natural_key(str(kv[0]))):
        t = g["turnaround_s"].to_numpy(dtype=np.float64)
        per_rep = g.groupby("replication")["turnaround_s"].mean().tolist()
        out[str(hospital)] = {
            "visits": len(g),
            "mean_turnaround_s": _r(float(t.mean()), 1),
            "ci95_mean_turnaround_s": _ci(per_rep, bounds=(0.0, math.inf), digits=1),
            "p50_turnaround_s": _r(float(np.quantile(t, 0.5)), 1),
            "p90_turnaround_s": _r(float(np.quantile(t, 0.9)), 1),
            "mean_wait_s": _r(float(g["wait_s"].mean()), 1),
            "fraction_waited": _r(float((g["wait_s"] > 0).mean())),
            "diverted_here": int(g["diverted"].sum()),
        }
    return out


def coverage_by_hour(snapshots: pd.DataFrame) -> dict[str, Any]:
    """Per clock hour: the mean covered share of top-priority demand (CI over
    replications) and the mean number of free units."""
    out: dict[str, Any] = {}
    for hour, g in snapshots.groupby("hour", sort=True):
        per_rep = g.groupby("replication")["fraction"].mean().tolist()
        out[str(hour)] = {
            "fraction_covered": _r(float(g["fraction"].mean())),
            "ci95_fraction_covered": _ci(per_rep, bounds=(0.0, 1.0)),
            "free_units": _r(float(g["free_units"].mean()), 2),
        }
    return out


def t_interval(values: Sequence[float], *, level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean; a single value gives a zero-width interval."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if x.size == 0:
        return (math.nan, math.nan)
    mean = float(x.mean())
    if x.size == 1:
        return (mean, mean)
    sem = float(stats.sem(x))
    if sem == 0.0:  # scipy gives nan for a zero scale; identical values have no spread
        return (mean, mean)
    lo, hi = stats.t.interval(level, x.size - 1, loc=mean, scale=sem)
    return (float(lo), float(hi))


def _ci(
    values: Sequence[float], *, bounds: tuple[float, float] | None = None, digits: int = 4
) -> list[float]:
    """Rounded t-interval, clipped to ``bounds`` (fractions stay within [0, 1]); ``nan``
    (``null`` in JSON, "n/a" in reports) from fewer than two replications, where a
    zero-width interval would pretend to a certainty one run cannot give."""
    if sum(1 for v in values if not math.isnan(v)) < 2:
        return [math.nan, math.nan]
    lo, hi = t_interval(values)
    if bounds is not None and math.isfinite(lo):
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return [_r(lo, digits), _r(hi, digits)]


def _r(v: float, digits: int = 4) -> float:
    return float(round(v, digits)) if math.isfinite(v) else math.nan


def relative_interval(
    alt: Sequence[float], base: Sequence[float], *, level: float = 0.95
) -> list[float]:
    """95 % CI of ``mean(alt - base) / mean(base)`` over paired replications (delta method:
    the ratio's variance from the variances and covariance of difference and base)."""
    a = np.asarray(alt, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    n = len(a)
    mb = float(b.mean()) if n else 0.0
    if n < 2 or mb <= 0:
        return [math.nan, math.nan]
    d = a - b
    ratio = float(d.mean()) / mb
    cov = np.cov(np.vstack([d, b]), ddof=1)
    var = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * mb**2)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * math.sqrt(max(var, 0.0))
    return [_r(ratio - half), _r(ratio + half)]


def compliance_by_code(incidents: pd.DataFrame, codes: CodeTable) -> dict[str, Any]:
    """Each code's calls against its standard as the code table writes it.

    ``target_p90_s`` (ARP Cat 1/2 style): met when the mean is within ``target_s`` *and* the
    90th centile within ``target_p90_s``; ``target_fraction``: met when that share of calls is
    reached within ``target_s``; neither: the share within ``target_s`` is reported and
    ``met`` is ``None`` (no standard to hold it to). Unmet calls count as beyond every target
    and leave the mean undefined (``mean_response_s`` is over reached calls, as elsewhere).
    """
    out: dict[str, Any] = {}
    for code, group in incidents.groupby("code", sort=True):
        spec = codes.get(str(code))
        target = float(group["target_s"].iloc[0])
        response = group["response_s"].where(~group["unmet"], math.inf)
        within = response <= target
        reached = group.loc[~group["unmet"], "response_s"]
        mean = float(reached.mean()) if len(reached) else math.nan
        p90 = float(np.quantile(response, 0.9)) if len(response) else math.nan
        per_rep = pd.DataFrame({"rep": group["replication"], "within": within}).groupby("rep")
        p90_target = spec.target_p90_s if spec else None
        fraction_target = spec.target_fraction if spec else None
        met: bool | None = None
        if p90_target is not None:
            standard = "mean_and_p90"
            met = bool(mean <= target and p90 <= p90_target)
        elif fraction_target is not None:
            standard = "fraction_within"
            met = bool(float(within.mean()) >= fraction_target)
        else:
            standard = "per_call"
        out[str(code)] = {
            "standard": standard,
            "n": len(group),
            "target_s": _r(target, 1),
            "target_p90_s": p90_target,
            "target_fraction": fraction_target,
            "mean_response_s": _r(mean, 1),
            "p90_response_s": _r(p90, 1),
            "fraction_within_target": _r(float(within.mean())),
            "ci95_fraction_within_target": _ci(
                per_rep["within"].mean().tolist(), bounds=(0.0, 1.0)
            ),
            "met": met,
        }
    return out


def summary_warnings(incidents: pd.DataFrame, *, replications: int) -> list[str]:
    """What a planner should know before trusting the figures."""
    warnings = []
    if replications < 2:
        warnings.append(
            f"{replications} replication: no confidence intervals (run at least 2, better 10)"
        )
    elif replications < 5:
        warnings.append(f"only {replications} replications: confidence intervals are wide")
    for (policy, priority), group in incidents.groupby(["policy", "priority"], sort=True):
        if len(group) < 30:
            warnings.append(
                f"{policy}, priority {priority}: only {len(group)} calls; "
                "fractions and centiles are rough"
            )
    return warnings


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts A2 before A10 (digit runs compare as numbers)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|\D+", text)
    )


def _late_by_hour(group: pd.DataFrame) -> dict[str, Any]:
    """Per hour of day: calls, late fraction and its CI over replications."""
    out: dict[str, Any] = {}
    for hour, g in group.groupby("hour", sort=True):
        per_rep = g.groupby("replication")["late"].mean().tolist()
        out[str(hour)] = {
            "n": len(g),
            "fraction_late": _r(float(g["late"].mean())),
            "ci95_fraction_late": _ci(per_rep, bounds=(0.0, 1.0)),
        }
    return out


def _priority_stats(group: pd.DataFrame) -> dict[str, Any]:
    reached = group.loc[~group["unmet"], "response_s"]
    per_rep = group.groupby("replication")
    late_by_rep = per_rep["late"].mean().tolist()
    mean_by_rep = per_rep["response_s"].mean().tolist()
    return {
        "n": len(group),
        "n_per_replication": _r(len(group) / group["replication"].nunique(), 2),
        "mean_response_s": _r(float(reached.mean()) if len(reached) else math.nan, 1),
        "ci95_mean_response_s": _ci(mean_by_rep, digits=1),
        "p90_response_s": _r(float(reached.quantile(0.9)) if len(reached) else math.nan, 1),
        "fraction_late": _r(float(group["late"].mean())),
        "ci95_fraction_late": _ci(late_by_rep, bounds=(0.0, 1.0)),
        "unmet": int(group["unmet"].sum()),
        "mean_queued_s": _r(float(group["queued_s"].mean()), 1),
        "preemptions": int(group["preempted"].sum()),
        "target_s": _r(float(group["target_s"].iloc[0]), 1),
    }


def summarise(
    results: Sequence[ReplicationResult], *, baseline: str | None = "closest_idle"
) -> dict[str, Any]:
    """The ``summary.json`` document: per policy and priority, with 95 % CIs.

    ``vs_<baseline>`` gives, per policy and priority, the paired difference to the baseline
    (same replications, common random numbers) and the relative change in late fraction.
    """
    incidents = incidents_frame(results)
    units = units_frame(results)
    policies: dict[str, Any] = {}
    for policy in dict.fromkeys(r.policy for r in results):
        inc = incidents[incidents["policy"] == policy]
        uni = units[units["policy"] == policy]
        by_priority = {str(p): _priority_stats(g) for p, g in inc.groupby("priority", sort=True)}
        sums = uni.groupby("replication")[["busy_s", "on_duty_s"]].sum()
        util_by_rep: list[float] = (sums["busy_s"] / sums["on_duty_s"]).astype(float).tolist()
        late_by_hour = inc.groupby("hour")["late"].mean()
        by_hour = {str(p): _late_by_hour(g) for p, g in inc.groupby("priority", sort=True)}
        runs = [r for r in results if r.policy == policy]
        solve_ms = np.concatenate([np.asarray(r.solve_ms) for r in runs]) if runs else np.zeros(0)
        policies[policy] = {
            "by_priority": by_priority,
            "all": _priority_stats(inc) if len(inc) else {},
            "utilisation": _r(float(np.mean(util_by_rep))) if util_by_rep else math.nan,
            "ci95_utilisation": _ci(util_by_rep, bounds=(0.0, 1.0)),
            "utilisation_by_unit": {
                str(u): _r(float(v))
                for u, v in sorted(
                    uni.groupby("unit")["utilisation"].mean().items(),
                    key=lambda kv: natural_key(str(kv[0])),
                )
            },
            "late_by_hour": {str(h): _r(float(v)) for h, v in late_by_hour.items()},
            "late_by_hour_by_priority": by_hour,
            "utilisation_by_hour": utilisation_by_hour(runs),
            "hospital_turnaround": hospital_turnaround(hospitals_frame(runs)),
            "coverage_by_hour": coverage_by_hour(coverage_frame(runs)),
            "replications": len(runs),
            "wall_s_per_replication": _r(float(np.mean([r.wall_s for r in runs])), 3),
            "engine_events_per_replication": _r(float(np.mean([r.events for r in runs])), 1),
            "median_solve_ms": _r(float(np.median(solve_ms)), 3) if solve_ms.size else math.nan,
        }
    doc: dict[str, Any] = {
        "policies": policies,
        "warnings": summary_warnings(incidents, replications=len({r.replication for r in results})),
    }
    if baseline is not None and baseline in policies:
        doc[f"vs_{baseline}"] = {
            policy: paired_difference(incidents, baseline=baseline, other=policy)
            for policy in policies
            if policy != baseline
        }
    return doc


def _per_rep(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby(["priority", "replication"]).agg(
        late=("late", "mean"), response=("response_s", "mean")
    )


def paired_difference(
    incidents: pd.DataFrame,
    *,
    baseline: str,
    other: str,
    column: str = "policy",
    other_frame: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """``other − baseline`` per priority, paired by replication, with 95 % t-intervals.

    Rows of ``incidents`` where ``column == baseline`` are the baseline; those where
    ``column == other`` (or all of ``other_frame`` when given) the alternative.
    """
    base = _per_rep(incidents[incidents[column] == baseline])
    alt = _per_rep(incidents[incidents[column] == other] if other_frame is None else other_frame)
    out: dict[str, Any] = {}
    for p in sorted(set(base.index.get_level_values(0)) | set(alt.index.get_level_values(0))):
        b = base.loc[p] if p in base.index.get_level_values(0) else None
        a = alt.loc[p] if p in alt.index.get_level_values(0) else None
        if b is None or a is None:
            continue
        joined = b.add_suffix("_base").join(a.add_suffix("_alt"), how="inner")
        d_late = (joined["late_alt"] - joined["late_base"]).tolist()
        d_resp = (joined["response_alt"] - joined["response_base"]).tolist()
        base_late = float(joined["late_base"].mean())
        out[str(p)] = {
            "fraction_late_base": _r(base_late),
            "fraction_late_alt": _r(float(joined["late_alt"].mean())),
            "diff_fraction_late": _r(float(np.mean(d_late))),
            "ci95_diff_fraction_late": _ci(d_late),
            "relative_change_late": _r(float(np.mean(d_late)) / base_late)
            if base_late > 0
            else math.nan,
            "ci95_relative_change_late": relative_interval(
                joined["late_alt"].tolist(), joined["late_base"].tolist()
            ),
            "mean_response_s_base": _r(float(joined["response_base"].mean()), 1),
            "mean_response_s_alt": _r(float(joined["response_alt"].mean()), 1),
            "diff_mean_response_s": _r(float(np.mean(d_resp)), 1),
            "ci95_diff_mean_response_s": _ci(d_resp, digits=1),
            "replications": len(joined),
        }
    return out

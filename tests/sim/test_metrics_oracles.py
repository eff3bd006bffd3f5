"""Simulation statistics against numbers worked out by hand (and a t-table)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from planner.sim.metrics import (
    IncidentRecord,
    ReplicationResult,
    UnitRecord,
    summarise,
    t_interval,
)


def test_t_interval_by_hand() -> None:
    """1..5: mean 3, s = sqrt(2.5), s/sqrt(5) = 0.70711, t(0.975; 4 df) = 2.77645 (a t-table), so
    the 95 % interval is 3 -/+ 1.96324. A one-sided quantile (t(0.95) = 2.13185) would give
    3 -/+ 1.50745 and fail here."""
    lo, hi = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (lo, hi) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-6)


def test_t_interval_level_and_degenerate_cases() -> None:
    """90 %: t(0.95; 1 df) = 6.31375 on {0, 2} (mean 1, s/sqrt(2) = 1); nan values are ignored;
    identical values have no spread; no values, no interval."""
    lo, hi = t_interval([0.0, 2.0, math.nan], level=0.90)
    assert (lo, hi) == pytest.approx((1 - 6.313752, 1 + 6.313752), abs=1e-6)
    assert t_interval([4.0, 4.0, 4.0]) == (4.0, 4.0)
    assert t_interval([7.0]) == (7.0, 7.0)
    lo, hi = t_interval([])
    assert math.isnan(lo) and math.isnan(hi)


# A whole summary.json worked out independently: plain-Python means and sample deviations,
# t(0.975; 2 df) = 4.302653 from a t-table, linear-interpolated 90th centiles. Two policies, three
# replications, calls 0 and 1 priority 1 (target 600 s, hours 0 and 1), call 2 priority 2
# (target 900 s, hour 1); queued 15/25/35 s for calls 0/1/2, ``None``: no unit arrived.
RESPONSES = {
    "closest_idle": [[300, 700, 950], [400, 650, 800], [500, None, 1000]],
    "optimal": [[300, 500, 950], [350, 600, 700], [450, 620, 800]],
}
BUSY = {"closest_idle": [(250, 500), (300, 400), (200, 600)], "optimal": [(250, 250)] * 3}
WALL = {"closest_idle": [0.1, 0.2, 0.3], "optimal": [0.1, 0.1, 0.1]}
EVENTS = {"closest_idle": [3, 4, 6], "optimal": [3, 3, 3]}
SOLVE_MS = {"closest_idle": [(1.0, 2.0), (3.0,), ()], "optimal": [(), (), ()]}


def _replication(policy: str, rep: int) -> ReplicationResult:
    calls = []
    for k, response in enumerate(RESPONSES[policy][rep]):
        t_call = (0.0, 3600.0, 4000.0)[k]
        calls.append(
            IncidentRecord(
                call=k,
                code="X" if k < 2 else "Y",
                priority=1 if k < 2 else 2,
                target_s=600.0 if k < 2 else 900.0,
                t_call_s=t_call,
                hour=0 if k == 0 else 1,
                node=k,
                ready_s=t_call + 60.0,
                dispatched_s=math.nan if response is None else t_call + 60.0 + 15.0 + 10.0 * k,
                arrived_s=math.nan if response is None else t_call + response,
                preempted=1 if (policy, rep, k) == ("closest_idle", 1, 2) else 0,
            )
        )
    a2, a10 = BUSY[policy][rep]
    units = (
        UnitRecord("A10", "S1", on_duty_s=1000.0, busy_s=a10, dispatches=1),
        UnitRecord("A2", "S1", on_duty_s=1000.0, busy_s=a2, dispatches=1),
    )
    return ReplicationResult(
        "s",
        policy,
        rep,
        rep,
        tuple(calls),
        units,
        wall_s=WALL[policy][rep],
        events=EVENTS[policy][rep],
        solve_ms=SOLVE_MS[policy][rep],
    )


def _stats(**figures: Any) -> dict[str, Any]:
    keys = [
        "n", "n_per_replication", "mean_response_s", "ci95_mean_response_s", "p90_response_s",
        "fraction_late", "ci95_fraction_late", "unmet", "mean_queued_s", "preemptions",
        "target_s",
    ]  # fmt: skip
    assert list(figures) == keys
    return figures


def test_summary_document_by_hand() -> None:
    """Every figure of ``summarise`` for the hand-made runs above, e.g. closest_idle priority 1:
    reached 300, 700, 400, 650, 500 -> mean 510; per-replication means 500, 525, 500 -> mean
    508.33, s = 14.434, half-width 4.302653 x 14.434 / sqrt(3) = 35.86 -> [472.5, 544.2]; 90th
    centile of the five sorted values 300..700 at position 3.6 -> 650 + 0.6 x 50 = 680."""
    runs = [_replication(p, r) for p in RESPONSES for r in range(3)]
    doc = summarise(runs)
    optimal_solve = doc["policies"]["optimal"].pop("median_solve_ms")
    assert math.isnan(optimal_solve)
    assert doc["policies"] == {
        "closest_idle": {
            "by_priority": {
                "1": _stats(
                    n=6, n_per_replication=2.0, mean_response_s=510.0,
                    ci95_mean_response_s=[472.5, 544.2], p90_response_s=680.0,
                    fraction_late=0.5, ci95_fraction_late=[0.5, 0.5], unmet=1,
                    mean_queued_s=19.0, preemptions=0, target_s=600.0,
                ),
                "2": _stats(
                    n=3, n_per_replication=1.0, mean_response_s=916.7,
                    ci95_mean_response_s=[658.1, 1175.2], p90_response_s=990.0,
                    fraction_late=0.6667, ci95_fraction_late=[0.0, 1.0], unmet=0,
                    mean_queued_s=35.0, preemptions=1, target_s=900.0,
                ),
            },
            "all": _stats(
                n=9, n_per_replication=3.0, mean_response_s=662.5,
                ci95_mean_response_s=[499.9, 844.6], p90_response_s=965.0,
                fraction_late=0.5556, ci95_fraction_late=[0.0775, 1.0], unmet=1,
                mean_queued_s=25.0, preemptions=1, target_s=600.0,
            ),
            "utilisation": 0.375,
            "ci95_utilisation": [0.3129, 0.4371],
            "utilisation_by_unit": {"A2": 0.25, "A10": 0.5},
            "late_by_hour": {"0": 0.0, "1": 0.8333},
            "late_by_hour_by_priority": {
                "1": {
                    "0": {"n": 3, "fraction_late": 0.0, "ci95_fraction_late": [0.0, 0.0]},
                    "1": {"n": 3, "fraction_late": 1.0, "ci95_fraction_late": [1.0, 1.0]},
                },
                "2": {"1": {"n": 3, "fraction_late": 0.6667, "ci95_fraction_late": [0.0, 1.0]}},
            },
            "replications": 3,
            "wall_s_per_replication": 0.2,
            "engine_events_per_replication": 4.3,
            "median_solve_ms": 2.0,
        },
        "optimal": {
            "by_priority": {
                "1": _stats(
                    n=6, n_per_replication=2.0, mean_response_s=470.0,
                    ci95_mean_response_s=[302.0, 638.0], p90_response_s=610.0,
                    fraction_late=0.1667, ci95_fraction_late=[0.0, 0.8838], unmet=0,
                    mean_queued_s=20.0, preemptions=0, target_s=600.0,
                ),
                "2": _stats(
                    n=3, n_per_replication=1.0, mean_response_s=816.7,
                    ci95_mean_response_s=[504.1, 1129.2], p90_response_s=920.0,
                    fraction_late=0.3333, ci95_fraction_late=[0.0, 1.0], unmet=0,
                    mean_queued_s=35.0, preemptions=0, target_s=900.0,
                ),
            },
            "all": _stats(
                n=9, n_per_replication=3.0, mean_response_s=585.6,
                ci95_mean_response_s=[494.3, 676.8], p90_response_s=830.0,
                fraction_late=0.2222, ci95_fraction_late=[0.0, 0.7003], unmet=0,
                mean_queued_s=25.0, preemptions=0, target_s=600.0,
            ),
            "utilisation": 0.25,
            "ci95_utilisation": [0.25, 0.25],
            "utilisation_by_unit": {"A2": 0.25, "A10": 0.25},
            "late_by_hour": {"0": 0.0, "1": 0.3333},
            "late_by_hour_by_priority": {
                "1": {
                    "0": {"n": 3, "fraction_late": 0.0, "ci95_fraction_late": [0.0, 0.0]},
                    "1": {"n": 3, "fraction_late": 0.3333, "ci95_fraction_late": [0.0, 1.0]},
                },
                "2": {"1": {"n": 3, "fraction_late": 0.3333, "ci95_fraction_late": [0.0, 1.0]}},
            },
            "replications": 3,
            "wall_s_per_replication": 0.1,
            "engine_events_per_replication": 3.0,
        },
    }  # fmt: skip
    assert list(doc["policies"]["closest_idle"]["utilisation_by_unit"]) == ["A2", "A10"]
    assert doc["warnings"] == [
        "only 3 replications: confidence intervals are wide",
        "closest_idle, priority 1: only 6 calls; fractions and centiles are rough",
        "closest_idle, priority 2: only 3 calls; fractions and centiles are rough",
        "optimal, priority 1: only 6 calls; fractions and centiles are rough",
        "optimal, priority 2: only 3 calls; fractions and centiles are rough",
    ]
    # optimal - closest_idle, paired by replication: priority 1 late 0.5 -> 1/6 per replication
    # (0.5, 0.5, 0.5) -> (0, 0, 0.5), differences -0.5, -0.5, 0 -> mean -1/3, s = 0.288675;
    # relative change -1/3 / 0.5; its delta-method interval has var(d) / (n mean_b^2) as the
    # baseline does not vary.
    assert doc["vs_closest_idle"] == {
        "optimal": {
            "1": {
                "fraction_late_base": 0.5, "fraction_late_alt": 0.1667,
                "diff_fraction_late": -0.3333, "ci95_diff_fraction_late": [-1.0504, 0.3838],
                "relative_change_late": -0.6667, "ci95_relative_change_late": [-2.1009, 0.7676],
                "mean_response_s_base": 508.3, "mean_response_s_alt": 470.0,
                "diff_mean_response_s": -38.3, "ci95_diff_mean_response_s": [-207.9, 131.2],
                "replications": 3,
            },
            "2": {
                "fraction_late_base": 0.6667, "fraction_late_alt": 0.3333,
                "diff_fraction_late": -0.3333, "ci95_diff_fraction_late": [-1.7676, 1.1009],
                "relative_change_late": -0.5, "ci95_relative_change_late": [-2.3631, 1.3631],
                "mean_response_s_base": 916.7, "mean_response_s_alt": 816.7,
                "diff_mean_response_s": -100.0, "ci95_diff_mean_response_s": [-348.4, 148.4],
                "replications": 3,
            },
        }
    }  # fmt: skip

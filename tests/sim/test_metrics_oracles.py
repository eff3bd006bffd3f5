"""Simulation statistics against numbers worked out by hand (and a t-table)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pandas as pd
import pytest

from planner.centre.codes import CodeTable
from planner.sim.metrics import (
    CoverageSnapshot,
    HospitalVisit,
    IncidentRecord,
    ReplicationResult,
    UnitRecord,
    compliance_by_code,
    coverage_by_hour,
    coverage_frame,
    hospital_turnaround,
    hospitals_frame,
    incidents_frame,
    natural_key,
    paired_difference,
    relative_interval,
    summarise,
    summary_warnings,
    t_interval,
    units_frame,
    utilisation_by_hour,
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


NOT_RECORDED = {"utilisation_by_hour": {}, "hospital_turnaround": {}, "coverage_by_hour": {}}
"""Runs without hourly duty, hospital visits or coverage snapshots report none."""


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
            **NOT_RECORDED,
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
            **NOT_RECORDED,
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


def _calls(code: str, target: float, responses: list[list[float | None]]) -> pd.DataFrame:
    rows = [
        {
            "code": code,
            "target_s": target,
            "replication": rep,
            "response_s": math.nan if x is None else x,
            "unmet": x is None,
        }
        for rep, values in enumerate(responses)
        for x in values
    ]
    return pd.DataFrame(rows)


def test_compliance_by_code_by_hand() -> None:
    """ARP1 (mean <= 420 s and p90 <= 900 s): mean 400 s passes but the 90th centile of
    100,100,100,100,1000,1000 (position 4.5) is 1000 s: not met. FRAC (75 % within 480 s): 6 of
    8 within, the unmet call beyond every target: exactly 75 %, met. A code the table lacks has
    no standard: share within target only (per replication 1/2 and 1/1, whose interval is
    0.75 -/+ 12.7062 x 0.25, clipped to [0, 1])."""
    frame = pd.concat(
        [
            _calls("ARP1", 420.0, [[100, 100, 1000], [100, 100, 1000]]),
            _calls("FRAC", 480.0, [[100, 200, 300, 600], [100, 200, 300, None]]),
            _calls("OTHER", 300.0, [[200, 400], [300]]),
        ]
    )
    doc = compliance_by_code(frame, _codes())
    assert math.isnan(doc["FRAC"].pop("p90_response_s"))  # the unmet call: an infinite centile
    assert doc == {
        "ARP1": {
            "standard": "mean_and_p90", "n": 6, "target_s": 420.0, "target_p90_s": 900.0,
            "target_fraction": None, "mean_response_s": 400.0, "p90_response_s": 1000.0,
            "fraction_within_target": 0.6667, "ci95_fraction_within_target": [0.6667, 0.6667],
            "met": False,
        },
        "FRAC": {
            "standard": "fraction_within", "n": 8, "target_s": 480.0, "target_p90_s": None,
            "target_fraction": 0.75, "mean_response_s": 257.1,
            "fraction_within_target": 0.75, "ci95_fraction_within_target": [0.75, 0.75],
            "met": True,
        },
        "OTHER": {
            "standard": "per_call", "n": 3, "target_s": 300.0, "target_p90_s": None,
            "target_fraction": None, "mean_response_s": 300.0, "p90_response_s": 380.0,
            "fraction_within_target": 0.6667, "ci95_fraction_within_target": [0.0, 1.0],
            "met": None,
        },
    }  # fmt: skip


def _codes() -> CodeTable:
    code = {"service": "ambulance", "levels": [{"ALS": 1}], "advice": ["wait"]}
    return CodeTable.from_data(
        {
            "version": 1,
            "capabilities": {"ALS": "ambulance"},
            "codes": {
                "ARP1": {**code, "label": "cat 1", "default_priority": 1, "target_s": 420}
                | {"target_p90_s": 900},
                "FRAC": {**code, "label": "75 %", "default_priority": 2, "target_s": 480}
                | {"target_fraction": 0.75},
            },
        }
    )


def test_compare_mode_pairs_two_frames_by_replication() -> None:
    """``paired_difference`` of a what-if frame against the base rows of one policy: priority 1
    late 1/2, 0/2 -> 0/2, 0/2 (differences -0.5, 0: mean -0.25); mean response 450, 350 ->
    350, 300 (differences -100, -50: mean -75, s = 35.355, interval -75 -/+ 12.7062 x 25)."""
    base = incidents_frame([_replication("closest_idle", r) for r in range(2)])
    base = base[base["priority"] == 1].assign(policy="p")
    alt = base.copy()
    alt["response_s"] = [300.0, 400.0, 350.0, 250.0]
    alt["late"] = False
    base["response_s"] = [300.0, 600.0, 400.0, 300.0]
    base["late"] = [False, True, False, False]
    diff = paired_difference(base, baseline="p", other="ignored", other_frame=alt)
    assert diff == {
        "1": {
            "fraction_late_base": 0.25, "fraction_late_alt": 0.0, "diff_fraction_late": -0.25,
            "ci95_diff_fraction_late": [-3.4266, 2.9266], "relative_change_late": -1.0,
            "ci95_relative_change_late": [-1.0, -1.0], "mean_response_s_base": 400.0,
            "mean_response_s_alt": 325.0, "diff_mean_response_s": -75.0,
            "ci95_diff_mean_response_s": [-392.7, 242.7], "replications": 2,
        }
    }  # fmt: skip
    # a priority only one side has is left out
    only_base = base.assign(priority=2)
    assert paired_difference(only_base, baseline="p", other="x", other_frame=alt) == {}


def test_relative_interval_and_utilisation_edge_cases() -> None:
    """No interval from one pair or from a baseline that is never late (a ratio to zero);
    a unit never on duty has no utilisation (not a division by zero)."""
    assert all(math.isnan(v) for v in relative_interval([0.5], [0.25]))
    assert all(math.isnan(v) for v in relative_interval([0.5, 0.2], [0.0, 0.0]))
    run = _replication("optimal", 0)
    idle = UnitRecord("A3", "S1", on_duty_s=0.0, busy_s=0.0, dispatches=0)
    frame = units_frame([ReplicationResult("s", "optimal", 0, 0, (), (*run.units, idle), 0.1, 3)])
    assert frame["utilisation"].tolist()[:2] == [0.25, 0.25]
    assert math.isnan(frame["utilisation"].tolist()[2])


def test_warnings_thresholds() -> None:
    """Fewer than 5 replications warns; 30 calls of a policy and priority are enough, 29 not."""
    rows = [{"policy": "a", "priority": 1}] * 30 + [{"policy": "a", "priority": 2}] * 29
    frame = pd.DataFrame(rows)
    assert summary_warnings(frame, replications=5) == [
        "a, priority 2: only 29 calls; fractions and centiles are rough"
    ]
    assert summary_warnings(frame, replications=4)[0] == (
        "only 4 replications: confidence intervals are wide"
    )
    assert summary_warnings(frame, replications=1)[0] == (
        "1 replication: no confidence intervals (run at least 2, better 10)"
    )


def _hours(**by_hour: float) -> tuple[float, ...]:
    return tuple(by_hour.get(f"h{h}", 0.0) for h in range(24))


def _run(rep: int, **parts: Any) -> ReplicationResult:
    return ReplicationResult(
        "s", "p", rep, rep, (), **({"units": ()} | parts), wall_s=0.1, events=1
    )


def test_utilisation_by_hour_by_hand() -> None:
    """ALS hour 0: busy 1800 + 900 of 7200 s on duty, then 3600 + 0 of 7200: pooled 6300 / 14400
    = 0.4375 (per replication 0.375, 0.5, whose interval leaves [0, 1]); hour 1: 3600 / 14400.
    BLS, on duty in one replication only, has no interval; hours nobody was on duty are left
    out, and a unit without hourly figures is not counted."""
    hour = 3600.0
    runs = [
        _run(
            0,
            units=(
                UnitRecord("M1", "S", 0, 0, 0, "ALS", _hours(h0=1800), _hours(h0=hour, h1=hour)),
                UnitRecord(
                    "M2", "S", 0, 0, 0, "ALS", _hours(h0=900, h1=hour), _hours(h0=hour, h1=hour)
                ),
                UnitRecord("B1", "S", 0, 0, 0, "BLS", _hours(), _hours(h0=hour)),
            ),
        ),
        _run(
            1,
            units=(
                UnitRecord("M1", "S", 0, 0, 0, "ALS", _hours(h0=hour), _hours(h0=hour, h1=hour)),
                UnitRecord("M2", "S", 0, 0, 0, "ALS", _hours(), _hours(h0=hour, h1=hour)),
                UnitRecord("X", "S", 0, 0, 0, "ALS", (), ()),
            ),
        ),
    ]
    doc = utilisation_by_hour(runs)
    bls = doc.pop("BLS")
    assert list(bls) == ["0"] and bls["0"]["utilisation"] == 0.0 and bls["0"]["on_duty_h"] == 1.0
    assert all(math.isnan(v) for v in bls["0"]["ci95"])
    assert doc == {
        "ALS": {
            "0": {"utilisation": 0.4375, "ci95": [0.0, 1.0], "on_duty_h": 2.0},
            "1": {"utilisation": 0.25, "ci95": [0.0, 1.0], "on_duty_h": 2.0},
        }
    }


def test_hospital_turnaround_by_hand() -> None:
    """H2: 600, 1200 and 960 s at hospital (mean 920; per replication 900 and 960 -> 930 -/+
    12.7062 x 30); median 960, 90th centile 960 + 0.8 x 240 = 1152; waits 0, 300, 60 s (two of
    three waited); one patient diverted there. H10 (sorted after H2): a single visit."""
    runs = [
        _run(
            0,
            hospitals=(
                HospitalVisit("H2", "M1", 0, 0.0, 0.0, 600.0),
                HospitalVisit("H2", "M2", 1, 100.0, 400.0, 1300.0),
            ),
        ),
        _run(
            1,
            hospitals=(
                HospitalVisit("H10", "M1", 0, 0.0, 0.0, 500.0),
                HospitalVisit("H2", "M2", 1, 0.0, 60.0, 960.0, diverted=True),
            ),
        ),
    ]
    doc = hospital_turnaround(hospitals_frame(runs))
    assert list(doc) == ["H2", "H10"]
    assert all(math.isnan(v) for v in doc["H10"].pop("ci95_mean_turnaround_s"))
    assert doc == {
        "H2": {
            "visits": 3, "mean_turnaround_s": 920.0, "ci95_mean_turnaround_s": [548.8, 1311.2],
            "p50_turnaround_s": 960.0, "p90_turnaround_s": 1152.0, "mean_wait_s": 120.0,
            "fraction_waited": 0.6667, "diverted_here": 1,
        },
        "H10": {
            "visits": 1, "mean_turnaround_s": 500.0, "p50_turnaround_s": 500.0,
            "p90_turnaround_s": 500.0, "mean_wait_s": 0.0, "fraction_waited": 0.0,
            "diverted_here": 0,
        },
    }  # fmt: skip


def test_coverage_by_hour_by_hand() -> None:
    """Hour 0: 0.8 (replication 0), 0.9 and 0.7 (replication 1, two days): mean 0.8, both
    replications 0.8, so a zero-width interval; 3, 4 and 2 free units. Hour 1: one snapshot."""
    runs = [
        _run(0, coverage=(CoverageSnapshot(0, 0, 0.8, 3), CoverageSnapshot(3600, 1, 0.6, 2))),
        _run(1, coverage=(CoverageSnapshot(0, 0, 0.9, 4), CoverageSnapshot(86400, 0, 0.7, 2))),
    ]
    doc = coverage_by_hour(coverage_frame(runs))
    assert all(math.isnan(v) for v in doc["1"].pop("ci95_fraction_covered"))
    assert doc == {
        "0": {"fraction_covered": 0.8, "ci95_fraction_covered": [0.8, 0.8], "free_units": 3.0},
        "1": {"fraction_covered": 0.6, "free_units": 2.0},
    }


def _record(call: int, priority: int, hour: int, response: float | None, **extra: Any) -> Any:
    t_call = 4000.0 * call
    return IncidentRecord(
        call=call,
        code=extra.pop("code", "X"),
        priority=priority,
        target_s=extra.pop("target_s", 600.44),
        t_call_s=t_call,
        hour=hour,
        node=0,
        ready_s=t_call,
        dispatched_s=t_call + extra.pop("queued", 0.0),
        arrived_s=math.nan if response is None else t_call + response,
    )


def test_report_keys_in_natural_order_and_figures_to_their_digits() -> None:
    """Calls arrive priority 2 first and late hours first, yet priorities, hours and units are
    listed in ascending order; figures keep their reported digits: 7 calls over 3
    replications -> 2.33 per replication, target 600.44 -> 600.4, queued 10 (3 times), 20 and
    25.5 (3 times) s -> 18.07 -> 18.1, wall 0.12345 s -> 0.123, solve times 1.23456 ms -> 1.235."""

    def rep(r: int) -> ReplicationResult:
        calls = [_record(0, 2, 5, 100.0), _record(1, 1, 3, 200.0, queued=10.0)]
        if r == 0:
            calls.append(_record(2, 1, 3, 250.0, queued=20.0))
        calls.append(_record(3, 1, 1, 300.0, queued=25.5))
        units = (UnitRecord("A10", "S2", 100.0, 50.0, 1), UnitRecord("A9", "S1", 100.0, 50.0, 1))
        return ReplicationResult(
            "s", "optimal", r, r, tuple(calls), units, wall_s=0.12345, events=2,
            solve_ms=(1.23456,),
        )  # fmt: skip

    doc = summarise([rep(0), rep(1), rep(2)])["policies"]["optimal"]
    assert list(doc["by_priority"]) == ["1", "2"]
    assert list(doc["late_by_hour_by_priority"]) == ["1", "2"]
    assert list(doc["late_by_hour_by_priority"]["1"]) == ["1", "3"]
    assert list(doc["utilisation_by_unit"]) == ["A9", "A10"]
    p1 = doc["by_priority"]["1"]
    assert (p1["n"], p1["n_per_replication"], p1["target_s"]) == (7, 2.33, 600.4)
    assert p1["mean_queued_s"] == round((10 * 3 + 20 + 25.5 * 3) / 7, 1) == 18.1
    assert doc["all"]["p90_response_s"] == 300.0
    assert doc["wall_s_per_replication"] == 0.123 and doc["median_solve_ms"] == 1.235


def test_p90_and_figures_keep_one_decimal() -> None:
    """Responses 100.04 .. 1000.04 in steps of 100: 90th centile 910.04 -> 910.0 (one decimal,
    not two)."""
    calls = [_record(k, 1, 0, 100.04 + 100 * k) for k in range(10)]
    run = ReplicationResult("s", "a", 0, 0, tuple(calls), (), wall_s=0.1, events=1)
    p1 = summarise([run])["policies"]["a"]["by_priority"]["1"]
    assert p1["p90_response_s"] == 910.0


def test_no_baseline_run_means_no_comparison_and_a_policy_without_calls_has_no_totals() -> None:
    run = ReplicationResult("s", "optimal", 0, 0, (), (), wall_s=0.1, events=0)
    doc = summarise([run, ReplicationResult("s", "other", 0, 0, (), (), 0.1, 0)])
    assert "vs_closest_idle" not in doc
    assert doc["policies"]["optimal"]["all"] == {}
    assert doc["policies"]["optimal"]["by_priority"] == {}


def test_utilisation_interval_stays_within_one() -> None:
    """Utilisation 0.9 and 1.0 in two replications: 0.95 -/+ 12.7062 x 0.05 is clipped to 1."""
    runs = [
        ReplicationResult(
            "s", "a", r, r, (), (UnitRecord("A1", "S", 100.0, busy, 1),), wall_s=0.1, events=1
        )
        for r, busy in ((0, 90.0), (1, 100.0))
    ]
    assert summarise(runs)["policies"]["a"]["ci95_utilisation"] == [0.3147, 1.0]


def test_units_frame_columns_and_utilisation_of_short_duty() -> None:
    """The CSV's columns by name; a unit on duty 1 s (half busy) is 50 % used; one never on
    duty but marked busy has no utilisation (not infinity)."""
    units = (
        UnitRecord("A1", "S1", on_duty_s=1.0, busy_s=0.5, dispatches=2),
        UnitRecord("A2", "S2", on_duty_s=0.0, busy_s=5.0, dispatches=0),
    )
    frame = units_frame([ReplicationResult("s", "a", 0, 0, (), units, wall_s=0.1, events=1)])
    assert list(frame.columns) == [
        "policy", "replication", "unit", "station", "on_duty_s", "busy_s", "dispatches",
        "utilisation",
    ]  # fmt: skip
    assert frame["station"].tolist() == ["S1", "S2"]
    assert frame["dispatches"].tolist() == [2, 0]
    assert frame["utilisation"].tolist()[0] == 0.5
    assert math.isnan(frame["utilisation"].tolist()[1])


def test_compliance_boundaries_codes_in_order_and_a_finite_centile_past_an_unmet_call() -> None:
    """ARP1 exactly at its mean (420 s) and 90th centile (900 s) is met; codes are listed in
    order however the calls arrive; with 12 FRAC calls, one unmet, the 90th centile (position
    9.9 of 0..11) lies between the reached 700 and 800 s: 790 s, not undefined."""
    frac = [[100, 200, 300, 400, 500, 600, 700, 100, 100, 100, 800, None]]
    frame = pd.concat(
        [_calls("FRAC", 480.0, frac), _calls("ARP1", 420.0, [[300.0] * 8 + [900.0, 900.0]])]
    )
    doc = compliance_by_code(frame, _codes())
    assert list(doc) == ["ARP1", "FRAC"]
    arp = doc["ARP1"]
    assert (arp["mean_response_s"], arp["p90_response_s"], arp["met"]) == (420.0, 900.0, True)
    assert doc["FRAC"]["p90_response_s"] == 790.0


def test_utilisation_by_hour_kinds_in_natural_order_and_a_one_second_duty() -> None:
    """Types X2 and X10 are listed X2 first; a unit without hourly figures listed first does not
    hide the others; one second on duty (half busy) still counts; three replications each half
    busy give a zero-width interval at 0.5."""

    def rep(r: int) -> ReplicationResult:
        units = (
            UnitRecord("U0", "S", 0, 0, 0, "X10", (), ()),
            UnitRecord("U1", "S", 0, 0, 0, "X10", _hours(h4=0.5), _hours(h4=1.0)),
            UnitRecord("U2", "S", 0, 0, 0, "X2", _hours(h4=1800), _hours(h4=3600)),
        )
        return _run(r, units=units)

    doc = utilisation_by_hour([rep(0), rep(1), rep(2)])
    assert list(doc) == ["X2", "X10"]
    assert doc["X10"]["4"]["utilisation"] == 0.5
    assert doc["X2"]["4"] == {"utilisation": 0.5, "ci95": [0.5, 0.5], "on_duty_h": 1.0}


def test_a_code_and_a_priority_with_one_call_report_their_own_target_to_one_decimal() -> None:
    """One call, 123.456 s against a target of 600.37 s: its own target (the first and only call
    gives it) and its centile and mean to one decimal, 600.4 and 123.5 s."""
    doc = compliance_by_code(_calls("Z", 600.37, [[123.456]]), _codes())
    z = doc["Z"]
    assert (z["standard"], z["n"], z["met"]) == ("per_call", 1, None)
    assert (z["target_s"], z["p90_response_s"], z["mean_response_s"]) == (600.4, 123.5, 123.5)
    run = ReplicationResult(
        "s", "a", 0, 0, (_record(0, 4, 0, 123.456, target_s=600.37),), (), wall_s=0.1, events=1
    )
    p4 = summarise([run])["policies"]["a"]["by_priority"]["4"]
    assert (p4["target_s"], p4["p90_response_s"], p4["mean_response_s"]) == (600.4, 123.5, 123.5)


def test_natural_key_orders_digits_before_letters_at_each_position() -> None:
    """Digit runs compare as numbers and come before text at the same position."""
    assert sorted(["A10", "A2", "10", "2A"], key=natural_key) == ["2A", "10", "A2", "A10"]


def test_a_policy_without_units_summarises_without_numpy_warnings() -> None:
    """No units: no utilisation (``nan``), and no mean of an empty list behind it."""
    run = ReplicationResult("s", "a", 0, 0, (_record(0, 1, 0, 100.0),), (), wall_s=0.1, events=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = summarise([run])["policies"]["a"]
    assert math.isnan(doc["utilisation"]) and doc["utilisation_by_unit"] == {}


def test_csv_frames_name_every_column_and_fill_it() -> None:
    """The per-incident, hospital and coverage CSVs: columns by name, in order, and one row of
    each with every value worked out from the records."""
    call = IncidentRecord(
        call=7, code="X", priority=2, target_s=600.0, t_call_s=100.0, hour=3, node=12,
        ready_s=130.0, dispatched_s=160.0, arrived_s=400.0, units=2, preempted=1, lat=40.5,
        lon=-76.5, sent="M1;M2",
    )  # fmt: skip
    run = ReplicationResult(
        "base", "optimal", 4, 9, (call,), (), wall_s=0.1, events=1,
        hospitals=(HospitalVisit("H1", "M1", 7, 500.0, 560.0, 1400.0, diverted=True),),
        coverage=(CoverageSnapshot(3600.0, 1, 0.75, 3),),
    )  # fmt: skip
    incidents = incidents_frame([run])
    assert incidents.iloc[0].to_dict() == {
        "scenario": "base", "policy": "optimal", "replication": 4, "call": 7, "code": "X",
        "priority": 2, "target_s": 600.0, "t_call_s": 100.0, "hour": 3, "node": 12, "lat": 40.5,
        "lon": -76.5, "ready_s": 130.0, "dispatched_s": 160.0, "arrived_s": 400.0,
        "response_s": 300.0, "queued_s": 30.0, "late": False, "unmet": False, "units": 2,
        "sent": "M1;M2", "preempted": 1,
    }  # fmt: skip
    assert len(incidents.columns) == 22
    hospitals = hospitals_frame([run])
    assert hospitals.iloc[0].to_dict() == {
        "policy": "optimal", "replication": 4, "hospital": "H1", "unit": "M1", "call": 7,
        "arrived_s": 500.0, "handover_start_s": 560.0, "left_s": 1400.0, "wait_s": 60.0,
        "turnaround_s": 900.0, "diverted": True,
    }  # fmt: skip
    assert len(hospitals.columns) == 11
    coverage = coverage_frame([run])
    assert coverage.iloc[0].to_dict() == {
        "policy": "optimal", "replication": 4, "t_s": 3600.0, "hour": 1, "fraction": 0.75,
        "free_units": 3,
    }  # fmt: skip
    assert len(coverage.columns) == 6


def test_hospital_figures_to_one_decimal_in_name_order_with_the_interval_clipped_at_zero() -> None:
    """H2: 100.04, 200.08 and 3000.12 s at hospital: mean 1100.08 -> 1100.1, median 200.1,
    90th centile 200.08 + 0.8 x 2800.04 = 2440.112 -> 2440.1; waits 10.04, 0.5 and 0 s: mean
    3.5133 -> 3.5, two of three waited (half a second is a wait). Per replication 150.06 and
    3000.12: mean 1575.09, s/sqrt(2) = 2850.06 / 2 = 1425.03, so 1575.09 -/+ 12.7062 x 1425.03,
    the lower bound clipped to 0 s. H10 comes first in the visits, yet after H2."""
    runs = [
        _run(
            0,
            hospitals=(
                HospitalVisit("H10", "M3", 5, 0.0, 0.0, 10.0),
                HospitalVisit("H2", "M1", 0, 0.0, 10.04, 100.04),
                HospitalVisit("H2", "M2", 1, 0.0, 0.5, 200.08, diverted=True),
            ),
        ),
        _run(1, hospitals=(HospitalVisit("H2", "M1", 0, 0.0, 0.0, 3000.12),)),
    ]
    doc = hospital_turnaround(hospitals_frame(runs))
    assert list(doc) == ["H2", "H10"]
    h2 = doc["H2"]
    lo, hi = h2.pop("ci95_mean_turnaround_s")
    assert lo == 0.0 and hi == pytest.approx(1575.09 + 12.706205 * 1425.03, abs=0.06)
    assert h2 == {
        "visits": 3, "mean_turnaround_s": 1100.1, "p50_turnaround_s": 200.1,
        "p90_turnaround_s": 2440.1, "mean_wait_s": 3.5, "fraction_waited": 0.6667,
        "diverted_here": 1,
    }  # fmt: skip


def test_coverage_hours_in_order_interval_within_zero_and_one_and_free_units_to_two_digits() -> (
    None
):
    """Hour 5 (listed first): 0.1 in replication 0, 0.9 twice in replication 1 -> mean 0.6333,
    per replication 0.1 and 0.9: 0.5 -/+ 12.7062 x 0.4, clipped to [0, 1]; free units 1, 2, 2
    -> 1.67. Hour 2: 0.5 in both, free units 1 and 2 -> 1.5."""
    runs = [
        _run(0, coverage=(CoverageSnapshot(18000, 5, 0.1, 1), CoverageSnapshot(7200, 2, 0.5, 1))),
        _run(
            1,
            coverage=(
                CoverageSnapshot(18000, 5, 0.9, 2),
                CoverageSnapshot(7200, 2, 0.5, 2),
                CoverageSnapshot(104400, 5, 0.9, 2),
            ),
        ),
    ]
    doc = coverage_by_hour(coverage_frame(runs))
    assert doc == {
        "2": {"fraction_covered": 0.5, "ci95_fraction_covered": [0.5, 0.5], "free_units": 1.5},
        "5": {"fraction_covered": 0.6333, "ci95_fraction_covered": [0.0, 1.0], "free_units": 1.67},
    }
    assert list(doc) == ["2", "5"]


def test_utilisation_by_hour_with_half_a_second_on_duty_and_a_replication_off_duty() -> None:
    """ALS hour 0: 0.25 of 0.5 s and 900 of 3600 s: pooled 900.25 / 3600.5 = 0.25, per
    replication 0.5 and 0.25 (0.375 -/+ 12.7062 x 0.125, clipped to [0, 1]); 0.50007 h on duty
    per replication -> 0.5. Hour 1: replication 1 off duty is left out of the interval (no
    0/0); 1000 s / 2 replications = 0.139 h. Hour 2: half a second in all still counts."""
    rep0 = UnitRecord(
        "U1",
        "S",
        0,
        0,
        0,
        "ALS",
        _hours(h0=0.25, h1=250.0, h2=0.5),
        _hours(h0=0.5, h1=1000.0, h2=0.5),
    )
    rep1 = UnitRecord("U1", "S", 0, 0, 0, "ALS", _hours(h0=900.0), _hours(h0=3600.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = utilisation_by_hour([_run(0, units=(rep0,)), _run(1, units=(rep1,))])
    h1 = doc["ALS"]["1"]
    assert all(math.isnan(v) for v in h1.pop("ci95"))
    h2 = doc["ALS"]["2"]
    assert all(math.isnan(v) for v in h2.pop("ci95"))
    assert doc == {
        "ALS": {
            "0": {"utilisation": 0.25, "ci95": [0.0, 1.0], "on_duty_h": 0.5},
            "1": {"utilisation": 0.25, "on_duty_h": 0.139},
            "2": {"utilisation": 1.0, "on_duty_h": 0.0},
        }
    }


def test_paired_difference_pairs_only_common_replications_of_common_priorities() -> None:
    """Priority 1 has no alternative and is skipped (priority 2 is still reported); only
    replications 5 and 6 are on both sides (7 is the baseline's alone): late 1, 0 -> 0, 0
    (differences -1, 0: -0.5 -/+ 12.7062 x 0.5), responses 700, 300 -> 500, 200 (differences
    -200, -100: -150 -/+ 12.7062 x 50); the late ratio changes by -100 % in both replications,
    a zero-width interval."""
    rows = [
        ("a", 1, 5, False, 100.0), ("a", 2, 5, True, 700.0), ("a", 2, 6, False, 300.0),
        ("a", 2, 7, True, 900.0), ("b", 2, 5, False, 500.0), ("b", 2, 6, False, 200.0),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["policy", "priority", "replication", "late", "response_s"])
    assert paired_difference(frame, baseline="a", other="b") == {
        "2": {
            "fraction_late_base": 0.5, "fraction_late_alt": 0.0, "diff_fraction_late": -0.5,
            "ci95_diff_fraction_late": [-6.8531, 5.8531], "relative_change_late": -1.0,
            "ci95_relative_change_late": [-1.0, -1.0], "mean_response_s_base": 500.0,
            "mean_response_s_alt": 350.0, "diff_mean_response_s": -150.0,
            "ci95_diff_mean_response_s": [-785.3, 485.3], "replications": 2,
        }
    }  # fmt: skip


def test_two_replications_have_intervals_but_wide_ones_and_warnings_in_order() -> None:
    rows = [{"policy": "b", "priority": 1}] * 30 + [{"policy": "a", "priority": 2}] * 3
    rows += [{"policy": "a", "priority": 1}] * 2
    assert summary_warnings(pd.DataFrame(rows), replications=2) == [
        "only 2 replications: confidence intervals are wide",
        "a, priority 1: only 2 calls; fractions and centiles are rough",
        "a, priority 2: only 3 calls; fractions and centiles are rough",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert all(math.isnan(v) for v in relative_interval([], []))

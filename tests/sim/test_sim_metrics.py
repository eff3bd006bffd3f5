"""Metrics: t-intervals, pooled figures and paired differences on hand-made records."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.centre.codes import CodeTable
from planner.sim.metrics import (
    IncidentRecord,
    ReplicationResult,
    UnitRecord,
    compliance_by_code,
    incidents_frame,
    natural_key,
    paired_difference,
    relative_interval,
    summarise,
    t_interval,
)


def _result(policy: str, rep: int, responses: list[float | None]) -> ReplicationResult:
    incidents = tuple(
        IncidentRecord(
            call=k,
            code="X",
            priority=1,
            target_s=600.0,
            t_call_s=100.0 * k,
            hour=0,
            node=0,
            ready_s=100.0 * k + 60.0,
            dispatched_s=100.0 * k + 60.0,
            arrived_s=math.nan if r is None else 100.0 * k + r,
        )
        for k, r in enumerate(responses)
    )
    units = (UnitRecord("U1", "S1", on_duty_s=1000.0, busy_s=250.0, dispatches=1),)
    return ReplicationResult("s", policy, rep, 1, incidents, units, wall_s=0.1, events=3)


def test_summary_by_hand() -> None:
    runs = [
        _result("closest_idle", 0, [300.0, 700.0, None]),
        _result("closest_idle", 1, [500.0, 500.0, 500.0]),
        _result("optimal", 0, [300.0, 500.0, None]),
        _result("optimal", 1, [400.0, 500.0, 500.0]),
    ]
    doc = summarise(runs)
    p1 = doc["policies"]["closest_idle"]["by_priority"]["1"]
    assert p1["n"] == 6
    assert p1["unmet"] == 1
    assert p1["mean_response_s"] == pytest.approx((300 + 700 + 500 * 3) / 5)
    assert p1["fraction_late"] == pytest.approx(2 / 6, abs=1e-4)  # 700 s and the unmet call
    assert doc["policies"]["closest_idle"]["utilisation"] == pytest.approx(0.25)
    diff = doc["vs_closest_idle"]["optimal"]["1"]
    assert diff["diff_fraction_late"] == pytest.approx(-1 / 6, abs=1e-4)
    assert diff["replications"] == 2


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=30))
def test_t_interval_contains_the_mean(values: list[float]) -> None:
    lo, hi = t_interval(values)
    mean = sum(values) / len(values)
    assert lo - 1e-9 <= mean <= hi + 1e-9


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(1, 2000)), min_size=1, max_size=12))
def test_a_policy_against_itself_differs_by_nothing(responses: list[float | None]) -> None:
    frame = incidents_frame([_result("a", 0, responses), _result("a", 1, responses[::-1])])
    diff = paired_difference(frame, baseline="a", other="a")
    assert diff["1"]["diff_fraction_late"] == 0.0
    assert diff["1"]["ci95_diff_fraction_late"] == [0.0, 0.0]


# -- compliance, relative-change intervals, warnings ------------------------------------------


def _code_table() -> CodeTable:
    return CodeTable.from_data(
        {
            "version": 1,
            "capabilities": {"ALS": "ambulance"},
            "codes": {
                "ARP1": {
                    "label": "cat 1",
                    "service": "ambulance",
                    "default_priority": 1,
                    "target_s": 420,
                    "target_p90_s": 900,
                    "levels": [{"ALS": 1}],
                    "advice": ["wait"],
                },
                "FRAC": {
                    "label": "75 % in 8 min",
                    "service": "ambulance",
                    "default_priority": 2,
                    "target_s": 480,
                    "target_fraction": 0.75,
                    "levels": [{"ALS": 1}],
                    "advice": ["wait"],
                },
            },
        }
    )


def _frame(code: str, target: float, responses: list[list[float]]) -> pd.DataFrame:
    rows = [
        {"code": code, "target_s": target, "replication": r, "response_s": x, "unmet": False}
        for r, values in enumerate(responses)
        for x in values
    ]
    return pd.DataFrame(rows)


def test_mean_and_p90_standard_is_met_although_many_calls_are_over_the_mean() -> None:
    """ARP Cat 1: mean 7 min and p90 15 min. 40 % of these calls exceed 420 s, yet the
    standard is met: mean 400 s, 90th centile (numpy linear) 600 s."""
    responses = [[200.0, 300.0, 300.0, 600.0, 600.0], [200.0, 300.0, 300.0, 600.0, 600.0]]
    doc = compliance_by_code(_frame("ARP1", 420.0, responses), _code_table())["ARP1"]
    assert doc["standard"] == "mean_and_p90"
    assert doc["mean_response_s"] == 400.0
    assert doc["p90_response_s"] == 600.0
    assert doc["fraction_within_target"] == 0.6
    assert doc["met"] is True


def test_fraction_standard_counts_calls_within_target() -> None:
    responses = [[100.0, 200.0, 500.0, 600.0], [100.0, 200.0, 300.0, 400.0]]
    doc = compliance_by_code(_frame("FRAC", 480.0, responses), _code_table())["FRAC"]
    assert doc["standard"] == "fraction_within"
    assert doc["fraction_within_target"] == 0.75
    assert doc["met"] is True
    lo, hi = doc["ci95_fraction_within_target"]
    assert lo < 0.75 < hi


@given(
    st.lists(st.floats(0.05, 0.9), min_size=2, max_size=8),
    st.floats(0.2, 3.0),
)
@settings(max_examples=30, deadline=None)
def test_relative_interval_is_exact_when_every_replication_changes_by_the_same_ratio(
    base: list[float], k: float
) -> None:
    lo, hi = relative_interval([k * b for b in base], base)
    assert lo == pytest.approx(k - 1, abs=2e-4)
    assert hi == pytest.approx(k - 1, abs=2e-4)


def test_one_replication_has_no_interval_and_a_warning() -> None:
    doc = summarise([_result("closest_idle", 0, [300.0, 700.0])])
    p1 = doc["policies"]["closest_idle"]["by_priority"]["1"]
    assert all(math.isnan(v) for v in p1["ci95_fraction_late"])
    assert all(math.isnan(v) for v in p1["ci95_mean_response_s"])
    assert any("1 replication" in w for w in doc["warnings"])


def test_units_sort_in_natural_order() -> None:
    assert sorted(["A10", "A2", "A1", "B1"], key=natural_key) == ["A1", "A2", "A10", "B1"]

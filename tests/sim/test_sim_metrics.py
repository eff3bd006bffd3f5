"""Metrics: t-intervals, pooled figures and paired differences on hand-made records."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.sim.metrics import (
    IncidentRecord,
    ReplicationResult,
    UnitRecord,
    incidents_frame,
    paired_difference,
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

"""Simulation statistics against numbers worked out by hand (and a t-table)."""

from __future__ import annotations

import math

import pytest

from planner.sim.metrics import t_interval


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

"""Demand models: the committed Montgomery profile, Poisson arrivals, spatial and mix draws."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.settings import get_settings
from planner.sim.demand import (
    MONTGOMERY_CALLS,
    CallMixEntry,
    Surge,
    arrival_times,
    draw_mix,
    draw_points,
    fit_montgomery_profiles,
    flat_profile,
    load_profile,
    read_call_log,
    replay_calls,
)

MONDAY = datetime(2026, 1, 5)


def test_committed_profile_equals_a_refit_of_the_real_calls() -> None:
    refit = fit_montgomery_profiles(get_settings().data_dir / MONTGOMERY_CALLS)
    for service, profile in refit.items():
        committed = load_profile(service)
        assert committed.multiplier.shape == (7, 24)
        np.testing.assert_allclose(committed.multiplier, profile.multiplier, atol=1e-4)
        assert committed.mean_rate_per_h == pytest.approx(profile.mean_rate_per_h, abs=1e-3)
        assert committed.multiplier.mean() == pytest.approx(1.0, rel=0.02)


def test_real_profile_has_a_daily_rhythm() -> None:
    ems = load_profile("EMS")
    night = ems.multiplier[:, 3:5].mean()
    day = ems.multiplier[:, 10:13].mean()
    assert day > 2 * night


def test_unknown_profile_names_the_field() -> None:
    with pytest.raises(InputError, match=r"demand\.profile"):
        load_profile("Police")


def test_poisson_count_matches_rate_and_profile() -> None:
    rng = np.random.default_rng(1)
    ems = load_profile("EMS")
    week = 7 * 24 * 3600.0
    counts = [
        len(arrival_times(rng, start=MONDAY, duration_s=week, rate_per_h=10.0, profile=ems))
        for _ in range(20)
    ]
    expected = 10.0 * ems.multiplier.sum()
    assert np.mean(counts) == pytest.approx(expected, rel=0.02)


def test_arrivals_follow_the_hourly_profile() -> None:
    rng = np.random.default_rng(2)
    ems = load_profile("EMS")
    t = np.concatenate(
        [
            arrival_times(rng, start=MONDAY, duration_s=86400.0, rate_per_h=50.0, profile=ems)
            for _ in range(40)
        ]
    )
    per_hour = np.bincount((t // 3600).astype(int), minlength=24) / 40
    np.testing.assert_allclose(per_hour, 50.0 * ems.multiplier[0], rtol=0.25)


def test_surge_multiplies_the_rate_in_its_window() -> None:
    rng = np.random.default_rng(3)
    surge = Surge(start_s=3600.0, end_s=7200.0, factor=3.0)
    t = np.concatenate(
        [
            arrival_times(
                rng,
                start=MONDAY,
                duration_s=3 * 3600.0,
                rate_per_h=20.0,
                profile=flat_profile(),
                surges=[surge],
            )
            for _ in range(50)
        ]
    )
    per_hour = np.bincount((t // 3600).astype(int), minlength=3) / 50
    assert per_hour[1] == pytest.approx(60.0, rel=0.1)
    assert per_hour[0] == pytest.approx(20.0, rel=0.15)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    minute=st.integers(0, 59),
    duration=st.floats(1.0, 20000.0),
)
def test_arrivals_are_sorted_and_inside_the_horizon(
    seed: int, minute: int, duration: float
) -> None:
    t = arrival_times(
        np.random.default_rng(seed),
        start=MONDAY.replace(minute=minute),
        duration_s=duration,
        rate_per_h=30.0,
        profile=load_profile("all"),
    )
    assert np.all(np.diff(t) >= 0)
    assert np.all((t >= 0) & (t < duration))


def test_points_follow_weights_and_mix_follows_shares() -> None:
    rng = np.random.default_rng(4)
    idx = draw_points(rng, np.array([0.0, 1.0, 3.0]), 4000)
    assert not np.any(idx == 0)
    assert np.mean(idx == 2) == pytest.approx(0.75, abs=0.03)
    mix = [CallMixEntry("A", 1, 0.42), CallMixEntry("B", 3, 0.58)]
    k = draw_mix(rng, mix, 4000)
    assert np.mean(k == 0) == pytest.approx(0.42, abs=0.03)


def test_zero_weights_are_refused() -> None:
    with pytest.raises(InputError, match=r"demand\.spatial"):
        draw_points(np.random.default_rng(0), np.zeros(3), 5)


def test_replay_takes_a_window_of_the_real_log() -> None:
    calls = read_call_log(get_settings().data_dir / MONTGOMERY_CALLS)
    day = replay_calls(calls, duration_s=86400.0, log_from=datetime(2016, 1, 4))
    assert 150 < len(day) < 600
    assert day["t_s"].between(0, 86400).all()
    assert set(day["service"]) <= {"EMS", "Fire", "Traffic"}
    with pytest.raises(InputError, match="replay_from"):
        replay_calls(calls, duration_s=3600.0, log_from=datetime(2030, 1, 1))

"""Trends across shifts, days and weeks, with few-calls markers and small-multiple plots."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.review.cad_import import import_cad, load_mapping
from planner.review.performance import load_records
from planner.review.trends import build_trends, period_of, plot_trends, trends_markdown

HEADER = "call_no,nature,unit,received,answered,entered,dispatched,enroute,onscene,ct,disp\n"
MAPPING = """\
time_zone: Europe/Amsterdam
location: {lat: 52.09, lon: 5.12}
columns: {incident: call_no, type: nature, units: unit, received: received, answered: answered,
          opened: entered, dispatched: dispatched, en_route: enroute, arrived: onscene,
          calltaker: ct, dispatcher: disp}
"""


def _row(
    n: int, at: datetime, answer: int, handling: int, dispatch: int, ct: str, disp: str
) -> str:
    received = at
    answered = received + timedelta(seconds=answer)
    opened = answered + timedelta(seconds=handling)
    sent = opened + timedelta(seconds=dispatch)
    enroute = sent + timedelta(seconds=60)
    onscene = enroute + timedelta(seconds=480)
    times = [
        t.strftime("%Y-%m-%d %H:%M:%S")
        for t in (received, answered, opened, sent, enroute, onscene)
    ]
    return f"C-{n},Fall,A{n % 4},{','.join(times)},{ct},{disp}\n"


def synthetic_cad(path: Path, *, weeks: int = 4, seed: int = 7) -> Path:
    """A synthetic centre: three call-takers, two dispatchers; dee's dispatch times fall after
    week 2 (as if coached), ben takes few calls. Used by the README's trend plot."""
    rng = random.Random(seed)
    rows = [HEADER]
    n = 0
    start = datetime(2026, 3, 2, 7, 0)
    for day in range(weeks * 7):
        for _ in range(rng.randint(3, 6)):
            n += 1
            at = start + timedelta(days=day, minutes=rng.randint(0, 16 * 60))
            ct = "ben" if rng.random() < 0.08 else rng.choice(["ann", "cho"])
            disp = rng.choice(["dee", "eve"])
            slow = 2.0 if disp == "dee" and day < 14 else 1.0
            rows.append(
                _row(n, at, rng.randint(5, 25), rng.randint(50, 110),
                     int(rng.randint(20, 60) * slow), ct, disp)
            )  # fmt: skip
    path.write_text("".join(rows))
    return path


@pytest.fixture
def two_weeks(tmp_path: Path) -> str:
    """Hand-worked: week 10 (2026-03-02..08) and week 11, times in Amsterdam (UTC+1)."""
    rows = [
        HEADER,
        _row(1, datetime(2026, 3, 2, 8, 0), 10, 60, 30, "ann", "dee"),
        _row(2, datetime(2026, 3, 3, 20, 0), 20, 80, 90, "ann", "dee"),
        _row(3, datetime(2026, 3, 4, 8, 0), 30, 100, 60, "ann", "dee"),
        _row(4, datetime(2026, 3, 10, 8, 0), 12, 40, 20, "ann", "dee"),
    ]
    (tmp_path / "cad.csv").write_text("".join(rows))
    (tmp_path / "map.yaml").write_text(MAPPING)
    url = f"sqlite:///{tmp_path / 'weeks.sqlite'}"
    import_cad(tmp_path / "cad.csv", url, load_mapping(tmp_path / "map.yaml"))
    return url


def test_weekly_trend_per_person_and_team(two_weeks: str) -> None:
    trends = build_trends(
        load_records(two_weeks), by="week", tz="Europe/Amsterdam", roster={"ann": "red"},
        min_calls=3,
    )  # fmt: skip
    assert trends["periods"] == ["2026-W10", "2026-W11"]
    ann = trends["people"]["ann"]
    assert [p["value"] for p in ann["call_handling"]] == [80.0, 40.0]  # medians of 60/80/100, 40
    assert [p["few_calls"] for p in ann["call_handling"]] == [False, True]
    assert [p["value"] for p in trends["people"]["dee"]["dispatch"]] == [60.0, 20.0]
    assert "dispatch" not in ann and "call_handling" not in trends["people"]["dee"]
    assert trends["teams"]["red"]["answer"][0] == {
        "period": "2026-W10", "n": 3, "value": 20.0, "few_calls": False,
    }  # fmt: skip
    text = trends_markdown(trends)
    assert "| ann (person) | 80 s (3) | 40 s (1*) |" in text


def test_shifts_follow_the_centre_clock(two_weeks: str) -> None:
    trends = build_trends(load_records(two_weeks), by="shift", tz="Europe/Amsterdam")
    # 08:00 local is the day shift (07:00); 20:00 local the night shift (19:00).
    assert trends["periods"] == [
        "2026-03-02 07:00", "2026-03-03 19:00", "2026-03-04 07:00", "2026-03-10 07:00",
    ]  # fmt: skip
    label = period_of("shift", "Europe/Amsterdam", shift_start=7, shift_hours=12)
    # 05:30 UTC on 4 March is 06:30 in Amsterdam: still the night shift of the 3rd.
    assert label(datetime(2026, 3, 4, 5, 30, tzinfo=UTC)) == "2026-03-03 19:00"
    with pytest.raises(InputError) as info:
        period_of("shift", "UTC", shift_hours=7)
    assert info.value.field == "shift_hours"


def test_small_multiples_are_written(tmp_path: Path) -> None:
    cad = synthetic_cad(tmp_path / "cad.csv", weeks=3)
    (tmp_path / "map.yaml").write_text(MAPPING)
    url = f"sqlite:///{tmp_path / 'synthetic.sqlite'}"
    import_cad(cad, url, load_mapping(tmp_path / "map.yaml"))
    trends = build_trends(load_records(url), by="week", tz="Europe/Amsterdam")
    assert trends["periods"] == ["2026-W10", "2026-W11", "2026-W12"]
    dee = [p["value"] for p in trends["people"]["dee"]["dispatch"]]
    assert dee[0] > 1.5 * dee[2]  # twice as slow in the first two weeks
    png = plot_trends(trends, tmp_path / "trends.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

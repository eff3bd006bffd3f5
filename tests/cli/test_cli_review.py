"""``planner review`` options and ``planner coaching record``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.settings import SCENARIOS_DIR, get_settings

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def shift_db(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'shift.sqlite'}"
    code, out = _run("events", "apply", "--db", db, str(SCENARIOS_DIR / "sample-shift.jsonl"))
    assert code == 0, out
    return db


def test_review_reads_and_shows_times_in_the_centre_time_zone(shift_db: str) -> None:
    code, out = _run("review", "--db", shift_db, "--json", "--tz", "America/Chicago")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["period"]["first_event"] == "2026-03-14T06:55:00-05:00"
    # A bare date is a day of the centre's calendar: 2026-03-14 in Chicago.
    code, out = _run(
        "review", "--db", shift_db, "--json", "--tz", "America/Chicago",
        "--from", "2026-03-14T07:30", "--to", "2026-03-14",
    )  # fmt: skip
    assert code == 0, out
    assert set(json.loads(out)["incidents"]) == {"I-0704", "I-0705"}


def test_review_flags_name_the_field(shift_db: str) -> None:
    code, out = _run("review", "--db", shift_db, "--tz", "Nowhere/Land")
    assert code == 2 and "tz: unknown time zone" in out
    code, out = _run("review", "--db", shift_db, "--few-calls", "0")
    assert code == 2 and "--few-calls: must be at least 1" in out
    code, out = _run("review", "--db", shift_db, "--reversal-window", "-1")
    assert code == 2 and "--reversal-window" in out


def test_coaching_record_lands_in_the_review(shift_db: str) -> None:
    code, out = _run(
        "coaching", "record", "--db", shift_db, "--coach", "morgan", "--with", "bob",
        "--topic", "answering texts", "--figure", "call_handling", "--incident", "I-0702",
        "--follow-up", "2026-03-28",
    )  # fmt: skip
    assert code == 0, out
    assert out.startswith("coaching_recorded: seq ")
    code, out = _run("review", "--db", shift_db, "--json")
    (session,) = json.loads(out)["coaching_sessions"]
    # Recorded now, after the shift: bob's call handling 60, 60, 30, 60 s before, none since.
    assert session["before"]["value"] == 60.0 and session["before"]["n"] == 4
    assert session["moved"] == "no calls since"


def test_coaching_record_refuses_bad_input_and_writes_nothing(shift_db: str) -> None:
    base = ["coaching", "record", "--db", shift_db, "--coach", "morgan", "--with", "bob"]
    code, out = _run(*base, "--topic", "x", "--figure", "speed")
    assert code == 2 and "figure" in out
    code, out = _run(*base, "--topic", "x", "--follow-up", "next week")
    assert code == 2 and "--follow-up" in out
    code, out = _run("review", "--db", shift_db, "--json")
    assert json.loads(out)["coaching_sessions"] == []


def test_review_import_then_review(tmp_path: Path) -> None:
    seattle = get_settings().data_dir / "regions" / "seattle" / "dispatch_log_2017-06.tsv.gz"
    lines = gzip.decompress(seattle.read_bytes()).splitlines()
    sample = tmp_path / "seattle.tsv"
    sample.write_bytes(b"\n".join(lines[:51]) + b"\n")
    db = f"sqlite:///{tmp_path / 'seattle.sqlite'}"
    code, out = _run("review-import", str(sample), "--db", db)
    assert code == 0, out
    assert out.startswith("imported 50 rows, ") and "(source times: dispatched)" in out
    code, out = _run("review", "--db", db, "--tz", "America/Los_Angeles", "--timelines", "1")
    assert code == 0, out
    assert "Imported, review-only log" in out and "## Units (crews)" in out
    code, out = _run("review-import", str(sample), "--db", db)
    assert code == 2 and "--db: import into a new, empty log" in out
    code, out = _run("review-import", str(tmp_path / "none.csv"), "--db", db + "x")
    assert code == 2 and "source: cannot read" in out


def test_review_trends_writes_markdown_json_and_plot(shift_db: str, tmp_path: Path) -> None:
    out = tmp_path / "trends"
    code, text = _run(
        "review-trends", "--db", shift_db, "--by", "shift", "--tz", "America/New_York",
        "-o", str(out),
    )  # fmt: skip
    assert code == 0, text
    doc = json.loads((out / "trends.json").read_text())
    # The sample shift runs 08:02–09:55 EDT (its file says -05:00): one day shift.
    assert doc["periods"] == ["2026-03-14 07:00"]
    assert doc["people"]["alice"]["dispatch"][0]["value"] == 30.0
    assert (out / "trends.png").read_bytes()[:4] == b"\x89PNG"
    assert "| alice (person) | 30 s (5) |" in (out / "trends.md").read_text()
    code, text = _run("review-trends", "--db", shift_db, "--by", "month", "-o", str(out))
    assert code == 2 and "--by: one of shift, day, week" in text

"""``planner simulate``, ``compare`` and ``review``: outputs, the summary.json contract, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from planner.cli import app
from planner.settings import SCENARIOS_DIR

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"
runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _exit_2(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message
    return message


def test_simulate_writes_the_report_and_the_summary_contract(tmp_path: Path) -> None:
    out = tmp_path / "run"
    text = _ok(
        *("simulate", str(FIXTURES / "tiny.yaml"), "--policies", "closest_idle,optimal"),
        *("-n", "2", "--hours", "2", "--workers", "1", "-q", "-o", str(out)),
    )
    assert "closest_idle: p1" in text
    summary = json.loads((out / "summary.json").read_text())
    for policy in ("closest_idle", "optimal"):
        stats = summary["policies"][policy]["by_priority"]["1"]
        assert isinstance(stats["n"], int) and stats["n"] > 0
        assert isinstance(stats["mean_response_s"], float)
        assert isinstance(stats["p90_response_s"], float)
        assert 0.0 <= stats["fraction_late"] <= 1.0
        lo, hi = stats["ci95_fraction_late"]
        assert 0.0 <= lo <= stats["fraction_late"] + 1e-9 and hi <= 1.0
    assert "optimal" in summary["vs_closest_idle"]
    incidents = pd.read_csv(out / "incidents.csv")
    assert set(incidents["policy"]) == {"closest_idle", "optimal"}
    assert {"response_s", "late", "unmet", "queued_s"} <= set(incidents.columns)
    for name in ("report.md", "response_times.png", "late_by_hour.png", "utilisation.png"):
        assert (out / name).stat().st_size > 0
    assert "Against closest-idle" in (out / "report.md").read_text()


def test_compare_reports_paired_differences(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    text = _ok(
        *("compare", str(FIXTURES / "tiny.yaml"), str(FIXTURES / "tiny-whatif.yaml")),
        *("--policies", "optimal", "-n", "2", "--hours", "2", "--workers", "1", "-q"),
        *("-o", str(out)),
    )
    assert "optimal p1: late" in text
    doc = json.loads((out / "comparison.json").read_text())
    diff = doc["difference"]["optimal"]["1"]
    assert diff["replications"] == 2
    assert len(diff["ci95_diff_fraction_late"]) == 2
    assert "What-if" in (out / "comparison.md").read_text()


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    assert "unknown policy" in _exit_2(
        "simulate", str(FIXTURES / "tiny.yaml"), "--policies", "fastest", "--workers", "1",
        "-q", "--hours", "1", "-n", "1", "-o", str(tmp_path / "x"),
    )  # fmt: skip
    assert "demand.colour" in _exit_2("simulate", str(FIXTURES / "broken-unknown-key.yaml"))
    assert "not found" in _exit_2("simulate", str(tmp_path / "missing.yaml"))
    assert "--replications" in _exit_2(
        "simulate", str(FIXTURES / "tiny.yaml"), "-n", "0", "-q", "-o", str(tmp_path / "y")
    )
    assert "--from" in _exit_2("review", "--db", "sqlite:///x.sqlite", "--from", "yesterday")
    for command in (["simulate"], ["compare", str(FIXTURES / "tiny-whatif.yaml")]):
        message = _exit_2(
            command[0], str(FIXTURES / "tiny.yaml"), *command[1:], "--workers", "0", "-q",
            "-n", "1", "--hours", "1", "-o", str(tmp_path / "z"),
        )  # fmt: skip
        assert message.startswith("error: --workers: must be at least 1")
    assert not (tmp_path / "z").exists()


def test_review_prints_markdown_and_json(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shift.sqlite'}"
    _ok("events", "apply", "--db", db, str(SCENARIOS_DIR / "sample-shift.jsonl"))
    text = _ok("review", "--db", db, "--from", "2026-03-14", "--to", "2026-03-14")
    assert "| alice |" in text and "## After-action timelines" in text
    doc = json.loads(_ok("review", "--db", db, "--json"))
    assert doc["dispatchers"]["alice"]["overridden"] == 1


def test_simulate_policy_strings_with_relocation(tmp_path: Path) -> None:
    """The ``DISPATCH[+RELOCATION]`` contract: summary.json is keyed by the strings and
    incidents.csv keeps ``units``; a misspelt relocation names the field."""
    policies = "closest_idle,coverage,coverage+dmexclp,closest_idle+dmexclp"
    out = tmp_path / "run"
    _ok(
        *("simulate", str(FIXTURES / "tiny.yaml"), "--policies", policies),
        *("-n", "1", "--hours", "2", "--workers", "1", "-q", "-o", str(out)),
    )
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["policies"]) == set(policies.split(","))
    incidents = pd.read_csv(out / "incidents.csv")
    assert set(incidents["policy"]) == set(policies.split(","))
    assert (incidents["units"] - incidents["preempted"] <= 1).all()
    message = _exit_2(
        *("simulate", str(FIXTURES / "tiny.yaml"), "--policies", "coverage+nearest"),
        *("-n", "1", "--hours", "1", "--workers", "1", "-q", "-o", str(tmp_path / "bad")),
    )
    assert "policy" in message and "nearest" in message

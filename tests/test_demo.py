"""`make demo` keeps working: the shift, the review and the what-if reports are written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner import demo


@pytest.mark.slow
def test_demo_writes_the_shift_log_review_and_what_if_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLANNER_DEMO_OUT", str(tmp_path))
    monkeypatch.setenv("PLANNER_DEMO_HOURS", "2")
    demo.main()
    printed = capsys.readouterr().out
    assert "recommend" in printed and "hash chain verified" in printed
    assert "# Performance review" in (tmp_path / "shift-review.md").read_text()
    summary = json.loads((tmp_path / "harrisburg-demo" / "summary.json").read_text())
    assert set(summary["policies"]) == {"closest_idle", "optimal", "coverage"}
    assert (tmp_path / "harrisburg-demo" / "response_times.png").stat().st_size > 0
    comparison = (tmp_path / "what-if" / "comparison.md").read_text()
    assert comparison.startswith("# What-if: harrisburg-close-station against harrisburg-demo")

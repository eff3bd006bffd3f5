"""The policy-string contract on every shipped scenario: ``planner simulate --policies
closest_idle,coverage,coverage+dmexclp`` runs, and summary.json / incidents.csv are keyed by
the strings (a short horizon, one replication)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.settings import SCENARIOS_DIR

POLICIES = "closest_idle,coverage,coverage+dmexclp"


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(p.name for p in SCENARIOS_DIR.glob("*.yaml")))
def test_every_shipped_scenario_runs_the_contract_policies(tmp_path: Path, scenario: str) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            *("simulate", str(SCENARIOS_DIR / scenario), "--policies", POLICIES),
            *("-n", "1", "--hours", "2", "--workers", "1", "-q", "-o", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["policies"]) == POLICIES.split(",")
    assert set(summary["vs_closest_idle"]) == {"coverage", "coverage+dmexclp"}
    incidents = pd.read_csv(out / "incidents.csv")
    assert set(incidents["policy"]) <= set(POLICIES.split(","))
    assert "units" in incidents.columns

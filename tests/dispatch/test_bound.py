"""``planner bound``: the perfect-hindsight model equals brute force on tiny days."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.dispatch.bound import BoundProblem, brute_force, solve_bound

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"


def _day(seed: int, n_units: int, n_calls: int) -> BoundProblem:
    rng = np.random.default_rng(seed)
    return BoundProblem(
        priority=rng.integers(1, 4, n_calls).tolist(),
        ready_s=np.sort(rng.uniform(0, 3600, n_calls)),
        on_time=rng.random((n_units, n_calls)) < 0.7,
        busy_s=rng.uniform(300, 2400, (n_units, n_calls)),
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_units=st.integers(1, 3), n_calls=st.integers(1, 6))
def test_bound_equals_brute_force(seed: int, n_units: int, n_calls: int) -> None:
    problem = _day(seed, n_units, n_calls)
    exact = solve_bound(problem)
    assert exact.status == "optimal"
    assert exact.late_by_priority == brute_force(problem).late_by_priority
    for i, u in enumerate(exact.served):
        assert u < 0 or problem.on_time[u, i]


def test_bound_by_hand() -> None:
    """One unit, three P1 calls at 0, 600 and 1200 s, each keeping it busy 900 s: it can reach
    the first and third (or only the second): one late at best."""
    problem = BoundProblem(
        priority=[1, 1, 1],
        ready_s=np.array([0.0, 600.0, 1200.0]),
        on_time=np.ones((1, 3), dtype=bool),
        busy_s=np.full((1, 3), 900.0),
    )
    result = solve_bound(problem)
    assert result.served == (0, -1, 0)
    assert result.late_by_priority == {1: 1}


def test_planner_bound_cli() -> None:
    result = CliRunner().invoke(
        app, ["bound", str(FIXTURES / "tiny.yaml"), "--hours", "2", "-r", "1"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "optimal"
    p1 = doc["by_priority"]["1"]
    assert 0 <= p1["late"] <= p1["calls"] == doc["calls"]
    bad = CliRunner().invoke(app, ["bound", str(FIXTURES / "tiny.yaml"), "--hours", "0"])
    assert bad.exit_code == 2
    assert "--hours" in bad.stderr


@pytest.mark.parametrize("n", [0])
def test_bound_of_an_empty_day(n: int) -> None:
    problem = BoundProblem([], np.zeros(0), np.zeros((2, n), dtype=bool), np.zeros((2, n)))
    assert solve_bound(problem).served == ()


def test_one_priority_1_call_outranks_any_number_of_lower_ones() -> None:
    """One unit; a P1 call at 0 s keeps it busy for an hour, two P3 calls at 100 s and 200 s
    take 50 s each. Reaching both P3 calls counts for less than the one P1 call (the online
    solver fills slots by priority first), so the bound has no P1 late and both P3 late."""
    problem = BoundProblem(
        priority=[1, 3, 3],
        ready_s=np.array([0.0, 100.0, 200.0]),
        on_time=np.ones((1, 3), dtype=bool),
        busy_s=np.array([[3600.0, 50.0, 50.0]]),
    )
    for bound in (solve_bound(problem), brute_force(problem)):
        assert bound.served == (0, -1, -1)
        assert bound.late_by_priority == {1: 0, 3: 2}

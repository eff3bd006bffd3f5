"""Dynamic MEXCLP dispatch and DMEXCLP redeployment on a hand-worked line of five points.

Points 0..4 lie on a line, 300 s apart; demand is uniform (0.2 each); the cover time is
300 s, so a unit covers its own point and its neighbours; the busy fraction is q = 0.5.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planner.dispatch.coverage import CoverageModel, best_base, split_policy
from planner.dispatch.domain import DispatchProblem, Incident, SolveOptions, Unit, UnitStatus
from planner.dispatch.holding import install
from planner.dispatch.moveup import (
    WHOLE_UNITS,
    MoveUp,
    MoveUpLimits,
    _patterns,
    solve_moveup,
)
from planner.dispatch.solver import solve
from planner.errors import InputError
from tests.dispatch.line import at


def test_losses_and_gains_by_hand(model: CoverageModel) -> None:
    # X at 0 covers {0, 1}; Y at 2 covers {1, 2, 3}: k = (1, 2, 1, 1, 0).
    # X leaving: 0.2·0.5 (point 0) + 0.2·0.5·0.5 (point 1) = 0.15; Y: 0.05 + 0.1 + 0.1 = 0.25.
    assert model.losses([0, 2]) == pytest.approx([0.15, 0.25])
    # 1 - q^k summed: 0.2·(0.5 + 0.75 + 0.5 + 0.5 + 0) = 0.45
    assert model.expected_coverage([0, 2]) == pytest.approx(0.45)
    assert model.expected_coverage([0, 2]) - model.expected_coverage([2]) == pytest.approx(0.15)
    # One more unit at 0, 2 or 4 with a unit at 0: 0.1, 0.25, 0.2
    assert model.gains([0, 2, 4], [0]) == pytest.approx([0.1, 0.25, 0.2])


def _problem(model: CoverageModel, target_s: float) -> DispatchProblem:
    units = (
        Unit("X", frozenset({"ALS"}), UnitStatus.AVAILABLE, at(model, 0)),
        Unit("Y", frozenset({"ALS"}), UnitStatus.AVAILABLE, at(model, 2)),
    )
    call = Incident("I1", 1, "A1", at(model, 2), {"ALS": 1}, target_s=target_s)
    return DispatchProblem(units, (call,), np.array([[600.0], [0.0]]))


def test_dmexclp_sends_the_unit_whose_absence_costs_least(model: CoverageModel) -> None:
    """Y is on the spot, but X (600 s, within the 900 s target) leaves less demand bare."""

    install(model, name="coverage_line")
    problem = _problem(model, target_s=900.0)
    assert [a.unit for a in solve(problem, SolveOptions(policy="closest_idle")).assignments] == [
        "Y"
    ]
    plan = solve(problem, SolveOptions(policy="coverage_line"))
    assert [a.unit for a in plan.assignments] == ["X"]
    assert plan.policy == "coverage_line"


def test_dmexclp_falls_back_to_the_closest_when_only_it_is_in_time(
    model: CoverageModel,
) -> None:
    """With a 500 s target X (600 s) would be late: the rule only ranks in-time units."""

    install(model, name="coverage_line")
    plan = solve(_problem(model, target_s=500.0), SolveOptions(policy="coverage_line+dmexclp"))
    assert [a.unit for a in plan.assignments] == ["Y"]
    assert plan.policy == "coverage_line+dmexclp"


def test_dispatch_delay_shortens_the_budget(model: CoverageModel) -> None:
    """A 900 s target less a 400 s delay leaves 500 s of driving: X no longer makes it."""

    install(replace(model, delay_s=400.0), name="coverage_late")
    plan = solve(_problem(model, target_s=900.0), SolveOptions(policy="coverage_late"))
    assert [a.unit for a in plan.assignments] == ["Y"]


def test_dmexclp_redeploys_to_the_largest_marginal_coverage(model: CoverageModel) -> None:
    bases = [0, 2, 4]
    assert best_base(model, bases=bases, room=[1, 1, 1], others=[0], origin=1) == 1
    # base 2 full: the next best is 4 (0.2 > 0.1)
    assert best_base(model, bases=bases, room=[1, 0, 1], others=[0], origin=1) == 2
    # a drive limit of 600 s from point 1 rules out 4 (900 s)
    reach = np.array([300.0, 300.0, 900.0])
    assert (
        best_base(
            model, bases=bases, room=[1, 0, 1], others=[0], origin=1, reach_s=reach, max_drive_s=600
        )
        == 0
    )
    assert best_base(model, bases=bases, room=[0, 0, 0], others=[0], origin=1) is None


def test_policy_strings() -> None:
    assert split_policy("coverage+dmexclp") == ("coverage", "dmexclp")
    assert split_policy("closest_idle") == ("closest_idle", None)
    problem = DispatchProblem((), (), np.zeros((0, 0)))
    with pytest.raises(InputError, match="unknown relocation 'nearest'") as err:
        solve(problem, SolveOptions(policy="optimal+nearest"))
    assert err.value.field == "policy"


def _moveup(model: CoverageModel, **limits: float) -> MoveUp:
    # U0 and U1 wait at base 0 (room for two; U1 parked 50 s further out); F has just become
    # free at point 3.
    drive = np.array([[0.0, 600.0, 1200.0], [0.0, 650.0, 1250.0], [900.0, 300.0, 300.0]])
    moves_left = [int(limits.pop("moves_left", 6))] * 2 + [6]
    return solve_moveup(
        model,
        bases=[0, 2, 4],
        capacity=[2, 1, 1],
        stay=[0, 0, -1],
        drive_s=drive,
        moves_left=moves_left,
        limits=MoveUpLimits(**limits),  # type: ignore[arg-type]
    )


def test_moveup_moves_an_idle_unit_when_allowed(model: CoverageModel) -> None:
    """Bases 0, 0, 2 cover k = (2, 3, 1, 1, 0): 0.2·(0.75 + 0.875 + 0.5 + 0.5) = 0.525;
    0, 2, 4 cover k = (1, 2, 1, 2, 1): 0.6. Of the ways to get there, U0 → 2 (600 s) and
    F → 4 (300 s) drive least (U1 → 2: 650 s; U0 → 4: 1200 s)."""
    plan = _moveup(model, max_moves=1)
    assert plan.destination == (1, 0, 2)
    assert plan.moved == (0, 2)
    assert plan.coverage == pytest.approx(0.6)
    assert plan.status == "optimal"


@pytest.mark.parametrize(
    "limits", [{"max_moves": 0}, {"max_drive_s": 500.0}, {"moves_left": 0}], ids=str
)
def test_moveup_limits_are_honoured(model: CoverageModel, limits: dict[str, float]) -> None:
    """No idle unit may move: only F is placed, where DMEXCLP would put it (base 2)."""
    plan = _moveup(model, **limits)
    assert plan.destination == (0, 0, 1)
    assert plan.moved == (2,)
    assert plan.coverage == pytest.approx(0.525)
    assert best_base(model, bases=[0, 2, 4], room=[0, 1, 1], others=[0, 0], origin=3) == 1


def test_city_scale_moveup_keeps_the_limits_and_finds_the_gap(model: CoverageModel) -> None:
    """30 idle units wait at base 0 and F has just become free at point 3: more units than one
    exact model holds (``WHOLE_UNITS``), so most idle units are held where they are.
    The best plan is still found: one idle unit to 2 (600 s) and F to 4, k = (29, 30, 1, 2, 1),
    0.2·((1 − 0.5^29) + (1 − 0.5^30) + 0.5 + 0.75 + 0.5); F to 2 and one idle unit to 4 covers
    the same but drives 600 s more."""
    n_idle = 30
    assert n_idle + 1 > WHOLE_UNITS
    drive = np.vstack([np.tile([0.0, 600.0, 1200.0], (n_idle, 1)), [[900.0, 300.0, 300.0]]])
    plan = solve_moveup(
        model,
        bases=[0, 2, 4],
        capacity=[n_idle, 1, 1],
        stay=[0] * n_idle + [-1],
        drive_s=drive,
        moves_left=[6] * (n_idle + 1),
        limits=MoveUpLimits(max_moves=1),
    )
    dest = np.array(plan.destination)
    assert dest[-1] == 2
    assert np.bincount(dest[:n_idle], minlength=3).tolist() == [n_idle - 1, 1, 0]
    assert len(plan.moved) == 2
    expected = 0.2 * ((1 - 0.5**29) + (1 - 0.5**30) + 0.5 + 0.75 + 0.5)
    assert plan.coverage == pytest.approx(expected)


@pytest.mark.parametrize("n_bases", [1, 8, 9, 60])
def test_coverage_patterns_match_numpy_unique(n_bases: int) -> None:
    covered = np.random.default_rng(n_bases).random((400, n_bases)) < 0.3
    patterns, inverse = _patterns(covered)
    expected, expected_inverse = np.unique(covered, axis=0, return_inverse=True)
    assert np.array_equal(patterns, expected)
    assert np.array_equal(inverse, expected_inverse.reshape(-1))

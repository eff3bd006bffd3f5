"""Candidate arcs and pools of a small problem, every array worked out by hand.

Incidents: I1 (P1, target 100 s) needs 1 ALS (and 0 BLS: no group); I2 (P3, target 600 s) needs
2 ALS. Groups: g0 = (I1, ALS), g1 = (I2, ALS).
Units and ETAs to (I1, I2): A1 ALS available (50, 700); A2 ALS dispatched to I2 (30, 40);
A3 ALS+BLS on scene at I2 (unreachable, 0); B1 BLS available (10, 10); A4 ALS out of service
(5, 5). Weights P1 16, P3 4; late penalty 300 s, pre-emption 100 s, stability bonus 60 s.

Arcs, in (kind, group, unit) order: NEW A1->g0 (16 x 50 = 800), NEW A1->g1 (late: 4 x (700 +
300) = 4000, kept from the previous plan: - 4 x 60 = 3760), COMMITTED A2->g1 and A3->g1 (0),
PREEMPT A2->g0 (3 - 1 >= gap 2: 16 x 30 + 16 x 100 = 2080).
"""

from __future__ import annotations

import math

import numpy as np

from planner.dispatch.candidates import (
    ArcKind,
    Candidates,
    _stable_argsort,
    build_candidates,
    build_pools,
    current_incident_index,
    weight_of,
)
from planner.dispatch.domain import DispatchProblem, Incident, SolveOptions, Unit, UnitStatus
from planner.dispatch.solver import solve

INF = math.inf


def _problem() -> DispatchProblem:
    units = (
        Unit("A1", frozenset({"ALS"}), UnitStatus.AVAILABLE),
        Unit("A2", frozenset({"ALS"}), UnitStatus.DISPATCHED, incident="I2"),
        Unit("A3", frozenset({"ALS", "BLS"}), UnitStatus.ON_SCENE, incident="I2"),
        Unit("B1", frozenset({"BLS"}), UnitStatus.AVAILABLE),
        Unit("A4", frozenset({"ALS"}), UnitStatus.OUT_OF_SERVICE),
    )
    incidents = (
        Incident("I1", 1, "X", None, {"ALS": 1, "BLS": 0}, target_s=100.0, opened_at=0.0),
        Incident("I2", 3, "X", None, {"ALS": 2}, target_s=600.0, opened_at=0.0),
    )
    tt = np.array([[50.0, 700.0], [30.0, 40.0], [INF, 0.0], [10.0, 10.0], [5.0, 5.0]])
    return DispatchProblem(units, incidents, tt)


OPTIONS = SolveOptions(
    allow_preemption=True,
    preemption_gap=2,
    preemption_cost_s=100.0,
    late_penalty_s=300.0,
    stability_bonus_s=60.0,
)


def test_arcs_by_hand() -> None:
    cand = build_candidates(_problem(), OPTIONS, previous_pairs=[("A1", "I2"), ("ZZ", "I1")])
    assert [(g.incident, g.capability, g.capacity, g.priority) for g in cand.groups] == [
        (0, "ALS", 1, 1),
        (1, "ALS", 2, 3),
    ]
    assert cand.n_arcs == 5
    assert cand.unit.tolist() == [0, 0, 1, 2, 1]
    assert cand.group.tolist() == [0, 1, 1, 1, 0]
    new, committed, preempt = int(ArcKind.NEW), int(ArcKind.COMMITTED), int(ArcKind.PREEMPT)
    assert cand.kind.tolist() == [new, new, committed, committed, preempt]
    assert cand.eta_s.tolist() == [50.0, 700.0, 40.0, 0.0, 30.0]
    assert cand.cost.tolist() == [800.0, 3760.0, 0.0, 0.0, 2080.0]
    assert cand.late.tolist() == [False, True, False, False, False]
    assert cand.stable.tolist() == [False, True, False, False, False]
    assert cand.available.tolist() == [True, False, False, True, False]
    assert {cap: mask.tolist() for cap, mask in cand.capable.items()} == {
        "ALS": [True, True, True, False, True]
    }
    pools = build_pools(cand)
    assert pools.order.tolist() == [4, 0, 1]  # by (group, ETA): A2 30 s, A1 50 s; then g1
    assert (pools.start.tolist(), pools.end.tolist()) == ([0, 2], [2, 3])
    assert pools.of(1).tolist() == [1]
    assert pools.group_priority.tolist() == [1, 3] and pools.group_incident.tolist() == [0, 1]


def test_without_preemption_a_busy_unit_has_only_its_committed_arc() -> None:
    cand = build_candidates(_problem(), SolveOptions())
    assert cand.kind.tolist() == [int(ArcKind.NEW)] * 2 + [int(ArcKind.COMMITTED)] * 2
    # a gap of 3 levels is more than P3 -> P1 offers
    gap3 = SolveOptions(allow_preemption=True, preemption_gap=3)
    assert int(ArcKind.PREEMPT) not in build_candidates(_problem(), gap3).kind.tolist()


def test_divert_arcs_need_the_margin() -> None:
    """A2 reaches I1 in 30 s, the best free unit (A1) in 50 s: diverted with a 20 s margin (30 <=
    50 - 20), not with 25 s. No pre-emption cost: 16 x 30 = 480."""
    divert = int(ArcKind.DIVERT)
    cand = build_candidates(_problem(), SolveOptions(divert_margin_s=20.0), divert=True)
    arcs = [
        (u, g, c)
        for u, g, k, c in zip(cand.unit, cand.group, cand.kind, cand.cost, strict=True)
        if k == divert
    ]
    assert arcs == [(1, 0, 480.0)]
    cand = build_candidates(_problem(), SolveOptions(divert_margin_s=25.0), divert=True)
    assert divert not in cand.kind.tolist()
    cand = build_candidates(_problem(), SolveOptions(divert_margin_s=None), divert=True)
    assert divert not in cand.kind.tolist()
    assert divert not in build_candidates(_problem(), SolveOptions(divert_margin_s=20.0)).kind


def test_weights_and_current_incidents() -> None:
    assert weight_of(SolveOptions(priority_weights={1: 9.0}), 1) == 9.0
    assert weight_of(SolveOptions(priority_weights={1: 9.0}), 4) == 1.0
    problem = _problem()
    assert current_incident_index(problem).tolist() == [-1, 1, 1, -1, -1]
    gone = DispatchProblem(
        (Unit("A9", frozenset({"ALS"}), UnitStatus.EN_ROUTE, incident="I9"),),
        problem.incidents,
        np.array([[1.0, 1.0]]),
    )
    assert current_incident_index(gone).tolist() == [-1]


def test_divert_only_from_a_less_urgent_call_and_with_no_units_at_all() -> None:
    """A2 heads to I2 and reaches the P1 call I1 in 30 s, the free A1 in 100 s (margin 20 s):
    diverted when I2 is priority 2, not when I2 is itself priority 1. A problem without units
    has no arcs."""

    def problem(other_priority: int) -> DispatchProblem:
        units = (
            Unit("A1", frozenset({"ALS"}), UnitStatus.AVAILABLE),
            Unit("A2", frozenset({"ALS"}), UnitStatus.EN_ROUTE, incident="I2"),
        )
        incidents = (
            Incident("I1", 1, "X", None, {"ALS": 1}, target_s=600.0, opened_at=0.0),
            Incident("I2", other_priority, "X", None, {"BLS": 1}, target_s=600.0, opened_at=0.0),
        )
        return DispatchProblem(units, incidents, np.array([[100.0, 10.0], [30.0, 5.0]]))

    options = SolveOptions(divert_margin_s=20.0)
    divert = int(ArcKind.DIVERT)
    cand = build_candidates(problem(2), options, divert=True)
    assert [
        (int(u), int(g))
        for u, k, g in zip(cand.unit, cand.kind, cand.group, strict=True)
        if k == divert
    ] == [(1, 0)]
    assert divert not in build_candidates(problem(1), options, divert=True).kind.tolist()
    empty = DispatchProblem((), problem(2).incidents, np.zeros((0, 2)))
    assert build_candidates(empty, options, divert=True).n_arcs == 0


def _arcs(cand: Candidates) -> list[tuple[int, int, int]]:
    """``(unit, group, kind)`` of every arc."""
    return [
        (int(u), int(g), int(k)) for u, g, k in zip(cand.unit, cand.group, cand.kind, strict=True)
    ]


def _divert_problem() -> DispatchProblem:
    """The P1 call I1 (group 0) and its best free unit A1 at 100 s. Nearer: A2 (ALS) on its way
    to the P3 call I3, 30 s; A5 (ALS) on its way to the P2 call I2, 20 s; S1 (ALS) on scene
    at I3, 10 s; B1 (BLS only) on its way to I3, 5 s. Groups: 0 = (I1, ALS), 1 = (I2, BLS),
    2 = (I3, BLS)."""
    units = (
        Unit("A1", frozenset({"ALS"}), UnitStatus.AVAILABLE),
        Unit("A2", frozenset({"ALS"}), UnitStatus.EN_ROUTE, incident="I3"),
        Unit("A5", frozenset({"ALS"}), UnitStatus.EN_ROUTE, incident="I2"),
        Unit("S1", frozenset({"ALS"}), UnitStatus.ON_SCENE, incident="I3"),
        Unit("B1", frozenset({"BLS"}), UnitStatus.EN_ROUTE, incident="I3"),
    )
    incidents = (
        Incident("I1", 1, "X", None, {"ALS": 1}, target_s=600.0),
        Incident("I2", 2, "X", None, {"BLS": 1}, target_s=600.0),
        Incident("I3", 3, "X", None, {"BLS": 1}, target_s=600.0),
    )
    tt = np.array(
        [[100.0, INF, INF], [30.0, INF, INF], [20.0, INF, INF], [10.0, INF, 0.0], [5.0, INF, 0.0]]
    )
    return DispatchProblem(units, incidents, tt)


def test_only_capable_units_on_their_way_are_diverted() -> None:
    """Margin 20 s: A2 (30 s) and A5 (20 s) are diverted to I1; S1 is on scene (never moved)
    and B1 has no ALS, however near. B1 keeps its committed arc to I3."""
    new, committed = int(ArcKind.NEW), int(ArcKind.COMMITTED)
    divert = int(ArcKind.DIVERT)
    cand = build_candidates(_divert_problem(), SolveOptions(divert_margin_s=20.0), divert=True)
    assert _arcs(cand) == [(0, 0, new), (4, 2, committed), (1, 0, divert), (2, 0, divert)]


def test_a_unit_preempted_is_not_also_diverted() -> None:
    """With pre-emption (gap 2) A2 (P3 -> P1) gets one PREEMPT arc and no DIVERT arc for the
    same slot; A5 (P2 -> P1, one level) is only diverted. Each (unit, group) pair has one arc."""
    options = SolveOptions(divert_margin_s=20.0, allow_preemption=True, preemption_gap=2)
    cand = build_candidates(_divert_problem(), options, divert=True)
    new, committed = int(ArcKind.NEW), int(ArcKind.COMMITTED)
    preempt, divert = int(ArcKind.PREEMPT), int(ArcKind.DIVERT)
    assert _arcs(cand) == [(0, 0, new), (4, 2, committed), (1, 0, preempt), (2, 0, divert)]


def test_an_arc_is_at_best_free() -> None:
    """A P5 call (weight 1): U0 1 s away and kept from the previous plan (1 - 60 < 0), U1 at
    0 s: both cost exactly 0, never less and never a floor above it."""
    units = (Unit("U0", frozenset({"ALS"})), Unit("U1", frozenset({"ALS"})))
    call = Incident("I1", 5, "X", None, {"ALS": 1}, target_s=600.0)
    problem = DispatchProblem(units, (call,), np.array([[1.0], [0.0]]))
    cand = build_candidates(problem, SolveOptions(), previous_pairs=[("U0", "I1")])
    assert cand.cost.tolist() == [0.0, 0.0]
    assert cand.stable.tolist() == [True, False]


def test_a_unit_counts_towards_its_incident_only_while_busy_there() -> None:
    """A unit still naming I1 after it left (available, returning, transporting, at hospital,
    out of service) counts nowhere; dispatched, en route and on scene count for I1."""
    statuses = list(UnitStatus)
    units = tuple(
        Unit(f"U{k}", frozenset({"ALS"}), status, incident="I1")
        for k, status in enumerate(statuses)
    )
    call = Incident("I1", 2, "X", None, {"ALS": 9}, target_s=600.0)
    problem = DispatchProblem(units, (call,), np.full((len(units), 1), 60.0))
    busy = {UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE}
    assert current_incident_index(problem).tolist() == [0 if s in busy else -1 for s in statuses]
    cand = build_candidates(problem, SolveOptions())
    arcs = _arcs(cand)
    committed = {u for u, _, k in arcs if k == int(ArcKind.COMMITTED)}
    assert committed == {k for k, s in enumerate(statuses) if s in busy}
    assert [(u, k) for u, _, k in arcs if k != int(ArcKind.COMMITTED)] == [(0, int(ArcKind.NEW))]


def test_units_without_incidents_have_no_arcs_and_an_empty_plan() -> None:
    units = (Unit("U0", frozenset({"ALS"})), Unit("U1", frozenset({"ALS"}), UnitStatus.ON_SCENE))
    problem = DispatchProblem(units, (), np.zeros((2, 0)))
    assert build_candidates(problem, SolveOptions()).n_arcs == 0
    for policy in ("optimal", "closest_idle"):
        plan = solve(problem, SolveOptions(policy=policy))
        assert (plan.assignments, plan.committed, plan.unmet) == ((), (), ())


def test_pools_keep_groups_apart_when_an_early_group_has_the_largest_eta() -> None:
    """Group 0's only arc is 10 s, group 1's 0.5 s: sorted by (group, ETA), not by ETA."""
    units = (Unit("U0", frozenset({"ALS"})), Unit("U1", frozenset({"ALS"})))
    calls = (
        Incident("I1", 1, "X", None, {"ALS": 1}, target_s=600.0),
        Incident("I2", 1, "X", None, {"ALS": 1}, target_s=600.0),
    )
    problem = DispatchProblem(units, calls, np.array([[10.0, INF], [INF, 0.5]]))
    pools = build_pools(build_candidates(problem, SolveOptions()))
    assert (pools.of(0).tolist(), pools.of(1).tolist()) == ([0], [1])


def test_stable_argsort_is_numpys_stable_argsort() -> None:
    """Ties keep index order: by hand on a small key, and against ``np.argsort(kind="stable")``
    on 2000 keys with many ties (where numpy's default sort does reorder ties)."""
    assert _stable_argsort(np.array([2.0, 1.0, 3.0, 3.0])).tolist() == [1, 0, 2, 3]
    assert _stable_argsort(np.array([3.0, 1.0, 2.0])).tolist() == [1, 2, 0]
    rng = np.random.default_rng(7)
    key = rng.integers(0, 50, 2000).astype(np.float64)
    assert not np.array_equal(np.argsort(key), np.argsort(key, kind="stable"))
    assert _stable_argsort(key).tolist() == np.argsort(key, kind="stable").tolist()

"""The centre state's move-up bookkeeping, alerts, hand-overs and unit cycle on hand-made events:
every field of the state after each event, and each refusal with its exact text.

Distances along a meridian are worked out by hand: one degree of latitude is
R·π/180 = 111 195.08 m with the mean Earth radius R = 6 371 008.8 m, so a report ``d`` metres
north of a station lies ``d / 111 195.08`` degrees from it (the arrival radius is 150 m).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from planner.centre.events import RelocationMove
from planner.centre.state import AlertAck, CentreState, Handover, UnitState
from planner.dispatch.domain import UnitStatus
from planner.errors import InvalidTransitionError, NotFoundError
from planner.network.geo import Location
from tests.centre.test_state_oracles import HOME, PLACE, T0, Centre

METRES_PER_DEGREE = 6_371_008.8 * math.pi / 180.0
S3 = {"lat": 40.30, "lon": -76.85}
"""Station S3, 3.3 km north of the units' home."""


def north_of(point: dict[str, float], metres: float) -> dict[str, float]:
    return {"lat": point["lat"] + metres / METRES_PER_DEGREE, "lon": point["lon"]}


def move(
    unit: str, to_station: str, to: dict[str, float], *, freed: bool = False
) -> dict[str, Any]:
    return {
        "unit": unit, "from_station": "S1", "to_station": to_station, "to": to, "drive_s": 240.0,
        "coverage_gain": 0.05, "freed": freed, "explanation": f"{unit} covers {to_station}",
    }  # fmt: skip


def recommend_moves(c: Centre, *moves: dict[str, Any]) -> CentreState:
    return c.do(
        {
            "type": "relocation_recommended",
            "policy": "closest_idle+dmexclp",
            "trigger": "timer",
            "moves": list(moves),
            "coverage_now": 0.6,
            "coverage_after": 0.7,
            "busy_fraction": 0.2,
        }
    )


def register(c: Centre, *uids: str, **extra: Any) -> CentreState:
    for uid in uids:
        c.do(
            {
                "type": "unit_registered",
                "unit_id": uid,
                "capabilities": ["ALS"],
                "home": HOME,
                "station": "S1",
                **extra,
            }
        )
    return c.state


def status(c: Centre, uid: str, new: str) -> CentreState:
    return c.do({"type": "unit_status_changed", "unit_id": uid, "status": new})


def send(c: Centre, incident: str, *units: str) -> CentreState:
    """A dispatcher's own choice of units (an override)."""
    return c.do(
        {"type": "dispatch_overridden", "incident_id": incident, "units": list(units),
         "reason": "closer"}
    )  # fmt: skip


def at_scene_then_returning(c: Centre, uid: str, incident: str = "I1") -> CentreState:
    """``uid`` sent to a fresh incident by override, on scene, then heading back."""
    c.do({"type": "incident_opened", "incident_id": incident, "code": "FALL", "location": PLACE})
    over = {"type": "dispatch_overridden", "incident_id": incident, "reason": "nearest"}
    c.do({**over, "units": [uid]})
    c.do({"type": "unit_arrived", "unit_id": uid})
    return status(c, uid, "returning")


def test_recommended_moves_are_pending_until_accepted_or_declined() -> None:
    c = Centre()
    register(c, "M1", "M2", "M3")
    far, near = move("M1", "S3", S3), move("M2", "S4", north_of(HOME, 100.0), freed=True)
    s = recommend_moves(c, far, near)
    assert s.relocation is not None and s.relocation.at == c.now
    assert [m.unit for m in s.relocation.moves] == ["M1", "M2"]
    assert s.relocations == {
        "M1": RelocationMove.model_validate(far),
        "M2": RelocationMove.model_validate(near),
    }
    before = s.units["M1"]
    registered = dict(s.units)
    with pytest.raises(
        InvalidTransitionError, match=r"^to_station: unit 'M1' is recommended to 'S3', not 'S9'$"
    ):
        c.do({"type": "relocation_accepted", "unit_id": "M1", "to_station": "S9"})
    s = c.do({"type": "relocation_accepted", "unit_id": "M1", "to_station": "S3"})
    # far from S3: on its way, counted as a move, still waiting at S1 until it gets there
    assert s.units["M1"] == replace(
        before, relocating_to="S3", relocating_position=Location(40.30, -76.85), moves=1
    )
    assert s.units["M1"].waits_at == "S3"
    assert list(s.relocations) == ["M2"]
    # freed and already within 150 m of S4 while available: it is there now, and not counted
    s = c.do({"type": "relocation_accepted", "unit_id": "M2"})
    target = north_of(HOME, 100.0)
    assert s.units["M2"] == replace(
        registered["M2"], base="S4", location=Location(target["lat"], target["lon"])
    )
    assert s.units["M2"].waits_at == "S4" and s.relocations == {}
    with pytest.raises(
        InvalidTransitionError, match=r"^unit_id: no relocation of unit 'M1' is recommended$"
    ):
        c.do({"type": "relocation_declined", "unit_id": "M1"})
    with pytest.raises(NotFoundError, match=r"^unit_id: unknown unit 'X1'$"):
        c.do({"type": "relocation_accepted", "unit_id": "X1"})
    s = recommend_moves(c, move("M3", "S3", S3))
    s = c.do({"type": "relocation_declined", "unit_id": "M3", "reason": "crew meal"})
    assert s.units["M3"] == replace(registered["M3"], declined=True)
    assert s.relocations == {} and s.relocation is not None
    assert s.counts["relocation_recommended"] == 2 and s.counts["relocation_declined"] == 1


def test_a_move_one_metre_outside_the_arrival_radius_is_not_made_at_once() -> None:
    c = Centre()
    register(c, "M1", "M2")
    recommend_moves(
        c, move("M1", "S3", north_of(HOME, 150.5)), move("M2", "S4", north_of(HOME, 149.5))
    )
    s = c.do({"type": "relocation_accepted", "unit_id": "M1"})
    assert (s.units["M1"].relocating_to, s.units["M1"].base, s.units["M1"].moves) == ("S3", None, 1)
    s = c.do({"type": "relocation_accepted", "unit_id": "M2"})
    assert (s.units["M2"].relocating_to, s.units["M2"].base, s.units["M2"].moves) == (None, "S4", 1)


def test_position_reports_complete_a_move_within_150_m_of_the_station() -> None:
    c = Centre()
    register(c, "M1")
    recommend_moves(c, move("M1", "S3", S3))
    accepted = c.do({"type": "relocation_accepted", "unit_id": "M1"}).units["M1"]
    for metres in (2000.0, 150.5):
        s = c.do({"type": "unit_moved", "unit_id": "M1", "location": north_of(S3, -metres)})
        at = north_of(S3, -metres)
        assert s.units["M1"] == replace(accepted, location=Location(at["lat"], at["lon"]))
    s = c.do({"type": "unit_moved", "unit_id": "M1", "location": north_of(S3, 149.5)})
    # there: it waits at S3, placed on the station itself rather than the reported point
    assert s.units["M1"] == replace(
        accepted, base="S3", location=Location(40.30, -76.85), relocating_to=None,
        relocating_position=None,
    )  # fmt: skip
    # a unit that is not relocating just moves
    s = c.do({"type": "unit_moved", "unit_id": "M1", "location": PLACE})
    assert s.units["M1"].location == Location(40.26, -76.86) and s.units["M1"].base == "S3"


def test_a_returning_unit_sent_on_arrives_when_it_reports_available() -> None:
    c = Centre()
    register(c, "M1")
    at_scene_then_returning(c, "M1")
    recommend_moves(c, move("M1", "S3", S3, freed=True))
    s = c.do({"type": "relocation_accepted", "unit_id": "M1"})
    returning = s.units["M1"]
    assert (returning.relocating_to, returning.moves, returning.status) == (
        "S3", 0, UnitStatus.RETURNING,
    )  # fmt: skip
    s = status(c, "M1", "available")
    assert s.units["M1"] == replace(
        returning, status=UnitStatus.AVAILABLE, status_since=c.now, base="S3",
        location=Location(40.30, -76.85), relocating_to=None, relocating_position=None,
    )  # fmt: skip


def test_a_relocating_unit_that_stops_being_free_gives_the_move_up() -> None:
    c = Centre()
    register(c, "M1", "M2")
    at_scene_then_returning(c, "M1")
    recommend_moves(c, move("M1", "S3", S3), move("M2", "S3", S3))
    c.do({"type": "relocation_accepted", "unit_id": "M1"})
    s = c.do({"type": "relocation_accepted", "unit_id": "M2"})
    assert s.units["M1"].moves == 1 and s.units["M2"].moves == 1
    # returning → out of service: not arrived at S3, move dropped, a new shift of moves
    s = status(c, "M1", "out_of_service")
    unit = s.units["M1"]
    assert (unit.relocating_to, unit.relocating_position, unit.base, unit.moves) == (
        None, None, None, 0,
    )  # fmt: skip
    assert unit.waits_at == "S1" and unit.location == Location(40.26, -76.86)
    # dispatched on the way: the move is dropped, its count kept
    c.do({"type": "incident_opened", "incident_id": "I2", "code": "FALL", "location": PLACE})
    over = {"type": "dispatch_overridden", "incident_id": "I2", "reason": "nearest"}
    s = c.do({**over, "units": ["M2"]})
    assert (s.units["M2"].relocating_to, s.units["M2"].relocating_position) == (None, None)
    assert (s.units["M2"].moves, s.units["M2"].base) == (1, None)


def test_moves_count_per_shift_and_a_decline_lasts_until_the_status_changes() -> None:
    c = Centre()
    register(c, "M1")
    for station in ("S3", "S4"):
        recommend_moves(c, move("M1", station, north_of(HOME, 10.0)))
        c.do({"type": "relocation_accepted", "unit_id": "M1"})
    assert (c.state.units["M1"].moves, c.state.units["M1"].base) == (2, "S4")
    recommend_moves(c, move("M1", "S3", S3))
    s = c.do({"type": "relocation_declined", "unit_id": "M1"})
    assert s.units["M1"].declined
    s = status(c, "M1", "out_of_service")
    assert (s.units["M1"].declined, s.units["M1"].moves, s.units["M1"].base) == (False, 0, "S4")
    s = status(c, "M1", "available")
    assert (s.units["M1"].moves, s.units["M1"].base, s.units["M1"].relocating_to) == (0, "S4", None)
    # a decline also ends when the unit is dispatched
    recommend_moves(c, move("M1", "S3", S3))
    c.do({"type": "relocation_declined", "unit_id": "M1"})
    c.do({"type": "incident_opened", "incident_id": "I1", "code": "FALL", "location": PLACE})
    s = send(c, "I1", "M1")
    assert not s.units["M1"].declined


def test_pending_moves_of_units_no_longer_free_are_dropped() -> None:
    c = Centre()
    register(c, "M1", "M2", "M3", "M4")
    at_scene_then_returning(c, "M4")
    recommend_moves(c, move("M1", "S3", S3))
    c.do({"type": "relocation_accepted", "unit_id": "M1"})
    status(c, "M3", "out_of_service")
    moves = [move(u, "S5", S3) for u in ("M1", "M2", "M3", "M4", "X9")]
    s = recommend_moves(c, *moves)
    # M1 already relocating, M3 off duty, X9 unknown; M4 (returning) and M2 keep theirs
    assert list(s.relocations) == ["M2", "M4"]
    assert s.relocation is not None
    assert [m.unit for m in s.relocation.moves] == ["M1", "M2", "M3", "M4", "X9"]
    c.do({"type": "incident_opened", "incident_id": "I2", "code": "FALL", "location": PLACE})
    s = send(c, "I2", "M2")
    assert list(s.relocations) == ["M4"]
    s = c.do({"type": "unit_removed", "unit_id": "M1"})
    assert list(s.relocations) == ["M4"] and "M1" not in s.units
    s = status(c, "M4", "available")
    assert list(s.relocations) == ["M4"]
    s = c.do({"type": "unit_removed", "unit_id": "M4"})
    assert s.relocations == {}


def test_the_unit_cycle_field_by_field() -> None:
    c = Centre()
    units = register(c, "M1", "M2", "M3").units
    registered = units["M1"]
    c.do({"type": "incident_opened", "incident_id": "I1", "code": "FALL", "location": PLACE})
    c.do(
        {
            "type": "recommendation_issued",
            "status": "optimal",
            "policy": "optimal",
            "cost": 0.0,
            "unmet": [],
            "assignments": [
                {"unit": u, "incident": "I1", "capability": "ALS", "eta_s": 60.0}
                for u in ("M1", "M2", "M3")
            ],
        }
    )
    s = c.do(
        {
            "type": "dispatch_accepted",
            "incident_id": "I1",
            "units": ["M1"],
            "not_sent": ["M3", "M2"],
        }
    )
    sent_at = c.now
    dispatched = replace(
        registered, status=UnitStatus.DISPATCHED, status_since=sent_at, incident="I1",
        dispatched_at=sent_at,
    )  # fmt: skip
    assert s.units["M1"] == dispatched
    assert s.units["M2"] == units["M2"]
    s = c.do({"type": "unit_acknowledged", "unit_id": "M1"})
    en_route = replace(
        dispatched, status=UnitStatus.EN_ROUTE, status_since=c.now, acknowledged=True
    )
    assert s.units["M1"] == en_route
    s = status(c, "M1", "on_scene")
    on_scene = replace(
        en_route, status=UnitStatus.ON_SCENE, status_since=c.now, location=Location(40.26, -76.86)
    )
    assert s.units["M1"] == on_scene and s.incidents["I1"].first_arrival_at == c.now
    s = status(c, "M1", "transporting")
    transporting = replace(on_scene, status=UnitStatus.TRANSPORTING, status_since=c.now)
    assert s.units["M1"] == transporting
    s = status(c, "M1", "at_hospital")
    assert s.units["M1"] == replace(transporting, status=UnitStatus.AT_HOSPITAL, status_since=c.now)
    s = status(c, "M1", "returning")
    returning = replace(
        transporting, status=UnitStatus.RETURNING, status_since=c.now, incident=None,
        dispatched_at=None,
    )  # fmt: skip
    assert s.units["M1"] == returning
    s = status(c, "M1", "available")
    assert s.units["M1"] == replace(returning, status=UnitStatus.AVAILABLE, status_since=c.now)
    # sent straight to status en_route (no acknowledgement event): it counts as acknowledged
    s = send(c, "I1", "M2")
    s = status(c, "M2", "en_route")
    assert (s.units["M2"].acknowledged, s.units["M2"].incident) == (True, "I1")
    assert s.units["M2"].dispatched_at == c.now - timedelta(seconds=1)
    first = s.incidents["I1"].first_arrival_at
    s = c.do({"type": "unit_arrived", "unit_id": "M2"})
    assert (s.units["M2"].status, s.units["M2"].status_since) == (UnitStatus.ON_SCENE, c.now)
    assert s.incidents["I1"].first_arrival_at == first  # the first arrival stays the first
    assert s.incidents["I1"].units_sent == ("M1", "M2")
    with pytest.raises(
        InvalidTransitionError, match=r"^status: unit 'M3' cannot go transporting from available$"
    ):
        status(c, "M3", "transporting")
    with pytest.raises(
        InvalidTransitionError, match=r"^unit_id: unit 'M3' is available and was not dispatched$"
    ):
        c.do({"type": "unit_arrived", "unit_id": "M3"})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^unit_id: unit 'M3' is available; only a dispatched unit acknowledges$",
    ):
        c.do({"type": "unit_acknowledged", "unit_id": "M3"})
    with pytest.raises(
        InvalidTransitionError, match=r"^units: unit 'M2' is already committed to 'I1'$"
    ):
        send(c, "I1", "M2")
    with pytest.raises(
        InvalidTransitionError,
        match=r"^unit_id: unit 'M2' is on_scene at 'I1'; stand it down first$",
    ):
        c.do({"type": "unit_removed", "unit_id": "M2"})
    s = c.do({"type": "unit_removed", "unit_id": "M3"})
    assert sorted(s.units) == ["M1", "M2"]


def test_a_committed_unit_is_diverted_and_an_out_of_service_one_refused() -> None:
    c = Centre()
    register(c, "M1")
    register(c, "M9", status="out_of_service")
    for iid in ("I1", "I2"):
        c.do({"type": "incident_opened", "incident_id": iid, "code": "FALL", "location": PLACE})
    over = {"type": "dispatch_overridden", "reason": "closer"}
    c.do({**over, "incident_id": "I1", "units": ["M1"]})
    s = c.do({"type": "unit_acknowledged", "unit_id": "M1"})
    s = c.do({**over, "incident_id": "I2", "units": ["M1"]})
    m1 = s.units["M1"]
    assert (m1.status, m1.incident, m1.acknowledged, m1.dispatched_at, m1.status_since) == (
        UnitStatus.DISPATCHED, "I2", False, c.now, c.now,
    )  # fmt: skip
    assert (s.incidents["I1"].units_sent, s.incidents["I2"].units_sent) == (("M1",), ("M1",))
    with pytest.raises(
        InvalidTransitionError,
        match=r"^units: unit 'M9' is out_of_service and cannot be dispatched$",
    ):
        c.do({**over, "incident_id": "I2", "units": ["M9"]})
    with pytest.raises(InvalidTransitionError, match=r"^units: a unit is listed twice$"):
        c.do({**over, "incident_id": "I1", "units": ["M9", "M9"]})
    # closing I2 frees M1; a unit of the incident no longer at it only loses the incident
    s = c.do({"type": "incident_closed", "incident_id": "I2", "outcome": "treated"})
    assert s.units["M1"] == replace(
        m1, status=UnitStatus.AVAILABLE, status_since=c.now, incident=None, dispatched_at=None
    )


def test_a_unit_transporting_keeps_its_status_when_its_incident_closes() -> None:
    c = Centre()
    register(c, "M1")
    c.do({"type": "incident_opened", "incident_id": "I1", "code": "FALL", "location": PLACE})
    send(c, "I1", "M1")
    c.do({"type": "unit_arrived", "unit_id": "M1"})
    moving = status(c, "M1", "transporting").units["M1"]
    s = c.do({"type": "incident_closed", "incident_id": "I1", "outcome": "transported"})
    assert s.units["M1"] == replace(moving, incident=None)


def test_an_incident_opened_bare_or_as_a_major_incident() -> None:
    c = Centre()
    c.do({"type": "contact_received", "contact_id": "C1", "channel": "phone"})
    s = c.do({"type": "incident_opened", "incident_id": "I1", "code": "FALL", "location": PLACE})
    bare = s.incidents["I1"]
    assert (bare.contacts, bare.major_incident, bare.priority, bare.level) == ((), False, 3, 1)
    assert (bare.command_level, bare.casualties, bare.hazards, bare.opened_at) == (
        None, None, (), c.now,
    )  # fmt: skip
    assert s.contacts["C1"].incident is None
    s = c.do(
        {
            "type": "incident_opened",
            "incident_id": "I2",
            "code": "FALL",
            "location": PLACE,
            "methane": {"major_incident": True},
        }
    )
    assert s.incidents["I2"].major_incident
    # a major incident is declared at most once: escalating it again needs a higher level
    with pytest.raises(InvalidTransitionError, match="an escalation must raise the level"):
        c.do(
            {
                "type": "incident_escalated",
                "incident_id": "I2",
                "level": 1,
                "cause": "x",
                "major_incident": True,
            }
        )


def test_the_unmet_clock_starts_stops_and_starts_again() -> None:
    c = Centre()
    for iid in ("I1", "I2"):
        c.do({"type": "incident_opened", "incident_id": iid, "code": "FALL", "location": PLACE})
    base = {
        "type": "recommendation_issued", "status": "optimal", "policy": "optimal", "cost": 0.0,
        "assignments": [],
    }  # fmt: skip
    short = [{"incident": "I1", "capability": "ALS", "missing": 1, "reason": "none free"}]
    s = c.do({**base, "unmet": short})
    first = c.now
    assert (s.incidents["I1"].unmet_since, s.incidents["I2"].unmet_since) == (first, None)
    s = c.do({**base, "unmet": short})
    assert s.incidents["I1"].unmet_since == first
    s = c.do({**base, "unmet": []})
    assert (s.incidents["I1"].unmet_since, s.incidents["I2"].unmet_since) == (None, None)
    s = c.do({**base, "unmet": short})
    assert s.incidents["I1"].unmet_since == c.now
    assert s.recommendation is not None and s.recommendation.at == c.now


def test_alert_acknowledgements_who_when_and_dropped_with_their_incident() -> None:
    c = Centre()
    for iid in ("I1", "I2"):
        c.do({"type": "incident_opened", "incident_id": iid, "code": "FALL", "location": PLACE})
    ack = {"type": "alert_acknowledged", "actor": "alice"}
    s = c.do({**ack, "alert_id": "escalation:I1:2", "kind": "escalation", "incident_id": "I1"})
    first = c.now
    assert s.alerts_acknowledged == {
        "escalation:I1:2": AlertAck("escalation:I1:2", "escalation", "alice", first, "I1", None)
    }
    c.do({**ack, "alert_id": "unack:M1", "kind": "unacknowledged", "unit_id": "M1"})
    c.do({**ack, "alert_id": "target:I2", "kind": "target", "incident_id": "I2"})
    with pytest.raises(
        InvalidTransitionError,
        match=rf"^alert_id: alert 'escalation:I1:2' was acknowledged by alice at "
        rf"{re_iso(first)}$",
    ):
        c.do({**ack, "actor": "bob", "alert_id": "escalation:I1:2", "kind": "escalation"})
    with pytest.raises(NotFoundError, match=r"^incident_id: no open incident 'I7'$"):
        c.do({**ack, "alert_id": "unmet:I7", "kind": "unmet", "incident_id": "I7"})
    s = c.do({"type": "incident_closed", "incident_id": "I1", "outcome": "treated"})
    assert list(s.alerts_acknowledged) == ["unack:M1", "target:I2"]
    assert s.alerts_acknowledged["unack:M1"] == AlertAck(
        "unack:M1", "unacknowledged", "alice", first + timedelta(seconds=1), None, "M1"
    )
    with pytest.raises(NotFoundError, match=r"^incident_id: no open incident 'I1'$"):
        c.do({**ack, "alert_id": "unmet:I1", "kind": "unmet", "incident_id": "I1"})


def re_iso(at: Any) -> str:
    return str(at.isoformat()).replace("+", r"\+")


def test_shift_handovers_given_once_and_acknowledged_by_someone_else() -> None:
    c = Centre()
    for iid in ("I1", "I2"):
        c.do({"type": "incident_opened", "incident_id": iid, "code": "FALL", "location": PLACE})
    give = {"type": "shift_handed_over", "actor": "alice", "note": "I1 needs a callback"}
    s = c.do({**give, "handover_id": "H1", "incidents": ["I1", "I2"]})
    given = Handover("H1", "alice", c.now, "I1 needs a callback", ("I1", "I2"))
    assert s.handovers == {"H1": given}
    with pytest.raises(
        InvalidTransitionError, match=r"^handover_id: hand-over 'H1' was already given$"
    ):
        c.do({**give, "handover_id": "H1"})
    with pytest.raises(InvalidTransitionError, match=r"^incidents: 'I7' is not an open incident$"):
        c.do({**give, "handover_id": "H2", "incidents": ["I2", "I7", "I8"]})
    s = c.do({**give, "handover_id": "H0"})
    assert list(s.handovers) == ["H1", "H0"] and s.handovers["H0"].incidents == ()
    read = {"type": "handover_acknowledged", "handover_id": "H1"}
    with pytest.raises(NotFoundError, match=r"^handover_id: no hand-over 'H9'$"):
        c.do({**read, "handover_id": "H9", "actor": "bob"})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^handover_id: the next dispatcher acknowledges a hand-over, not the one who gave",
    ):
        c.do({**read, "actor": "alice"})
    s = c.do({**read, "actor": "bob"})
    assert s.handovers["H1"] == replace(given, acknowledged_by="bob", acknowledged_at=c.now)
    assert s.handovers["H0"].acknowledged_by is None
    with pytest.raises(
        InvalidTransitionError,
        match=rf"^handover_id: hand-over 'H1' was acknowledged by bob at {re_iso(c.now)}$",
    ):
        c.do({**read, "actor": "carol"})


def test_events_that_change_nothing_operational_are_only_counted() -> None:
    c = Centre()
    s = c.do({"type": "incident_opened", "incident_id": "I1", "code": "FALL", "location": PLACE})
    for event in (
        {"type": "hold_released", "incident_id": "I1", "reason": "crew free"},
        {"type": "coaching_recorded", "coach": "carol", "colleague": "alice", "topic": "calls"},
    ):
        after = c.do(event)
        assert replace(after, counts=s.counts, last_at=s.last_at) == s
        assert after.counts[event["type"]] == 1 and after.last_at == c.now
    with pytest.raises(NotFoundError, match=r"^incident_id: unknown incident 'I7'$"):
        c.do({"type": "hold_released", "incident_id": "I7", "reason": "closer"})
    c.do({"type": "incident_closed", "incident_id": "I1", "outcome": "treated"})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^incident_id: incident 'I1' is closed and cannot be released$",
    ):
        c.do({"type": "hold_released", "incident_id": "I1", "reason": "closer"})
    # notes on a closed incident are kept in the log but change no state
    before = c.state
    s = c.do({"type": "note_added", "incident_id": "I1"})
    assert replace(s, counts=before.counts, last_at=before.last_at) == before


def test_the_clock_and_the_first_event_are_checked_with_their_text() -> None:
    from planner.centre.events import parse_event
    from planner.centre.state import apply
    from tests.centre.test_state_oracles import CODES

    with pytest.raises(
        InvalidTransitionError,
        match=r"^type: the centre is not configured: the first event must be centre_configured$",
    ):
        apply(CentreState(), parse_event({"type": "note_added", "incident_id": "I1",
                                          "at": T0.isoformat()}), codes=CODES)  # fmt: skip
    with pytest.raises(
        InvalidTransitionError, match=r"^at: the event has no time; the engine stamps it$"
    ):
        apply(CentreState(), parse_event({"type": "centre_configured"}), codes=CODES)
    c = Centre()
    early = (T0 - timedelta(seconds=5)).isoformat()
    with pytest.raises(
        InvalidTransitionError,
        match=rf"^at: {re_iso(T0 - timedelta(seconds=5))} is earlier than the last event "
        rf"\({re_iso(c.now)}\)$",
    ):
        apply(c.state, parse_event({"type": "centre_configured", "at": early}), codes=CODES)
    same = apply(
        c.state, parse_event({"type": "centre_configured", "at": c.now.isoformat()}), codes=CODES
    )
    assert same.counts == {"centre_configured": 2}


def test_unit_state_defaults() -> None:
    """A unit that never relocated waits at its own station."""
    unit = UnitState(
        id="M1", capabilities=frozenset(), home=Location(0.0, 0.0), location=Location(0.0, 0.0),
        status=UnitStatus.AVAILABLE, status_since=T0, station="S1",
    )  # fmt: skip
    assert (unit.waits_at, unit.moves, unit.declined, unit.base) == ("S1", 0, False, None)
    assert replace(unit, base="S2").waits_at == "S2"
    assert replace(unit, base="S2", relocating_to="S3").waits_at == "S3"


def test_escalations_raise_level_command_or_declare_with_exact_refusals() -> None:
    """MASS_CASUALTY: command bronze, silver, gold at levels 1..3. A command level once given
    is never lowered by a level whose own command is lower; a rule fires once per level (the
    incident's level when the event names none)."""
    c = Centre()
    c.do(
        {"type": "incident_opened", "incident_id": "I1", "code": "MASS_CASUALTY", "location": PLACE}
    )
    up = {"type": "incident_escalated", "incident_id": "I1", "cause": "more casualties"}
    s = c.do({**up, "level": 1, "command_level": "gold"})
    assert (s.incidents["I1"].level, s.incidents["I1"].command_level) == (1, "gold")
    s = c.do({**up, "level": 2})  # the code's silver does not lower gold
    assert (s.incidents["I1"].level, s.incidents["I1"].command_level) == (2, "gold")
    same = "^level: incident is already at level 2; an escalation must raise the level, the "
    with pytest.raises(
        InvalidTransitionError, match=same + "command level or declare a major incident$"
    ):
        c.do({**up, "level": 2, "command_level": "silver"})  # lower than gold: no raise
    s = c.do({**up, "level": 2, "major_incident": True})  # declaring is a raise of its own
    assert s.incidents["I1"].major_incident and s.incidents["I1"].escalated_at == c.now
    s = c.do({**up, "level": 2, "rule": "casualties"})
    assert s.incidents["I1"].fired == frozenset({("casualties", 2)})
    with pytest.raises(
        InvalidTransitionError, match=r"^rule: rule 'casualties' already fired at level 2$"
    ):
        c.do({**up, "level": 2, "rule": "casualties"})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^level: level 1 is below the current level 2; use incident_downgraded$",
    ):
        c.do({**up, "level": 1})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^level: level 4 is above the highest level 3 of code MASS_CASUALTY$",
    ):
        c.do({**up, "level": 4})
    c.do({"type": "incident_closed", "incident_id": "I1", "outcome": "treated"})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^incident_id: incident 'I1' is closed and cannot be escalated$",
    ):
        c.do({**up, "level": 3})


def test_refusals_of_closed_incidents_and_dispatch_by_status_name_the_action() -> None:
    c = Centre()
    register(c, "M1", "M2", "M3")
    c.do({"type": "incident_opened", "incident_id": "I1", "code": "FALL", "location": PLACE})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^status: units are dispatched by dispatch_accepted or dispatch_overridden$",
    ):
        status(c, "M1", "dispatched")
    c.do(
        {
            "type": "recommendation_issued", "status": "optimal", "policy": "optimal",
            "cost": 0.0, "unmet": [],
            "assignments": [
                {"unit": u, "incident": "I1", "capability": "ALS", "eta_s": 60.0}
                for u in ("M1", "M2", "M3")
            ],
        }
    )  # fmt: skip
    with pytest.raises(
        InvalidTransitionError,
        match=r"^not_sent: must list the recommended units not sent \(M2, M3\)$",
    ):
        c.do({"type": "dispatch_accepted", "incident_id": "I1", "units": ["M1"], "not_sent": []})
    c.do({"type": "dispatch_accepted", "incident_id": "I1", "units": ["M1"]})
    c.do({"type": "unit_arrived", "unit_id": "M1"})
    status(c, "M1", "transporting")
    with pytest.raises(
        InvalidTransitionError,
        match=r"^unit_id: unit 'M1' is transporting and was not dispatched$",
    ):
        c.do({"type": "unit_arrived", "unit_id": "M1"})
    c.do({"type": "incident_closed", "incident_id": "I1", "outcome": "treated"})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^incident_id: incident 'I1' is closed and cannot be closed again$",
    ):
        c.do({"type": "incident_closed", "incident_id": "I1", "outcome": "treated"})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^incident_id: incident 'I1' is closed and cannot be dispatched to$",
    ):
        send(c, "I1", "M2")

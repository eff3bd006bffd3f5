"""An incident's whole state after each kind of event, field by field (the code table's entries
are the input: MASS_CASUALTY has 3 levels with command bronze/silver/gold and default priority
1; CARDIAC_ARREST has 2 levels and default priority 1; FALL default priority 3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from planner.centre.codes import CodeTable
from planner.centre.events import parse_event
from planner.centre.state import (
    CentreState,
    ClosureState,
    ContactState,
    IncidentState,
    UnitState,
    apply,
)
from planner.dispatch.domain import UnitStatus
from planner.errors import InvalidTransitionError, NotFoundError
from planner.network.geo import Location

CODES = CodeTable.load()
T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
HOME = {"lat": 40.27, "lon": -76.85}
PLACE = {"lat": 40.26, "lon": -76.86}


class Centre:
    """A state advanced one second per event."""

    def __init__(self) -> None:
        self.state = CentreState()
        self.now = T0
        self.do({"type": "centre_configured"})

    def do(self, event: dict[str, Any]) -> CentreState:
        self.now += timedelta(seconds=1)
        self.state = apply(
            self.state, parse_event({"at": self.now.isoformat(), **event}), codes=CODES
        )
        return self.state


def test_an_incident_field_by_field_through_its_updates() -> None:
    c = Centre()
    c.do({"type": "contact_received", "contact_id": "C1", "channel": "phone"})
    methane = {
        "casualties": 3, "hazards": ["fire"], "type": "bus crash", "access": "north gate",
        "services_present": ["police"], "services_required": ["fire"],
    }  # fmt: skip
    event = {"type": "incident_opened", "incident_id": "I1", "code": "MASS_CASUALTY"}
    s = c.do({**event, "contact_id": "C1", "location": PLACE, "methane": methane})
    opened = IncidentState(
        id="I1", code="MASS_CASUALTY", priority=1, level=1,
        location=Location(40.26, -76.86), opened_at=T0 + timedelta(seconds=3),
        contacts=("C1",), major_incident=False, command_level="bronze", casualties=3,
        hazards=("fire",), methane_type="bus crash", access="north gate",
        services_present=("police",), services_required=("fire",),
    )  # fmt: skip
    assert s.incidents["I1"] == opened
    assert s.contacts["C1"].incident == "I1"
    c.do({"type": "note_added", "incident_id": "I1"})
    c.do({"type": "note_added", "incident_id": "I1"})
    for agency in ("police", "gas"):
        c.do({"type": "agency_notified", "incident_id": "I1", "agency": agency, "channel": "phone"})
    c.do({"type": "query_recorded", "incident_id": "I1", "contact_id": "C1", "topic": "eta"})
    s = c.do({"type": "complaint_recorded", "incident_id": "I1", "category": "delay"})
    counted = replace(opened, notes=2, queries=1, complaints=1, agencies=("police", "gas"))
    assert s.incidents["I1"] == counted
    s = c.do({"type": "incident_updated", "incident_id": "I1", "priority": 2})
    assert s.incidents["I1"] == replace(counted, priority=2)
    s = c.do({"type": "incident_escalated", "incident_id": "I1", "level": 3, "cause": "more"})
    escalated = replace(counted, priority=2, level=3, command_level="gold", escalated_at=c.now)
    assert s.incidents["I1"] == escalated
    # a code with two levels: the level comes down to 2, the priority to the new code's default
    s = c.do({"type": "incident_updated", "incident_id": "I1", "code": "CARDIAC_ARREST"})
    recoded = replace(escalated, code="CARDIAC_ARREST", level=2, priority=1)
    assert s.incidents["I1"] == recoded
    s = c.do({"type": "incident_updated", "incident_id": "I1", "code": "FALL", "priority": 2})
    assert (s.incidents["I1"].code, s.incidents["I1"].priority) == ("FALL", 2)
    s = c.do({"type": "incident_updated", "incident_id": "I1", "code": "FALL", "priority": 4})
    assert (s.incidents["I1"].code, s.incidents["I1"].level) == ("FALL", 2)
    major = {"major_incident": True, "casualties": 12}
    s = c.do({"type": "incident_updated", "incident_id": "I1", "methane": major})
    declared = replace(
        recoded, code="FALL", priority=4, major_incident=True, casualties=12, hazards=(),
        methane_type=None, access=None, services_present=(), services_required=(),
    )  # fmt: skip
    assert s.incidents["I1"] == declared
    s = c.do({"type": "incident_updated", "incident_id": "I1", "methane": {"casualties": 1}})
    assert s.incidents["I1"] == replace(declared, casualties=1)  # a major incident stays one
    moved = {"lat": 40.30, "lon": -76.80}
    s = c.do({"type": "incident_updated", "incident_id": "I1", "location": moved})
    assert s.incidents["I1"].location == Location(40.30, -76.80)
    assert s.counts["incident_updated"] == 7 and s.counts["note_added"] == 2


def test_a_registered_unit_field_by_field() -> None:
    c = Centre()
    event = {
        "type": "unit_registered", "unit_id": "M1", "capabilities": ["ALS", "BLS"],
        "home": HOME, "location": PLACE, "call_sign": "Medic 1", "station": "S1",
        "status": "out_of_service",
    }  # fmt: skip
    s = c.do(event)
    assert s.units["M1"] == UnitState(
        id="M1", capabilities=frozenset({"ALS", "BLS"}), home=Location(40.27, -76.85),
        location=Location(40.26, -76.86), status=UnitStatus.OUT_OF_SERVICE,
        status_since=c.now, call_sign="Medic 1", station="S1",
    )  # fmt: skip
    s = c.do({"type": "unit_registered", "unit_id": "M2", "capabilities": ["ALS"], "home": HOME})
    assert s.units["M2"].location == Location(40.27, -76.85)  # starts at home
    assert s.units["M2"].status == UnitStatus.AVAILABLE
    with pytest.raises(InvalidTransitionError, match="'M1' is already registered") as info:
        c.do({"type": "unit_registered", "unit_id": "M1", "capabilities": ["ALS"], "home": HOME})
    assert info.value.field == "unit_id"
    with pytest.raises(
        InvalidTransitionError, match=r"^capabilities: capabilities not in the code table: GAS, X$"
    ):
        c.do(
            {"type": "unit_registered", "unit_id": "M3", "capabilities": ["X", "GAS"], "home": HOME}
        )


def test_accepting_a_recommendation_checks_the_units_not_sent() -> None:
    c = Centre()
    for uid in ("M1", "M2"):
        c.do({"type": "unit_registered", "unit_id": uid, "capabilities": ["ALS"], "home": HOME})
    c.do({"type": "incident_opened", "incident_id": "I1", "code": "FALL", "location": PLACE})
    with pytest.raises(
        InvalidTransitionError, match=r"^units: no units are recommended for incident 'I1'$"
    ):
        c.do({"type": "dispatch_accepted", "incident_id": "I1"})
    recommendation = {
        "type": "recommendation_issued", "status": "optimal", "policy": "optimal", "cost": 0.0,
        "unmet": [],
        "assignments": [
            {"unit": u, "incident": "I1", "capability": "ALS", "eta_s": 60.0} for u in ("M1", "M2")
        ],
    }  # fmt: skip
    c.do(recommendation)
    accept = {"type": "dispatch_accepted", "incident_id": "I1"}
    with pytest.raises(
        InvalidTransitionError,
        match=r"^units: M3, M4 not recommended for 'I1'; use dispatch_overridden with a reason$",
    ):
        c.do({**accept, "units": ["M3", "M4"]})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^not_sent: must list the recommended units not sent \(M2\)$",
    ):
        c.do({**accept, "units": ["M1"], "not_sent": []})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^not_sent: must list the recommended units not sent \(none\)$",
    ):
        c.do({**accept, "not_sent": ["M2"]})
    s = c.do({**accept, "units": ["M1"], "not_sent": ["M2"]})
    assert s.units["M1"].status == UnitStatus.DISPATCHED and s.units["M1"].incident == "I1"
    assert s.units["M2"].status == UnitStatus.AVAILABLE
    assert s.incidents["I1"].units_sent == ("M1",)


def test_road_closures_field_by_field_and_their_refusals() -> None:
    c = Centre()
    on = {"type": "road_closure_on", "closure_id": "RC1"}
    s = c.do({**on, "centre": HOME, "radius_m": 250.0, "factor": 2.5, "reason": "flood"})
    assert s.closures["RC1"] == ClosureState(
        id="RC1", centre=Location(40.27, -76.85), radius_m=250.0, polygon=(), factor=2.5,
        since=c.now, reason="flood",
    )  # fmt: skip
    square = [{"lat": 40.0, "lon": -76.0}, {"lat": 40.0, "lon": -75.9}, {"lat": 40.1, "lon": -76.0}]
    s = c.do({"type": "road_closure_on", "closure_id": "RC2", "polygon": square})
    assert s.closures["RC2"] == ClosureState(
        id="RC2", centre=None, radius_m=None,
        polygon=(Location(40.0, -76.0), Location(40.0, -75.9), Location(40.1, -76.0)),
        factor=None, since=c.now,
    )  # fmt: skip
    with pytest.raises(InvalidTransitionError, match=r"^closure_id: closure 'RC1' is already on$"):
        c.do({**on, "centre": HOME, "radius_m": 10.0})
    both = "^centre: give either centre and radius_m, or polygon$"
    for bad in (
        {"centre": HOME},
        {"radius_m": 10.0},
        {"centre": HOME, "radius_m": 10.0, "polygon": square},
        {"radius_m": 10.0, "polygon": square},
        {},
    ):
        with pytest.raises(InvalidTransitionError, match=both):
            c.do({"type": "road_closure_on", "closure_id": "RC3", **bad})
    s = c.do({"type": "road_closure_off", "closure_id": "RC1"})
    assert list(s.closures) == ["RC2"]
    with pytest.raises(InvalidTransitionError, match=r"^closure_id: no closure 'RC1' is on$"):
        c.do({"type": "road_closure_off", "closure_id": "RC1"})


@pytest.mark.parametrize(
    ("event", "action"),
    [
        ({"type": "incident_updated", "priority": 2}, "updated"),
        ({"type": "incident_downgraded", "level": 1, "cause": "x"}, "downgraded"),
        ({"type": "dispatch_accepted"}, "dispatched to"),
        (
            {"type": "agency_notified", "agency": "gas", "channel": "phone"},
            "the subject of a notification",
        ),
        ({"type": "contact_linked", "contact_id": "C1"}, "linked to"),
    ],
)
def test_a_closed_incident_names_what_it_cannot_be(event: dict[str, Any], action: str) -> None:
    c = Centre()
    c.do({"type": "contact_received", "contact_id": "C1", "channel": "sms"})
    c.do({"type": "incident_opened", "incident_id": "I9", "code": "FALL", "location": PLACE})
    c.do({"type": "incident_closed", "incident_id": "I9", "outcome": "no patient"})
    with pytest.raises(
        InvalidTransitionError,
        match=f"^incident_id: incident 'I9' is closed and cannot be {action}$",
    ):
        c.do({**event, "incident_id": "I9"})


def test_contacts_command_levels_and_unmet_clock_by_hand() -> None:
    c = Centre()
    s = c.do({"type": "contact_received", "contact_id": "C1", "channel": "sms"})
    assert s.contacts["C1"] == ContactState(id="C1", channel="sms", received_at=c.now)
    with pytest.raises(InvalidTransitionError, match=r"^contact_id: contact 'C1' already exists$"):
        c.do({"type": "contact_received", "contact_id": "C1", "channel": "sms"})
    opened = {"type": "incident_opened", "code": "MASS_CASUALTY", "location": PLACE}
    c.do({**opened, "incident_id": "I1", "contact_id": "C1", "priority": 3})
    assert c.state.incidents["I1"].priority == 3
    with pytest.raises(
        InvalidTransitionError, match=r"^incident_id: incident 'I1' already exists$"
    ):
        c.do({**opened, "incident_id": "I1"})
    with pytest.raises(
        InvalidTransitionError,
        match=r"^contact_id: contact 'C1' is already linked to incident 'I1'$",
    ):
        c.do({**opened, "incident_id": "I2", "contact_id": "C1"})
    with pytest.raises(NotFoundError, match=r"^contact_id: unknown contact 'C7'$"):
        c.do({**opened, "incident_id": "I3", "contact_id": "C7"})
    with pytest.raises(NotFoundError, match=r"^contact_id: unknown contact 'C7'$"):
        c.do({"type": "query_recorded", "incident_id": "I1", "contact_id": "C7", "topic": "eta"})
    # gold outranks silver although "silver" sorts after "gold"
    s = c.do({"type": "incident_escalated", "incident_id": "I1", "level": 2, "cause": "x"})
    assert s.incidents["I1"].command_level == "silver"
    s = c.do(
        {"type": "incident_escalated", "incident_id": "I1", "level": 2, "cause": "y",
         "command_level": "gold"}
    )  # fmt: skip
    assert s.incidents["I1"].command_level == "gold"
    with pytest.raises(
        InvalidTransitionError, match=r"^level: level 2 is not below the current level 2$"
    ):
        c.do({"type": "incident_downgraded", "incident_id": "I1", "level": 2, "cause": "z"})

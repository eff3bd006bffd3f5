"""Event JSON: every type parses, errors name the field, personal data splits off and back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.centre.events import (
    EVENT_TYPES,
    IncidentOpened,
    parse_event,
    personal_fields,
    split_personal,
    with_personal,
    without_personal,
)
from planner.errors import InputError

AT = "2026-03-14T07:03:00-05:00"
P = {"lat": 40.2609, "lon": -76.8655}

EXAMPLES: dict[str, dict[str, Any]] = {
    "centre_configured": {"region": "harrisburg", "solver": {"allow_preemption": True}},
    "unit_registered": {"unit_id": "M1", "call_sign": "Medic 1", "capabilities": ["ALS"],
                        "station": "hbg-1", "home": P},
    "unit_removed": {"unit_id": "M1", "reason": "decommissioned"},
    "contact_received": {"contact_id": "C-1", "channel": "phone", "caller_name": "Dana",
                         "caller_phone": "+1 717 555 0142", "summary": "not breathing"},
    "incident_opened": {"incident_id": "I-1", "contact_id": "C-1", "code": "CARDIAC_ARREST",
                        "location": P, "address": "1412 Derry St", "details": "CPR in progress",
                        "methane": {"major_incident": False, "exact_location": "kitchen",
                                    "type": "medical", "hazards": ["dog"], "access": "front",
                                    "casualties": 1, "services_present": [],
                                    "services_required": ["ambulance"]}},
    "contact_linked": {"contact_id": "C-2", "incident_id": "I-1"},
    "incident_updated": {"incident_id": "I-1", "methane": {"casualties": 3}},
    "incident_escalated": {"incident_id": "I-1", "level": 2, "cause": "3 casualties",
                           "command_level": "silver", "major_incident": False},
    "incident_downgraded": {"incident_id": "I-1", "level": 1, "cause": "false alarm"},
    "hold_released": {"incident_id": "I-1", "reason": "hold bound reached"},
    "unit_status_changed": {"unit_id": "M1", "status": "transporting", "reason": "to UPMC"},
    "unit_moved": {"unit_id": "M1", "location": P},
    "recommendation_issued": {"status": "optimal", "policy": "optimal", "cost": 120.0,
                              "assignments": [{"unit": "M1", "incident": "I-1",
                                               "capability": "ALS", "eta_s": 240.0}],
                              "unmet": []},
    "dispatch_accepted": {"incident_id": "I-1", "units": ["M1", "A6"]},
    "dispatch_overridden": {"incident_id": "I-1", "units": ["M2"], "instead_of": ["M1"],
                            "reason": "M2 is already at the hospital next door"},
    "unit_acknowledged": {"unit_id": "M1"},
    "unit_arrived": {"unit_id": "M1"},
    "incident_closed": {"incident_id": "I-1", "outcome": "transported", "summary": "ROSC"},
    "note_added": {"incident_id": "I-1", "text": "wife travelling separately"},
    "query_recorded": {"incident_id": "I-1", "topic": "hospital", "text": "where is he?"},
    "complaint_recorded": {"incident_id": "I-1", "category": "response time", "text": "slow"},
    "agency_notified": {"incident_id": "I-1", "agency": "PennDOT", "channel": "phone",
                        "reference": "PD8-07"},
    "coaching_recorded": {"coach": "morgan", "colleague": "alice", "topic": "overrides",
                          "figure": "dispatch", "incidents": ["I-1"], "follow_up": "2026-03-21",
                          "notes": "agreed a checklist"},
    "alert_acknowledged": {"alert_id": "escalation:I-1:2", "kind": "escalation",
                           "incident_id": "I-1"},
    "shift_handed_over": {"handover_id": "HO-1", "note": "I-1 waits for police",
                          "incidents": ["I-1"]},
    "handover_acknowledged": {"handover_id": "HO-1"},
    "road_closure_on": {"closure_id": "RC-1", "centre": P, "radius_m": 150, "factor": None},
    "road_closure_off": {"closure_id": "RC-1"},
    "relocation_recommended": {"policy": "coverage+dmexclp", "trigger": "timer", "moves": [
        {"unit": "M1", "from_station": "S1", "to_station": "S2", "to": {"lat": 52.0, "lon": 5.0},
         "drive_s": 300.0, "coverage_gain": 0.031, "explanation": "move M1 to S2"}],
        "coverage_now": 0.5, "coverage_after": 0.531, "busy_fraction": 0.3},
    "relocation_accepted": {"unit_id": "M1"},
    "relocation_declined": {"unit_id": "M1", "reason": "crew on a break"},
}  # fmt: skip


def test_every_event_type_has_a_parsing_example() -> None:
    assert set(EXAMPLES) == set(EVENT_TYPES)
    for kind, body in EXAMPLES.items():
        event = parse_event({"type": kind, "at": AT, "actor": "dispatcher:alice", **body})
        assert event.type == kind and event.at is not None and event.at.utcoffset() is not None
        again = parse_event(json.loads(event.model_dump_json()))
        assert again == event


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "unit_moved", "unit_id": "M1"}, "location"),
        ({"type": "unit_moved", "unit_id": "M", "location": {"lat": 1, "lon": 181}},
         "location.lon"),
        ({"type": "unit_moved", "unit_id": "", "location": P}, "unit_id"),
        ({"type": "unit_moved", "unit_id": "M1", "location": P, "at": "2026-03-14T07:00:00"}, "at"),
        ({"type": "unit_moved", "unit_id": "M1", "location": P, "colour": "red"}, "colour"),
        ({"type": "contact_received", "contact_id": "C", "channel": "pigeon"}, "channel"),
        ({"type": "dispatch_overridden", "incident_id": "I", "units": ["M1"]}, "reason"),
        ({"type": "teleported"}, "type"),
        ({}, "type"),
    ],
)  # fmt: skip
def test_errors_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as info:
        parse_event(data)
    assert info.value.field == field


def test_personal_fields_are_marked() -> None:
    assert personal_fields(IncidentOpened) == {"address", "details", "methane.exact_location"}
    for kind, cls in EVENT_TYPES.items():
        for name in personal_fields(cls):
            assert name.split(".")[-1] not in {"incident_id", "unit_id", "code", "location"}, kind


def test_split_keeps_personal_data_out_of_the_payload_and_merges_back() -> None:
    event = parse_event({"type": "incident_opened", "at": AT, **EXAMPLES["incident_opened"]})
    payload, private = split_personal(event)
    assert private == {
        "address": "1412 Derry St",
        "details": "CPR in progress",
        "methane": {"exact_location": "kitchen"},
    }
    text = json.dumps(payload)
    assert "Derry" not in text and "kitchen" not in text and "CPR" not in text
    assert payload["methane"]["casualties"] == 1
    assert parse_event(with_personal(payload, private)) == event
    stripped = without_personal(event)
    assert split_personal(stripped) == (payload, None)


@given(
    name=st.one_of(st.none(), st.text(min_size=1, max_size=30)),
    phone=st.one_of(st.none(), st.text(min_size=1, max_size=20)),
)
def test_split_and_merge_round_trip(name: str | None, phone: str | None) -> None:
    event = parse_event(
        {
            "type": "contact_received",
            "at": AT,
            "contact_id": "C-1",
            "channel": "sms",
            "caller_name": name,
            "caller_phone": phone,
        }
    )
    payload, private = split_personal(event)
    assert "caller_name" not in payload and "caller_phone" not in payload
    assert parse_event(with_personal(payload, private)) == event

"""The centre state as a pure fold: valid events move it on, invalid ones change nothing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.centre.codes import CodeTable, UnknownCodeError
from planner.centre.events import (
    RecommendationIssued,
    RecommendedAssignment,
    RecommendedUnmet,
    parse_event,
)
from planner.centre.state import CentreState, apply
from planner.dispatch.domain import BUSY_AT_INCIDENT_STATUSES, UnitStatus
from planner.errors import InvalidTransitionError, NotFoundError

CODES = CodeTable.load()
T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
HOME = {"lat": 40.27, "lon": -76.85}


def step(state: CentreState, event: dict[str, Any], *, seconds: float | None = None) -> CentreState:
    last = state.last_at or T0
    at = last + timedelta(seconds=1) if seconds is None else T0 + timedelta(seconds=seconds)
    return apply(state, parse_event({"at": at.isoformat(), **event}), codes=CODES)


def recommend(state: CentreState, *pairs: tuple[str, str, str]) -> CentreState:
    event = RecommendationIssued(
        at=(state.last_at or T0) + timedelta(seconds=1),
        status="optimal",
        policy="optimal",
        assignments=[
            RecommendedAssignment(unit=u, incident=i, capability=c, eta_s=300.0)
            for u, i, c in pairs
        ],
        unmet=[],
        cost=0.0,
    )
    return apply(state, event, codes=CODES)


def unit(uid: str, capability: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "unit_registered",
        "unit_id": uid,
        "capabilities": [capability],
        "home": HOME,
        **extra,
    }


def incident(iid: str, code: str, contact: str | None = None) -> dict[str, Any]:
    return {
        "type": "incident_opened",
        "incident_id": iid,
        "code": code,
        "contact_id": contact,
        "location": {"lat": 40.26, "lon": -76.86},
    }


def build_base() -> CentreState:
    """Configured; I1 (cardiac arrest, level 2) has M1 dispatched and M2 on scene; I2 (fall)
    open with nothing recommended; I9 closed; C2 unlinked; P1 out of service; closure RC1 on."""
    s = step(CentreState(), {"type": "centre_configured"})
    for event in (
        unit("M1", "ALS"),
        unit("M2", "ALS"),
        unit("A1", "BLS"),
        unit("E1", "ENGINE"),
        unit("P1", "POLICE", status="out_of_service"),
        {"type": "contact_received", "contact_id": "C1", "channel": "phone"},
        {"type": "contact_received", "contact_id": "C2", "channel": "sms"},
        incident("I1", "CARDIAC_ARREST", "C1"),
        incident("I2", "FALL"),
        incident("I9", "FALL"),
        {"type": "incident_closed", "incident_id": "I9", "outcome": "no patient found"},
        {
            "type": "incident_escalated",
            "incident_id": "I1",
            "level": 2,
            "cause": "second patient",
            "rule": "casualties",
            "from_level": 1,
        },
        {"type": "road_closure_on", "closure_id": "RC1", "centre": HOME, "radius_m": 100},
    ):
        s = step(s, event)
    s = recommend(s, ("M1", "I1", "ALS"), ("M2", "I1", "ALS"), ("A1", "I1", "BLS"))
    s = step(s, {"type": "dispatch_accepted", "incident_id": "I1", "units": ["M1", "M2"]})
    s = step(s, {"type": "unit_arrived", "unit_id": "M2"})
    return s


@pytest.fixture(scope="module")
def base() -> CentreState:
    return build_base()


INVALID: list[tuple[str, dict[str, Any], str]] = [
    (
        "on scene without dispatch",
        {"type": "unit_status_changed", "unit_id": "A1", "status": "on_scene"},
        "status",
    ),
    ("arrived without dispatch", {"type": "unit_arrived", "unit_id": "A1"}, "unit_id"),
    (
        "closed incident escalated",
        {"type": "incident_escalated", "incident_id": "I9", "level": 2, "cause": "x"},
        "incident_id",
    ),
    (
        "unknown incident escalated",
        {"type": "incident_escalated", "incident_id": "I404", "level": 2, "cause": "x"},
        "incident_id",
    ),
    (
        "level above the code's last",
        {"type": "incident_escalated", "incident_id": "I1", "level": 3, "cause": "x"},
        "level",
    ),
    (
        "escalated below the current level",
        {"type": "incident_escalated", "incident_id": "I1", "level": 1, "cause": "x"},
        "level",
    ),
    (
        "escalation that changes nothing",
        {"type": "incident_escalated", "incident_id": "I1", "level": 2, "cause": "x"},
        "level",
    ),
    (
        "rule fired twice at one level",
        {
            "type": "incident_escalated",
            "incident_id": "I1",
            "level": 2,
            "cause": "x",
            "rule": "casualties",
            "from_level": 1,
        },
        "rule",
    ),
    (
        "downgrade not below",
        {"type": "incident_downgraded", "incident_id": "I1", "level": 2, "cause": "x"},
        "level",
    ),
    ("unknown unit moved", {"type": "unit_moved", "unit_id": "X9", "location": HOME}, "unit_id"),
    ("duplicate unit", unit("M1", "ALS"), "unit_id"),
    ("capability not in the code table", unit("Z1", "SPACESHIP"), "capabilities"),
    (
        "duplicate contact",
        {"type": "contact_received", "contact_id": "C1", "channel": "web"},
        "contact_id",
    ),
    ("duplicate open incident", incident("I1", "FALL"), "incident_id"),
    ("reopened closed incident", incident("I9", "FALL"), "incident_id"),
    ("incident from a linked contact", incident("I3", "FALL", "C1"), "contact_id"),
    ("incident from an unknown contact", incident("I3", "FALL", "C404"), "contact_id"),
    (
        "dispatch status by status change",
        {"type": "unit_status_changed", "unit_id": "A1", "status": "dispatched"},
        "status",
    ),
    ("acknowledge while available", {"type": "unit_acknowledged", "unit_id": "A1"}, "unit_id"),
    (
        "accept a unit not recommended",
        {"type": "dispatch_accepted", "incident_id": "I1", "units": ["E1"]},
        "units",
    ),
    (
        "accept with nothing recommended",
        {"type": "dispatch_accepted", "incident_id": "I2"},
        "units",
    ),
    (
        "override with an out-of-service unit",
        {"type": "dispatch_overridden", "incident_id": "I2", "units": ["P1"], "reason": "nearest"},
        "units",
    ),
    (
        "override with an unknown unit",
        {"type": "dispatch_overridden", "incident_id": "I2", "units": ["X9"], "reason": "nearest"},
        "units",
    ),
    (
        "override with a unit on scene",
        {"type": "dispatch_overridden", "incident_id": "I2", "units": ["M2"], "reason": "nearest"},
        "units",
    ),
    (
        "override with a unit twice",
        {
            "type": "dispatch_overridden",
            "incident_id": "I2",
            "units": ["A1", "A1"],
            "reason": "nearest",
        },
        "units",
    ),
    (
        "dispatch to a closed incident",
        {"type": "dispatch_overridden", "incident_id": "I9", "units": ["A1"], "reason": "nearest"},
        "incident_id",
    ),
    (
        "link an unknown contact",
        {"type": "contact_linked", "contact_id": "C404", "incident_id": "I1"},
        "contact_id",
    ),
    (
        "link a linked contact",
        {"type": "contact_linked", "contact_id": "C1", "incident_id": "I2"},
        "contact_id",
    ),
    (
        "link to a closed incident",
        {"type": "contact_linked", "contact_id": "C2", "incident_id": "I9"},
        "incident_id",
    ),
    (
        "close a closed incident",
        {"type": "incident_closed", "incident_id": "I9", "outcome": "x"},
        "incident_id",
    ),
    ("update a closed incident", {"type": "incident_updated", "incident_id": "I9"}, "incident_id"),
    ("remove a committed unit", {"type": "unit_removed", "unit_id": "M1"}, "unit_id"),
    (
        "out of service while on scene",
        {"type": "unit_status_changed", "unit_id": "M2", "status": "out_of_service"},
        "status",
    ),
    (
        "transporting before on scene",
        {"type": "unit_status_changed", "unit_id": "M1", "status": "transporting"},
        "status",
    ),
    (
        "available again",
        {"type": "unit_status_changed", "unit_id": "A1", "status": "available"},
        "status",
    ),
    (
        "complaint from an unknown contact",
        {
            "type": "complaint_recorded",
            "incident_id": "I1",
            "contact_id": "C404",
            "category": "rude",
        },
        "contact_id",
    ),
    ("note on an unknown incident", {"type": "note_added", "incident_id": "I404"}, "incident_id"),
    (
        "agency notified for a closed incident",
        {"type": "agency_notified", "incident_id": "I9", "agency": "PSP", "channel": "radio"},
        "incident_id",
    ),
    (
        "closure already on",
        {"type": "road_closure_on", "closure_id": "RC1", "centre": HOME, "radius_m": 50},
        "closure_id",
    ),
    ("closure without an area", {"type": "road_closure_on", "closure_id": "RC2"}, "centre"),
    ("closure off that is not on", {"type": "road_closure_off", "closure_id": "RC2"}, "closure_id"),
]


@pytest.mark.parametrize(("name", "event", "field"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_transition_is_rejected_and_changes_nothing(
    base: CentreState, name: str, event: dict[str, Any], field: str
) -> None:
    snapshot = copy.deepcopy(base)
    with pytest.raises(InvalidTransitionError) as info:
        step(base, event)
    assert info.value.field == field, f"{name}: {info.value}"
    # an id that never existed is "not found"; a closed incident is a refused transition
    assert isinstance(info.value, NotFoundError) == ("unknown" in name), f"{name}: {info.value!r}"
    assert base == snapshot


@pytest.mark.parametrize(
    "event",
    [
        incident("I3", "NOT_A_CODE"),
        {"type": "incident_updated", "incident_id": "I2", "code": "NOPE"},
    ],
    ids=["open", "update"],
)
def test_unknown_code_is_bad_input_naming_code_and_changes_nothing(
    base: CentreState, event: dict[str, Any]
) -> None:
    snapshot = copy.deepcopy(base)
    with pytest.raises(UnknownCodeError) as info:
        step(base, event)
    assert info.value.field == "code"
    assert not isinstance(info.value, InvalidTransitionError)
    assert base == snapshot


def test_events_before_the_clock_or_configuration_are_rejected(base: CentreState) -> None:
    with pytest.raises(InvalidTransitionError) as info:
        step(base, {"type": "note_added", "incident_id": "I1"}, seconds=0)
    assert info.value.field == "at"
    with pytest.raises(InvalidTransitionError) as info:
        step(CentreState(), unit("M1", "ALS"))
    assert info.value.field == "type"


def test_dispatch_cycle_and_close_free_the_units(base: CentreState) -> None:
    s = step(base, {"type": "unit_acknowledged", "unit_id": "M1"})
    assert s.units["M1"].status == UnitStatus.EN_ROUTE and s.units["M1"].acknowledged
    s = step(s, {"type": "unit_arrived", "unit_id": "M1"})
    assert s.units["M1"].status == UnitStatus.ON_SCENE
    assert s.units["M1"].location == s.incidents["I1"].location
    s = step(s, {"type": "unit_status_changed", "unit_id": "M1", "status": "transporting"})
    s = step(s, {"type": "incident_closed", "incident_id": "I1", "outcome": "transported"})
    assert "I1" not in s.incidents and "I1" in s.closed_incidents
    assert s.units["M2"].status == UnitStatus.AVAILABLE and s.units["M2"].incident is None
    assert s.units["M1"].status == UnitStatus.TRANSPORTING and s.units["M1"].incident is None
    # complaints and queries may still be recorded against a closed incident
    s = step(
        s,
        {
            "type": "complaint_recorded",
            "incident_id": "I1",
            "contact_id": "C1",
            "category": "delay",
        },
    )
    assert s.counts["complaint_recorded"] == 1


def test_override_diverts_a_committed_unit_and_counts(base: CentreState) -> None:
    s = step(
        base,
        {
            "type": "dispatch_overridden",
            "incident_id": "I2",
            "units": ["M1"],
            "reason": "closer on the radio",
            "instead_of": ["A1"],
        },
    )
    assert s.units["M1"].incident == "I2" and s.units["M1"].status == UnitStatus.DISPATCHED
    assert s.incidents["I2"].overrides == 1 and s.incidents["I2"].units_sent == ("M1",)


def test_duplicate_caller_and_escalation_raise_command(base: CentreState) -> None:
    s = step(base, {"type": "contact_linked", "contact_id": "C2", "incident_id": "I1"})
    assert s.incidents["I1"].contacts == ("C1", "C2")
    assert s.contacts["C2"].incident == "I1"
    s = step(
        s,
        {
            "type": "incident_escalated",
            "incident_id": "I1",
            "level": 2,
            "cause": "crowd",
            "command_level": "silver",
            "major_incident": True,
        },
    )
    assert s.incidents["I1"].command_level == "silver" and s.incidents["I1"].major_incident
    s = step(s, {"type": "incident_downgraded", "incident_id": "I1", "level": 1, "cause": "one"})
    assert s.incidents["I1"].level == 1 and s.incidents["I1"].command_level == "silver"


def test_recommendation_tracks_when_requirements_went_unmet(base: CentreState) -> None:
    short = RecommendationIssued(
        at=base.last_at + timedelta(seconds=5) if base.last_at else T0,
        status="optimal",
        policy="optimal",
        assignments=[],
        unmet=[RecommendedUnmet(incident="I2", capability="BLS", missing=1, reason="none free")],
        cost=0.0,
    )
    s = apply(base, short, codes=CODES)
    assert s.incidents["I2"].unmet_since == short.at
    later = base.last_at + timedelta(seconds=65) if base.last_at else T0
    again = apply(s, short.model_copy(update={"at": later}), codes=CODES)
    assert again.incidents["I2"].unmet_since == short.at


VOCABULARY = st.sampled_from(
    [
        {"type": "unit_status_changed", "unit_id": u, "status": s}
        for u in ("M1", "M2", "A1", "P1")
        for s in (
            "en_route",
            "on_scene",
            "transporting",
            "at_hospital",
            "returning",
            "available",
            "out_of_service",
        )
    ]
    + [{"type": "unit_arrived", "unit_id": u} for u in ("M1", "M2", "A1")]
    + [{"type": "unit_acknowledged", "unit_id": u} for u in ("M1", "A1")]
    + [
        {"type": "dispatch_overridden", "incident_id": i, "units": [u], "reason": "test"}
        for i in ("I1", "I2", "I9")
        for u in ("M1", "M2", "A1", "E1", "P1")
    ]
    + [{"type": "incident_closed", "incident_id": i, "outcome": "done"} for i in ("I1", "I2")]
    + [{"type": "unit_removed", "unit_id": u} for u in ("E1", "P1")]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(VOCABULARY, max_size=25))
def test_any_event_sequence_keeps_units_consistent(events: list[dict[str, Any]]) -> None:
    state = BASE_FOR_PROPERTY
    for event in events:
        before = state
        try:
            state = step(state, event)
        except InvalidTransitionError:
            assert state is before
            continue
        for u in state.units.values():
            if u.status in BUSY_AT_INCIDENT_STATUSES:
                assert u.incident in state.incidents, (u, event)
        for contact in state.contacts.values():
            if contact.incident is not None:
                assert (
                    contact.incident in state.incidents
                    or contact.incident in state.closed_incidents
                )


BASE_FOR_PROPERTY = build_base()

"""Performance reviews from a real incident log: the sample shift applied through the engine."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from planner.centre.codes import CodeTable
from planner.centre.engine import Engine
from planner.errors import InputError
from planner.log.incident_log import IncidentLog
from planner.review.performance import (
    PERSON_COLUMNS,
    build_review,
    load_roster,
    person_of,
    review_markdown,
)
from planner.settings import SCENARIOS_DIR


@pytest.fixture(scope="module")
def shift_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('review') / 'shift.sqlite'}"
    lines = (SCENARIOS_DIR / "sample-shift.jsonl").read_text().splitlines()
    with IncidentLog(url) as log:
        engine = Engine(codes=CodeTable.load(), log=log)
        for line in lines:
            if line.strip():
                engine.submit(json.loads(line))
    return url


@pytest.fixture(scope="module")
def roster(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    path = tmp_path_factory.mktemp("roster") / "roster.yaml"
    path.write_text("teams:\n  red: [alice, bob]\n  blue: [carol]\n")
    return load_roster(path)


def test_person_of_reads_staff_actors_only() -> None:
    assert person_of("dispatcher:alice") == "alice"
    assert person_of("calltaker:bob") == "bob"
    assert person_of("unit:M1") is None
    assert person_of("system") is None


def test_alice_is_charged_only_with_the_dispatch_segments_she_owns(
    shift_log: str, roster: dict[str, str]
) -> None:
    review = build_review(shift_log, roster=roster)
    alice = review["dispatchers"]["alice"]
    assert alice["team"] == "red"
    assert alice["roles"] == ["dispatcher"]
    # Every incident was opened, then dispatched 30 s later by alice: five dispatch segments.
    assert alice["dispatch"]["n"] == 5
    assert alice["dispatch"]["mean_s"] == 30.0
    assert alice["dispatch_by_code"]["CARDIAC_ARREST"]["mean_s"] == 30.0  # not 90 s
    assert alice["call_handling"]["n"] == 0 and alice["answer"]["n"] == 0
    assert alice["complaints_on_handled"] == 0
    assert "compliance" not in alice  # response time is the centre's figure
    owned = {
        (name, s["owner"])
        for inc in review["incidents"].values()
        for name, s in inc["segments"].items()
        if s["owner"] == "alice"
    }
    assert owned == {("dispatch", "alice")}
    assert all("complaint" not in note for note in review["coaching"]["alice"])


def test_call_handling_and_contacts_belong_to_the_call_taker(shift_log: str) -> None:
    review = build_review(shift_log)
    bob = review["dispatchers"]["bob"]
    # Received C-0701, C-0702, C-0704, C-0706; linking C-0704 does not count it again.
    assert bob["contacts_handled"] == 4
    assert bob["contacts_linked"] == 1
    assert bob["incidents_opened"] == 3
    assert bob["dispatches"] == 0 and bob["roles"] == ["calltaker"]
    # I-0701: contact 07:02, opened 07:03; C-0704 received 07:23, linked 07:23:30.
    assert bob["call_handling_by_code"]["CARDIAC_ARREST"]["mean_s"] == 60.0
    assert bob["call_handling_by_code"]["ROAD_TRAFFIC_COLLISION_INJURY"]["mean_s"] == 30.0
    # The web contact C-0705 is handled by carol, who opened the gas leak from it.
    assert review["dispatchers"]["carol"]["contacts_handled"] == 2
    assert review["centre"]["contacts"] == 6


def test_a_complaint_is_charged_to_who_handled_the_contact(shift_log: str) -> None:
    review = build_review(shift_log)
    # The complaint about C-0702 (texts not answered) was recorded by carol; bob took the texts.
    assert review["dispatchers"]["bob"]["complaints_on_handled"] == 1
    assert review["dispatchers"]["carol"]["complaints_on_handled"] == 0
    assert "complaint" in " ".join(review["coaching"]["bob"])


def test_crews_own_turnout_travel_and_on_scene(shift_log: str) -> None:
    units = build_review(shift_log)["units"]
    # M5: dispatched 07:11:30, acknowledged 07:22 (630 s), arrived 07:40 (1080 s).
    assert units["M5"]["turnout"]["mean_s"] == 630.0
    assert units["M5"]["travel"]["mean_s"] == 1080.0
    # M1: acknowledged 07:04, arrived 07:12, transporting 07:43.
    assert units["M1"]["travel"]["mean_s"] == 480.0
    assert units["M1"]["on_scene"]["mean_s"] == 1860.0
    assert units["G1"]["dispatches"] == 1 and units["G1"]["turnout"]["n"] == 0


def test_crew_suggestions_name_the_unit_not_the_dispatcher(shift_log: str) -> None:
    review = build_review(shift_log)
    # M5 took 630 s to acknowledge; the fleet's median turnout is 42 s.
    assert review["crew_suggestions"]["M5"] == [
        "slow acknowledgement/turnout: median 630 s against 42 s for the fleet (few calls: 1)"
    ]
    assert not any("630" in note for notes in review["coaching"].values() for note in notes)
    assert "- **M5**: slow acknowledgement/turnout" in review_markdown(review)


def test_an_override_is_costed_like_for_like_and_marked_reversed(shift_log: str) -> None:
    review = build_review(shift_log)
    (override,) = review["overrides"]
    assert override["incident"] == "I-0705"
    # The sergeant cannot fill the POLICE slot of P3: no cost is claimed for the swap.
    assert override["unfilled"] == [{"unit": "P3", "capability": "POLICE"}]
    assert override["added"] == ["S1"]
    assert override["eta_cost_s"] is None
    # P3 was sent after all at 07:37, 30 s later.
    assert override["reversed_after_s"] == 30.0
    alice = review["dispatchers"]["alice"]
    assert alice["overridden"] == 1 and alice["overrides_reversed"] == 1
    assert alice["override_eta_cost_s"]["n"] == 0
    assert alice["override_reasons"] == ["weapon reported: sergeant attends with the first car"]
    assert "reversed" in " ".join(review["coaching"]["alice"])
    narrow = build_review(shift_log, reversal_window_s=10.0)
    assert narrow["overrides"][0]["reversed_after_s"] is None


def test_incidents_without_arrival_are_listed_with_why(shift_log: str) -> None:
    review = build_review(shift_log)
    missing = {i["incident"]: i["why"] for i in review["incidents_without_arrival"]}
    assert set(missing) == {"I-0704", "I-0705"}
    assert "closed without a recorded arrival (outcome: leak made safe)" in missing["I-0704"]
    assert "sent G1, acknowledged none" in missing["I-0704"]
    centre = review["centre"]
    assert centre["incidents"] == 5
    assert (centre["reached"], centre["without_arrival"]) == (3, 2)
    # I-0701 600 s > 420 s, I-0702 1800 s > 1080 s, I-0703 780 s <= 1080 s.
    assert centre["target_met"] == 1


def test_markdown_carries_every_figure_of_the_json(shift_log: str) -> None:
    review = build_review(shift_log, roster={"alice": "red", "bob": "red", "carol": "blue"})
    text = review_markdown(review)
    shown = {key for cols in PERSON_COLUMNS.values() for _, key in cols}
    shown |= {"team", "roles", "override_reasons"}
    shown |= {f"{seg}_by_code" for seg in ("answer", "call_handling", "dispatch")}
    for person in review["dispatchers"].values():
        assert set(person) <= shown, set(person) - shown
    for heading, _ in [c for cols in PERSON_COLUMNS.values() for c in cols]:
        assert f" {heading} |" in text
    assert "weapon reported: sergeant attends with the first car" in text
    assert "| alice | red | 7 | 6 | 1 | 14 % | 1 |" in text
    assert "| bob | red | 4 | 1 | 3 |" in text
    assert "I-0704 (GAS_LEAK): closed without a recorded arrival" in text
    assert "**reversed** 30 s later" in text
    assert "### Teams, dispatch" in text and "| blue |" in text


def test_times_are_shown_in_the_centre_time_zone(shift_log: str) -> None:
    review = build_review(shift_log, tz="America/Chicago")
    assert review["period"]["time_zone"] == "America/Chicago"
    # 06:55-05:00 is 06:55 CDT on 2026-03-14 (daylight saving time began on 8 March).
    assert review["period"]["first_event"] == "2026-03-14T06:55:00-05:00"
    step = review["incidents"]["I-0701"]["timeline"][0]
    assert step["at"] == "2026-03-14T07:03:00-05:00"
    assert review_markdown(review).startswith("# Performance review, 2026-03-14T06:55:00-05:00")
    with pytest.raises(InputError, match="unknown time zone") as info:
        build_review(shift_log, tz="Mars/Olympus")
    assert info.value.field == "tz"


def test_figures_on_few_calls_are_marked(shift_log: str) -> None:
    review = build_review(shift_log, min_calls=5)
    assert review["dispatchers"]["alice"]["dispatch"]["few_calls"] is False
    assert review["dispatchers"]["bob"]["call_handling"]["few_calls"] is True
    assert "(4*)" in review_markdown(review)
    relaxed = build_review(shift_log, min_calls=2)
    assert relaxed["dispatchers"]["bob"]["call_handling"]["few_calls"] is False
    with pytest.raises(InputError, match="at least 1") as info:
        build_review(shift_log, min_calls=0)
    assert info.value.field == "min_calls"


def test_incident_timelines_and_coaching(shift_log: str) -> None:
    review = build_review(shift_log)
    cardiac = review["incidents"]["I-0701"]
    kinds = [step["type"] for step in cardiac["timeline"]]
    assert kinds[0] == "incident_opened"
    assert "dispatch_accepted" in kinds
    assert kinds[-1] == "incident_closed"
    assert cardiac["response_s"] == 600.0  # contact 07:02, first arrival 07:12
    assert cardiac["segments"]["call_handling"] == {"owner": "bob", "seconds": 60.0}
    assert cardiac["segments"]["travel"]["seconds"] == 480.0
    assert all("caller_name" not in step for step in cardiac["timeline"])
    text = review_markdown(review)
    assert "## Coaching suggestions" in text
    assert "### I-0705" in text


def test_period_filter(shift_log: str) -> None:
    late = build_review(shift_log, start=datetime(2026, 3, 14, 13, 30, tzinfo=UTC))
    assert set(late["incidents"]) < {"I-0701", "I-0702", "I-0703", "I-0704", "I-0705"}
    none = build_review(shift_log, start=datetime(2027, 1, 1, tzinfo=UTC))
    assert none["incidents"] == {}
    assert none["coaching"] == {}


def test_bad_roster_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text("people: [alice]\n")
    with pytest.raises(InputError) as info:
        load_roster(path)
    assert info.value.field == "roster.teams"


def test_a_roster_with_a_person_twice_as_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text("teams:\n  red: [alice]\n  red: [bob]\n")
    with pytest.raises(InputError, match="duplicate key 'red'") as info:
        load_roster(path)
    assert info.value.field == "teams.red"


def test_markdown_titles_the_period_by_its_events_and_has_no_empty_columns(shift_log: str) -> None:
    review = build_review(shift_log)
    first, last = review["period"]["first_event"], review["period"]["last_event"]
    assert first is not None and last is not None and first < last
    text = review_markdown(review)
    assert text.splitlines()[0] == f"# Performance review, {first} – {last}"
    tables = [block.splitlines() for block in text.split("\n\n") if block.startswith("|")]
    assert [t[0].split(" | ")[0] for t in tables] == [
        "| segment",
        "| person",
        "| person",
        "| team",
        "| team",
        "| unit",
    ]
    for table in tables:
        assert "| |" not in table[0]
        assert {line.count("|") for line in table} == {table[0].count("|")}, table


def test_an_empty_period_says_so(shift_log: str) -> None:
    review = build_review(shift_log, start=datetime(2027, 1, 1, tzinfo=UTC))
    assert review["period"]["first_event"] is None
    text = review_markdown(review)
    assert text.splitlines()[0] == "# Performance review, from 2027-01-01T00:00:00+00:00"
    assert "No activity in this period." in text and "|" not in text


def test_an_empty_log_is_the_whole_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    IncidentLog(url).close()
    text = review_markdown(build_review(url))
    assert text == "# Performance review, whole log\n\nNo activity in this period.\n"


def test_coaching_shows_whether_the_figure_moved_afterwards(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coached.sqlite'}"
    session = {
        "type": "coaching_recorded",
        "at": "2026-03-14T07:30:00-05:00",
        "actor": "supervisor:morgan",
        "coach": "morgan",
        "colleague": "alice",
        "topic": "overrides on police calls",
        "figure": "override_rate",
        "incidents": ["I-0703"],
        "follow_up": "2026-03-21",
    }
    with IncidentLog(url) as log:
        engine = Engine(codes=CodeTable.load(), log=log)
        for line in (SCENARIOS_DIR / "sample-shift.jsonl").read_text().splitlines():
            event = json.loads(line)
            if session and event["at"] > session["at"]:
                engine.submit(session)
                session = {}
            engine.submit(event)
    (held,) = build_review(url)["coaching_sessions"]
    assert (held["coach"], held["colleague"], held["figure"]) == (
        "morgan",
        "alice",
        "override_rate",
    )
    # Before 07:30 alice accepted 4 dispatches and overrode none; after: I-0704 accepted,
    # I-0705 overridden, then accepted: 1 of 3.
    assert held["before"] == {"n": 4, "value": 0.0, "few_calls": True}
    assert held["after"] == {"n": 3, "value": 0.333, "few_calls": True}
    assert held["moved"] == "worsened (few calls)"
    text = review_markdown(build_review(url))
    assert "morgan with alice: overrides on police calls (incidents I-0703)" in text
    assert "before 0 % (n=4*), after 33 % (n=3*): worsened (few calls)" in text


AT = "2026-03-14T09:00:{:02d}+00:00"


def _police_log(path: Path, overrides: list[dict[str, object]]) -> str:
    """Crow-fly at 36 km/h (10 m/s), no detour, units due north of the incident on its
    meridian: P1 0.001°, P2 0.01°, P3 0.05° away; a sergeant S1 next to the incident."""
    url = f"sqlite:///{path}"
    at = AT

    def unit(uid: str, cap: str, dlat: float) -> dict[str, object]:
        return {"type": "unit_registered", "at": at.format(1), "unit_id": uid,
                "capabilities": [cap], "home": {"lat": 40.0 + dlat, "lon": -76.0}}  # fmt: skip

    events = [
        {"type": "centre_configured", "at": at.format(0),
         "crow_fly": {"speed_kmh": 36.0, "detour_factor": 1.0}},
        unit("P1", "POLICE", 0.001), unit("P2", "POLICE", 0.01), unit("P3", "POLICE", 0.05),
        unit("S1", "POLICE_SUPERVISOR", 0.0005),
        {"type": "incident_opened", "at": at.format(2), "actor": "calltaker:bob",
         "incident_id": "I-1", "code": "ASSAULT", "location": {"lat": 40.0, "lon": -76.0}},
    ]  # fmt: skip
    with IncidentLog(url) as log:
        engine = Engine(codes=CodeTable.load(), log=log)
        for event in [*events, *overrides]:
            engine.submit(event)
    return url


def test_override_cost_compares_units_that_fill_the_same_slot(tmp_path: Path) -> None:
    override_event = {
        "type": "dispatch_overridden", "at": AT.format(20), "actor": "dispatcher:alice",
        "incident_id": "I-1", "units": ["P1", "P3", "S1"], "instead_of": ["P2"],
        "reason": "P2 is needed for a school crossing",
    }  # fmt: skip
    url = _police_log(tmp_path / "override.sqlite", [override_event])
    (override,) = build_review(url)["overrides"]
    # P3 replaces P2 in the POLICE slot: (0.05° − 0.01°) of meridian arc at 10 m/s.
    expected = 6_371_008.8 * math.radians(0.04) / 10.0
    assert override["like_for_like"] == [
        {"replaced": "P2", "by": "P3", "capability": "POLICE",
         "eta_cost_s": pytest.approx(expected, rel=1e-3)}
    ]  # fmt: skip
    assert override["eta_cost_s"] == pytest.approx(expected, rel=1e-3)
    # The sergeant fills no replaced slot: an addition, not a saving.
    assert override["added"] == ["S1"] and override["unfilled"] == []
    assert override["reversed_after_s"] is None


def test_an_override_without_instead_of_is_reversed_by_sending_the_left_out_unit(
    tmp_path: Path,
) -> None:
    base = {"type": "dispatch_overridden", "actor": "dispatcher:alice", "incident_id": "I-1"}
    url = _police_log(
        tmp_path / "reversed.sqlite",
        [
            {**base, "at": AT.format(20), "units": ["P1", "P3"], "reason": "P3 knows the estate"},
            {**base, "at": AT.format(50), "units": ["P2"], "reason": "P3 is too far after all"},
        ],
    )
    first, second = build_review(url, reversal_window_s=60.0)["overrides"]
    assert first["instead_of"] == [] and first["replaced"] == ["P2"]
    assert first["reversed_after_s"] == 30.0  # P2, the unit left out, sent at :50
    assert second["reversed_after_s"] is None

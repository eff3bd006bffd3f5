"""Performance reviews from a real incident log: the sample shift applied through the engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from planner.centre.codes import CodeTable
from planner.centre.engine import Engine
from planner.errors import InputError
from planner.log.incident_log import IncidentLog
from planner.review.performance import build_review, load_roster, person_of, review_markdown
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


def test_dispatcher_figures(shift_log: str, roster: dict[str, str]) -> None:
    review = build_review(shift_log, roster=roster)
    alice = review["dispatchers"]["alice"]
    assert alice["team"] == "red"
    assert alice["overridden"] == 1
    assert alice["accepted"] >= 5
    assert alice["override_rate"] == pytest.approx(1 / alice["dispatches"], abs=1e-3)
    assert alice["override_reasons"] == ["weapon reported: sergeant attends with the first car"]
    assert alice["override_eta_cost_s"]["n"] == 1
    # The sergeant sent instead of car P3 was at the station next door: the override was faster.
    assert alice["override_eta_cost_s"]["mean_s"] < 0
    assert alice["complaints_on_handled"] == 1
    # I-0701: contact at 07:02, incident opened 07:03, dispatched 07:03:30.
    assert alice["contact_to_dispatch_by_code"]["CARDIAC_ARREST"]["mean_s"] == 90.0
    bob = review["dispatchers"]["bob"]
    assert bob["contacts_handled"] >= 4
    assert bob["dispatches"] == 0
    teams = review["teams"]
    assert teams["red"]["dispatches"] == alice["dispatches"]
    assert teams["blue"]["contacts_handled"] == review["dispatchers"]["carol"]["contacts_handled"]


def test_incident_timelines_and_coaching(shift_log: str) -> None:
    review = build_review(shift_log)
    cardiac = review["incidents"]["I-0701"]
    kinds = [step["type"] for step in cardiac["timeline"]]
    assert kinds[0] == "incident_opened"
    assert "dispatch_accepted" in kinds
    assert kinds[-1] == "incident_closed"
    assert cardiac["response_s"] == 600.0  # contact 07:02, first arrival 07:12
    assert all("caller_name" not in step for step in cardiac["timeline"])
    assert "complaint" in " ".join(review["coaching"]["alice"])
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
    assert [t[0].split(" | ")[0] for t in tables] == ["| person", "| team"]
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

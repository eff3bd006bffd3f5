"""``planner events apply`` and ``planner log replay`` on real SQLite logs, through the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from planner.centre.codes import CodeTable
from planner.centre.engine import Engine
from planner.cli import main
from planner.dispatch.domain import UnitStatus
from planner.log.incident_log import IncidentLog
from planner.settings import SCENARIOS_DIR

SHIFT = SCENARIOS_DIR / "sample-shift.jsonl"


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["planner", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture(scope="session")
def shift_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample shift applied once, through the CLI, to a fresh SQLite log."""
    url = f"sqlite:///{tmp_path_factory.mktemp('shift') / 'log.sqlite'}"
    with pytest.MonkeyPatch.context() as mp:
        assert run(mp, "events", "apply", "--db", url, str(SHIFT)) == 0
    return url


def test_sample_shift_applies_end_to_end(shift_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [json.loads(line) for line in SHIFT.read_text().splitlines() if line.strip()]
    types = {line["type"] for line in lines}
    assert {
        "centre_configured",
        "contact_linked",
        "incident_updated",
        "dispatch_accepted",
        "dispatch_overridden",
        "complaint_recorded",
        "road_closure_on",
        "road_closure_off",
        "incident_closed",
    } <= types
    with IncidentLog(shift_db, create=False) as log:
        assert log.verify().ok
        engine = Engine.replay(log, codes=CodeTable.load())
        kinds = [e.kind for e in log.entries()]
    state = engine.state
    assert state.incidents == {} and len(state.closed_incidents) == 5
    assert all(u.status == UnitStatus.AVAILABLE for u in state.units.values())
    assert len(state.units) == 26 and state.closures == {}
    assert state.counts["incident_escalated"] >= 1
    assert kinds.count("recommendation_issued") >= 5
    assert len(kinds) > len(lines)  # the engine's own events are in the log too


def test_replay_command_prints_the_final_picture(
    shift_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, "log", "replay", "--db", shift_db) == 0
    out = capsys.readouterr().out
    assert "replayed to log head" in out and "0 open, 5 closed" in out
    assert run(monkeypatch, "log", "replay", "--db", shift_db, "--fast", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["open_incidents"] == {} and len(summary["closed_incidents"]) == 5
    assert summary["events"]["complaint_recorded"] == 1


def write(path: Path, *events: object) -> Path:
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events))
    return path


CONFIGURED = {"type": "centre_configured", "at": "2026-03-14T12:00:00Z"}
UNIT = {
    "type": "unit_registered",
    "at": "2026-03-14T12:01:00Z",
    "unit_id": "M1",
    "capabilities": ["ALS"],
    "home": {"lat": 40.27, "lon": -76.88},
}


def test_stops_at_the_first_rejected_event_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    events = write(
        tmp_path / "events.jsonl",
        CONFIGURED,
        UNIT,
        "",
        {"type": "unit_arrived", "at": "2026-03-14T12:02:00Z", "unit_id": "M1"},
        {"type": "unit_moved", "unit_id": "M1", "location": {"lat": 40.2, "lon": -76.8}},
    )
    assert run(monkeypatch, "events", "apply", "--db", url, str(events)) == 2
    err = capsys.readouterr().err
    assert f"{events}:4: rejected: unit_id: unit 'M1' is available and was not dispatched" in err
    with IncidentLog(url, create=False) as log:
        assert [e.kind for e in log.entries()] == ["centre_configured", "unit_registered"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", ":2: rejected: line: invalid JSON: Expecting property name"),
        (json.dumps({"type": "unit_teleported"}), ":2: rejected: type: unknown event type"),
        (json.dumps({**UNIT, "home": {"lat": 91, "lon": 0}}), ":2: rejected: home.lat"),
    ],
)
def test_malformed_lines_exit_2_naming_line_and_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    line: str,
    message: str,
) -> None:
    events = write(tmp_path / "bad.jsonl", CONFIGURED, line)
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    assert run(monkeypatch, "events", "apply", "--db", url, str(events)) == 2
    err = capsys.readouterr().err
    assert f"{events}{message}" in err
    assert "applied 1 events before the rejection" in err


def test_applying_to_an_existing_log_continues_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    first = write(tmp_path / "a.jsonl", CONFIGURED, UNIT)
    second = write(
        tmp_path / "b.jsonl",
        {**UNIT, "unit_id": "M2", "at": "2026-03-14T12:05:00Z"},
        {
            "type": "incident_opened",
            "at": "2026-03-14T12:06:00Z",
            "incident_id": "I1",
            "code": "STROKE",
            "location": {"lat": 40.26, "lon": -76.87},
        },
    )
    assert run(monkeypatch, "events", "apply", "--db", url, str(first)) == 0
    assert run(monkeypatch, "events", "apply", "--db", url, str(second)) == 0
    with IncidentLog(url, create=False) as log:
        head = log.head()
    assert run(monkeypatch, "events", "apply", "--db", url, str(first)) == 0  # applied already
    with IncidentLog(url, create=False) as log:
        assert log.head() == head
        assert log.verify().ok
        engine = Engine.replay(log, codes=CodeTable.load())
    assert set(engine.state.units) == {"M1", "M2"} and set(engine.state.incidents) == {"I1"}
    assert engine.plan is not None and len(engine.plan.assignments) == 1

"""The code table is part of the logged configuration: replay never reads the file on disk,
and a live engine started with another table records the change in the log."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.services import build_services
from api.settings import ApiSettings
from planner.centre.codes import DEFAULT_CODES_PATH, CodeTable
from planner.centre.config import EngineConfig, EscalationConfig
from planner.centre.engine import Engine, ReplayMismatchError
from planner.centre.events import CentreConfigured, parse_event
from planner.centre.recommendations import plan_key
from planner.cli import main
from planner.errors import InputError
from planner.log.incident_log import IncidentLog, NewEntry

CODES = CodeTable.load()
T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
CONFIG = EngineConfig(escalation=EscalationConfig(enabled=False))
ORIGINAL_LEVEL = "      - {ALS: 1, BLS: 1}\n      - {ALS: 1, SUPERVISOR: 1}"
CHANGED_LEVEL = "      - {ALS: 2}\n      - {ALS: 1, SUPERVISOR: 1}"


def changed_codes(path: Path) -> Path:
    """A copy of the bundled table whose cardiac arrest sends two ALS units, not ALS + BLS."""
    text = DEFAULT_CODES_PATH.read_text(encoding="utf-8")
    assert text.count(ORIGINAL_LEVEL) == 1
    path.write_text(text.replace(ORIGINAL_LEVEL, CHANGED_LEVEL), encoding="utf-8")
    return path


EVENTS: list[dict[str, Any]] = [
    {"type": "unit_registered", "unit_id": "M1", "capabilities": ["ALS"],
     "home": {"lat": 40.270, "lon": -76.880}},
    {"type": "unit_registered", "unit_id": "M2", "capabilities": ["ALS"],
     "home": {"lat": 40.290, "lon": -76.860}},
    {"type": "unit_registered", "unit_id": "A1", "capabilities": ["BLS"],
     "home": {"lat": 40.260, "lon": -76.860}},
    {"type": "incident_opened", "incident_id": "I1", "code": "CARDIAC_ARREST",
     "location": {"lat": 40.265, "lon": -76.870}},
]  # fmt: skip


def sent(engine: Engine) -> set[str]:
    return {a.unit for a in engine.plan.assignments} if engine.plan else set()


def live_log(url: str, codes: CodeTable = CODES) -> Engine:
    """A short shift logged with ``codes``: one cardiac arrest, not yet accepted."""
    with IncidentLog(url) as log:
        engine = Engine(codes=codes, log=log, config=CONFIG, clock=lambda: T0)
        for event in EVENTS:
            engine.submit(event)
    return engine


def kinds(url: str) -> list[str]:
    with IncidentLog(url, create=False) as log:
        return [e.kind for e in log.entries()]


def test_the_table_round_trips_through_its_logged_json_form() -> None:
    data = json.loads(json.dumps(CODES.to_data(), sort_keys=True))
    again = CodeTable.from_data(data)
    assert again.sha256 == CODES.sha256 and again.to_data() == CODES.to_data()
    assert again.names == CODES.names and list(again) == list(CODES)
    edited = DEFAULT_CODES_PATH.read_text(encoding="utf-8") + "\n# a comment changes nothing\n"
    assert CodeTable.from_yaml(edited, source="elsewhere.yaml").sha256 == CODES.sha256


def test_every_logged_configuration_carries_the_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    live = live_log(url)
    assert sent(live) == {"M1", "A1"}
    with IncidentLog(url, create=False) as log:
        first = parse_event(log.entries(limit=1)[0].payload)
    assert isinstance(first, CentreConfigured)
    assert first.codes == CODES.to_data() and first.codes_sha256 == CODES.sha256
    assert first.codes_source == str(DEFAULT_CODES_PATH)


def test_replay_after_the_file_changed_rebuilds_the_original_picture(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    live = live_log(url)
    changed = CodeTable.load(changed_codes(tmp_path / "codes.yaml"))
    assert changed.sha256 != CODES.sha256
    with IncidentLog(url, create=False) as log:
        replayed = Engine.replay(log, codes=changed)
        fast = Engine.replay(log, codes=changed, resolve=False)
    for engine in (replayed, fast):
        assert engine.state == live.state and plan_key(engine.plan) == plan_key(live.plan)
        assert engine.codes.sha256 == CODES.sha256
    assert sent(replayed) == {"M1", "A1"}


def test_another_table_at_start_is_logged_once_and_used_from_then_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    live_log(url)
    changed = CodeTable.load(changed_codes(tmp_path / "codes.yaml"))
    with IncidentLog(url, create=False) as log:
        head = log.head()
        engine = Engine.replay(log, codes=changed)
        outcome = engine.adopt_codes(changed)
        assert outcome is not None
        event = outcome.event
        assert isinstance(event, CentreConfigured) and event.actor == "system"
        assert event.codes_sha256 == changed.sha256 and event.codes == changed.to_data()
        assert event.reason is not None and changed.sha256 in event.reason
        assert "code table changed" in event.reason
        assert sent(engine) == {"M1", "M2"}  # two ALS now
        new = kinds(url)[head:]
        assert new.count("centre_configured") == 1
        assert new == ["centre_configured", "recommendation_issued"]
        # restarting with the same table again logs nothing, and replay crosses the change
        again = Engine.replay(log, codes=CODES)
        assert again.adopt_codes(changed) is None and log.head() == engine.version
        assert again.state == engine.state and plan_key(again.plan) == plan_key(engine.plan)
        assert again.codes.sha256 == changed.sha256


def test_an_identical_table_logs_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    live = live_log(url)
    copy = tmp_path / "copy.yaml"
    copy.write_text(DEFAULT_CODES_PATH.read_text(encoding="utf-8") + "\n# moved here\n")
    with IncidentLog(url, create=False) as log:
        engine = Engine.replay(log)
        assert engine.adopt_codes(CodeTable.load(copy)) is None
        assert log.head() == live.version
    assert engine.codes.source == str(copy)


def old_format_copy(url: str, old_url: str) -> None:
    """The log at ``url`` re-written as logs were before tables were embedded."""
    with IncidentLog(url, create=False) as log, IncidentLog(old_url) as old:
        for entry in log.entries():
            payload = dict(entry.payload)
            if entry.kind == "centre_configured":
                del payload["codes"], payload["codes_sha256"]
            old.append(
                NewEntry(
                    kind=entry.kind,
                    payload=payload,
                    incident=entry.incident,
                    actor=entry.actor,
                    recorded_at=entry.recorded_at,
                )
            )


def test_an_old_log_without_a_table_replays_with_the_given_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    old_url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    live = live_log(url)
    old_format_copy(url, old_url)
    changed = CodeTable.load(changed_codes(tmp_path / "codes.yaml"))
    with IncidentLog(old_url, create=False) as log:
        replayed = Engine.replay(log, codes=CODES)
        assert replayed.state == live.state and plan_key(replayed.plan) == plan_key(live.plan)
        with pytest.raises(ReplayMismatchError, match="the logged recommendation differs"):
            Engine.replay(log, codes=changed)
        # starting live on it records the table, so the log describes itself from then on
        outcome = replayed.adopt_codes(CODES)
        assert outcome is not None and isinstance(outcome.event, CentreConfigured)
        assert outcome.event.reason is not None and "code table recorded" in outcome.event.reason
        assert outcome.derived == ()  # same table, same recommendation
        assert Engine.replay(log, codes=CODES).adopt_codes(CODES) is None


def test_a_configuration_with_a_bad_table_or_digest_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    live_log(url)
    with IncidentLog(url, create=False) as log:
        engine = Engine.replay(log)
        head = log.head()
        bad = CODES.to_data()
        bad["codes"][0]["default_priority"] = 9
        with pytest.raises(InputError) as info:
            engine.submit({"type": "centre_configured", "codes": bad})
        assert info.value.field is not None and "default_priority" in info.value.field
        with pytest.raises(InputError) as info:
            engine.submit(
                {"type": "centre_configured", "codes": CODES.to_data(), "codes_sha256": "0" * 64}
            )
        assert info.value.field == "codes_sha256"
        assert log.head() == head
        # a reconfiguration that gives no table keeps the one in force, and logs it
        outcome = engine.submit(
            {"type": "centre_configured", "at": (T0 + timedelta(1)).isoformat()}
        )
        assert isinstance(outcome.event, CentreConfigured)
        assert outcome.event.codes_sha256 == CODES.sha256


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["planner", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_apply_on_an_existing_log_records_a_changed_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    codes = tmp_path / "codes.yaml"
    codes.write_text(DEFAULT_CODES_PATH.read_text(encoding="utf-8"))
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps({"at": T0.isoformat(), **e}) + "\n" for e in EVENTS))
    assert run(monkeypatch, "events", "apply", "--db", url, "--codes", str(codes), str(first)) == 0
    assert kinds(url).count("centre_configured") == 1
    changed_codes(codes)  # the file is edited on disk
    assert run(monkeypatch, "log", "replay", "--db", url, "--codes", str(codes)) == 0
    assert "send A1 to I1" in capsys.readouterr().out  # the logged table, not the file
    for _ in range(2):  # re-running the applied file adds no events; the second start has
        # nothing new to record either
        assert (
            run(monkeypatch, "events", "apply", "--db", url, "--codes", str(codes), str(first)) == 0
        )
    out = capsys.readouterr().out
    assert out.count("logged centre_configured") == 1 and "code table changed" in out
    assert kinds(url).count("centre_configured") == 2
    assert run(monkeypatch, "log", "replay", "--db", url) == 0
    assert "send M2 to I1" in capsys.readouterr().out


def test_serve_on_an_existing_log_records_a_changed_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    live_log(url)
    codes = changed_codes(tmp_path / "codes.yaml")
    for expected in (2, 2):
        services = build_services(ApiSettings(db_url=url, codes_path=codes))
        try:
            assert services.codes.sha256 == CodeTable.load(codes).sha256
            assert sent(services.engine) == {"M1", "M2"}
        finally:
            services.close()
        assert kinds(url).count("centre_configured") == expected

"""``planner log``: exit codes and output, through the real entry point on a real SQLite file."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from planner.cli import main
from planner.log.incident_log import PERSONAL_READ_KIND, IncidentLog, NewEntry

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """Run ``planner <args>`` as the console script does; return its exit code."""
    monkeypatch.setattr(sys, "argv", ["planner", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    with IncidentLog(url) as log:
        log.append(
            NewEntry(
                "contact.received",
                {"channel": "phone", "contact": "C-1"},
                personal={"caller_name": "Jane Roe", "caller_phone": "0717 555 0101"},
                incident="INC-1",
                actor="dispatcher:alice",
                recorded_at=T0,
            )
        )
        log.append(
            NewEntry(
                "incident.opened",
                {"code": "ALS-1", "level": 1, "location": {"lat": 40.27, "lon": -76.88}},
                incident="INC-1",
                actor="dispatcher:alice",
                recorded_at=T0 + timedelta(seconds=40),
            )
        )
        log.append(
            NewEntry(
                "incident.opened",
                {"code": "FIRE-RES", "level": 1},
                incident="INC-2",
                actor="dispatcher:bob",
                recorded_at=T0 + timedelta(minutes=5),
            )
        )
    return url


def test_verify_ok_exits_zero_with_a_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str
) -> None:
    assert run(monkeypatch, "log", "verify", "--db", db) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 3 entries verified, 0 anchors matched, head seq 3")
    anchor = out.split("--anchor ")[1].strip()
    assert run(monkeypatch, "log", "verify", "--db", db, "--anchor", anchor) == 0
    assert "1 anchors matched" in capsys.readouterr().out
    assert run(monkeypatch, "log", "verify", "--db", db, "--anchor", "2:" + "0" * 16) == 1
    assert "anchor" in capsys.readouterr().err
    assert run(monkeypatch, "log", "verify", "--db", db, "--anchor", "two:abc") == 2
    assert "anchor" in capsys.readouterr().err


def test_verify_tampered_exits_one_and_names_the_entry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str
) -> None:
    engine = sa.create_engine(db)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER log_entries_no_update"))
        conn.execute(sa.text("UPDATE log_entries SET actor = 'dispatcher:eve' WHERE seq = 2"))
    engine.dispose()
    assert run(monkeypatch, "log", "verify", "--db", db) == 1
    err = capsys.readouterr().err
    assert "first bad entry seq 2" in err and "altered" in err


def test_verify_uses_the_configured_database_by_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str
) -> None:
    monkeypatch.setenv("PLANNER_DB_URL", db)
    assert run(monkeypatch, "log", "verify") == 0
    assert "3 entries verified" in capsys.readouterr().out


def test_missing_database_exits_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    absent = tmp_path / "absent.sqlite"
    assert run(monkeypatch, "log", "verify", "--db", f"sqlite:///{absent}") == 2
    assert "no incident log" in capsys.readouterr().err
    assert not absent.exists()
    assert run(monkeypatch, "log", "show", "--db", "nonsense://") == 2


def test_a_file_that_is_not_a_database_exits_two_not_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database\n" * 100)
    assert run(monkeypatch, "log", "verify", "--db", f"sqlite:///{junk}") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: db: ") and "not a database" in err and "\n" not in err


def test_show_prints_the_timeline_without_personal_data(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str
) -> None:
    assert run(monkeypatch, "log", "show", "--db", db, "--incident", "INC-1") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("2024-03-01 08:00:00Z  #1")
    assert "contact.received" in lines[0] and "dispatcher:alice" in lines[0]
    assert "channel=phone" in lines[0] and "[personal]" in lines[0]
    assert "code=ALS-1" in lines[1] and "location={…}" in lines[1]
    assert "Jane" not in "\n".join(lines) and "0717" not in "\n".join(lines)
    assert run(monkeypatch, "log", "show", "--db", db) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_show_of_an_unknown_incident_exits_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str
) -> None:
    assert run(monkeypatch, "log", "show", "--db", db, "--incident", "NOPE") == 2
    captured = capsys.readouterr()
    assert captured.err == "error: --incident: no entries for incident NOPE\n"
    assert captured.out == ""


def test_personal_read_prints_json_and_is_logged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str
) -> None:
    args = ["log", "personal", "1", "--reader", "supervisor:carol", "--purpose", "complaint"]
    assert run(monkeypatch, *args, "--db", db) == 0
    assert json.loads(capsys.readouterr().out)["caller_name"] == "Jane Roe"
    with IncidentLog(db) as log:
        last = log.entries()[-1]
    assert last.kind == PERSONAL_READ_KIND and last.actor == "supervisor:carol"


def test_redact_wipes_old_personal_data_and_verify_stays_green(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str
) -> None:
    assert run(monkeypatch, "log", "redact", "--db", db, "--actor", "retention-job") == 0
    assert "redacted personal data of 1 entries" in capsys.readouterr().out
    assert run(monkeypatch, "log", "verify", "--db", db) == 0
    assert run(monkeypatch, "log", "show", "--db", db, "--incident", "INC-1") == 0
    assert "[personal: redacted]" in capsys.readouterr().out

"""``planner events apply`` resumes: re-running a file adds nothing, a killed run picks up after
the last line it committed (every line exactly once), and bad input is exit 2 with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from planner.centre.codes import CodeTable
from planner.centre.engine import Engine
from planner.errors import InputError
from planner.log.incident_log import IncidentLog
from planner.settings import PROJECT_ROOT, SCENARIOS_DIR

SHIFT = SCENARIOS_DIR / "sample-shift.jsonl"
DERIVED = {"recommendation_issued", "incident_escalated"}


def _planner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=300,
        check=False,
    )


def _sent_kinds(url: str) -> list[tuple[str, str]]:
    """What the file put in the log (derived entries aside), in order."""
    with IncidentLog(url, create=False) as log:
        return [(e.kind, json.dumps(e.payload)) for e in log.entries() if e.kind not in DERIVED]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('clean') / 'log.sqlite'}"
    done = _planner("events", "apply", "--db", url, str(SHIFT))
    assert done.returncode == 0, done.stderr
    return url


def test_rerunning_the_same_file_adds_nothing(clean: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    lines = SHIFT.read_text().splitlines()
    part = tmp_path / "part.jsonl"
    part.write_text("\n".join(lines[:30]) + "\n")
    assert _planner("events", "apply", "--db", url, str(part)).returncode == 0
    with IncidentLog(url, create=False) as log:
        head = log.head()
    again = _planner("events", "apply", "--db", url, str(part))
    assert again.returncode == 0 and "30 lines applied by an earlier run skipped" in again.stdout
    with IncidentLog(url, create=False) as log:
        assert log.head() == head
    rest = _planner("events", "apply", "--db", url, str(SHIFT))  # the grown file: the rest only
    assert rest.returncode == 0, rest.stderr
    assert _sent_kinds(url) == _sent_kinds(clean)


@pytest.mark.slow
def test_a_killed_run_resumes_and_applies_every_line_exactly_once(
    clean: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "planner", "events", "apply", "--db", url, str(SHIFT)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = sa.create_engine(url)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                with engine.connect() as conn:
                    head = conn.execute(sa.text("SELECT seq FROM log_head")).scalar()
            except sa.exc.OperationalError:
                continue
            if head is not None and head >= 25:
                break
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        engine.dispose()
    killed_at = len(_sent_kinds(url))
    assert 0 < killed_at < len(_sent_kinds(clean)), "the run was not killed half-way"
    resumed = _planner("events", "apply", "--db", url, str(SHIFT))
    assert resumed.returncode == 0, resumed.stderr
    assert _sent_kinds(url) == _sent_kinds(clean)
    with IncidentLog(url, create=False) as log:
        assert log.verify().ok
        Engine.replay(log, codes=CodeTable.load())  # re-solves: every recommendation is there


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a UTF-8"),
        (b"[" * 200_000 + b"]" * 200_000 + b"\n", "nested too deeply"),
        (b"", "no events"),
        (b"\n\n  \n", "no events"),
        (b'{"type": "unit_registered"\n', "invalid JSON"),
    ],
)
def test_bad_files_exit_2_with_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(content)
    done = _planner("events", "apply", "--db", f"sqlite:///{tmp_path / 'log.sqlite'}", str(events))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr


def test_an_unrelated_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "shop.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)"))
    done = _planner("events", "apply", "--db", f"sqlite:///{path}", str(SHIFT))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "not an incident log" in done.stderr
    assert sa.inspect(engine).get_table_names() == ["orders"]
    engine.dispose()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(os.urandom(4096))
    refused = _planner("log", "verify", "--db", f"sqlite:///{garbage}")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1


def test_personal_text_has_a_length_limit() -> None:
    engine = Engine(codes=CodeTable.load())
    with pytest.raises(InputError, match="details"):
        engine.submit(
            {
                "type": "incident_opened",
                "incident_id": "I1",
                "code": "CARDIAC_ARREST",
                "location": {"lat": 40.27, "lon": -76.88},
                "details": "x" * 100_000,
            }
        )


def test_an_event_ahead_of_the_clock_is_refused_and_ticks_keep_working() -> None:
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    engine = Engine(codes=CodeTable.load(), clock=lambda: now)
    unit = {"unit_id": "M1", "capabilities": ["ALS"], "home": {"lat": 40.27, "lon": -76.88}}
    with pytest.raises(InputError, match=r"at: .* ahead of the centre's clock"):
        engine.submit({"type": "unit_registered", "at": "2099-01-01T00:00:00Z", **unit})
    assert engine.state.last_at is None and engine.version == 0
    soon = (now + timedelta(seconds=60)).isoformat()  # within the 300 s default skew
    engine.submit({"type": "unit_registered", "at": soon, **unit})
    assert engine.tick(now + timedelta(minutes=5)) == []

"""High availability: one writer per database. SQLite refuses a second ``planner serve`` at
start; on PostgreSQL a second server is a hot standby that follows the log, serves current reads,
answers writes with 503 naming the leader, and takes over within seconds of a ``kill -9`` with
no acknowledged write lost or duplicated."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from bench.bench_killnine import Server, run
from planner.log.api_keys import KeyStore, Role
from planner.settings import PROJECT_ROOT

UNIT = {"unit_id": "M1", "capabilities": ["ALS"], "home": {"lat": 40.27, "lon": -76.88}}


def _request(
    base: str, path: str, token: str, body: dict[str, object] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        f"{base}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json", "X-API-Key": token},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.mark.slow
def test_sqlite_refuses_a_second_writer_at_start(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'log.sqlite'}"
    first = Server(db, tmp_path / "first.log")
    try:
        first.wait_ready()
        second = subprocess.run(
            [sys.executable, "-m", "planner", "serve", "--port", "0", "--db", db],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            timeout=120,
            check=False,
        )
    finally:
        first.kill()
    assert second.returncode == 2
    assert len(second.stderr.strip().splitlines()) == 1
    assert "already writes to" in second.stderr


@pytest.mark.slow
@pytest.mark.postgres
def test_a_standby_follows_serves_reads_and_names_the_leader(
    postgres_url: str, tmp_path: Path
) -> None:
    token = KeyStore.from_url(postgres_url).create(name="t", role=Role.SUPERVISOR).token
    leader = Server(postgres_url, tmp_path / "leader.log")
    standby: Server | None = None
    try:
        leader.wait_ready()
        standby = Server(postgres_url, tmp_path / "standby.log")
        standby.wait_ready()
        status, _, _ = _request(leader.base, "/v1/units", token, UNIT)
        assert status == 201
        deadline = time.monotonic() + 5
        units: list[object] = []
        while time.monotonic() < deadline and not units:
            _, _, body = _request(standby.base, "/v1/units", token)
            units = json.loads(body)["units"]
            time.sleep(0.1)
        assert [u["id"] for u in units] == ["M1"]  # type: ignore[index]
        status, headers, body = _request(
            standby.base, "/v1/units", token, {**UNIT, "unit_id": "M2"}
        )
        assert status == 503 and headers["x-planner-leader"] == leader.base
        assert b"standby" in body
        _, _, ready = _request(standby.base, "/ready", token)
        assert json.loads(ready)["role"] == "standby"
    finally:
        leader.kill()
        if standby is not None:
            standby.kill()


@pytest.mark.slow
@pytest.mark.postgres
def test_kill_9_the_leader_under_load_loses_no_acknowledged_write(
    postgres_url: str, tmp_path: Path
) -> None:
    result = run(postgres_url, backend="postgresql", workdir=tmp_path, writes=30)
    assert result.acknowledged == 30
    assert result.found == 30 and result.lost == 0 and result.duplicates == 0
    assert result.takeover_s < 5.0


@pytest.mark.slow
def test_kill_9_and_restart_on_sqlite_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.sqlite'}"
    result = run(db, backend="sqlite", workdir=tmp_path, writes=20)
    assert result.acknowledged == result.found == 20
    assert result.lost == 0 and result.duplicates == 0

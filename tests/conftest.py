"""Fixtures shared by every test folder: a real ``planner serve`` process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from planner.log.schema import scratch_schema
from planner.settings import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serve(
    *, db: str, region: str, log: Path, ready_s: float, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """``python -m planner serve`` on a free loopback port (output to ``log``); yields its base
    URL once ``/ready`` answers 200, fails the test if it exits or is not ready in ``ready_s``,
    and stops the process on exit."""
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "planner",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--db",
                db,
                "--region",
                region,
                "--log-level",
                "warning",
            ],
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_s
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready after {ready_s} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def serve_planner() -> Callable[..., AbstractContextManager[str]]:
    """Start a real server: ``with serve_planner(db=..., region=..., log=..., ready_s=...) as
    base:`` (``env`` adds environment variables)."""
    return _serve


def postgres_base_url() -> str:
    """The real PostgreSQL server of the tests (``PLANNER_TEST_POSTGRES_URL``): skipped without
    one on a developer's machine, a failure in CI (where .ci/run starts it)."""
    base = os.environ.get("PLANNER_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("PLANNER_TEST_POSTGRES_URL is not set in CI: PostgreSQL must run")
        pytest.skip("PLANNER_TEST_POSTGRES_URL not set (start PostgreSQL as .ci/run does)")
    return base


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test."""
    with scratch_schema(postgres_base_url(), prefix="test") as url:
        yield url


@pytest.fixture(scope="module")
def postgres_schema_url() -> Iterator[str]:
    """A fresh PostgreSQL schema shared by one test module."""
    with scratch_schema(postgres_base_url(), prefix="module") as url:
        yield url


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local zone set to New York, five hours behind UTC in January: code that
    must work in UTC is tested where local time differs."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()

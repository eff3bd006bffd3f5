"""kill -9 under load: every acknowledged write is in the log exactly once.

A client registers units one by one through ``planner serve`` (each request with its own
``Idempotency-Key``, retried with the same key until acknowledged). Half-way the server that
writes is killed with SIGKILL. SQLite: the server is restarted on the same file. PostgreSQL: two
servers share the database; the standby takes the write lease over, and the client, told 503 or
refused a connection, moves to it. At the end the log is read: acknowledged vs found, duplicates,
and the takeover time (kill → next acknowledged write). Run with ``python -m bench killnine``;
PostgreSQL is measured when ``PLANNER_TEST_POSTGRES_URL`` is set (in a throw-away schema).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from planner.log.api_keys import KeyStore, Role
from planner.log.incident_log import IncidentLog
from planner.log.schema import scratch_schema
from planner.settings import PROJECT_ROOT

WRITES = 60
READY_S = 60.0


@dataclass
class Result:
    backend: str
    acknowledged: int
    found: int
    duplicates: int
    lost: int
    takeover_s: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One ``planner serve`` process on a free loopback port."""

    def __init__(self, db: str, log_path: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PLANNER_TICK_S": "0",
            "PLANNER_RATE_LIMIT_PER_S": "0",
            "PLANNER_FOLLOW_S": "0.2",
        }
        with log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "planner",
                    "serve",
                    "--port",
                    str(self.port),
                    "--db",
                    db,
                    "--log-level",
                    "warning",
                    "--advertise",
                    self.base,
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"planner serve exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.base}/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("planner serve did not become ready")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def _post(base: str, token: str, key: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(
        f"{base}/v1/units",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": token, "Idempotency-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def run(db: str, *, backend: str, workdir: Path, writes: int = WRITES) -> Result:
    """Drive ``writes`` acknowledged writes, killing the writing server half-way."""
    token = KeyStore.from_url(db).create(name="bench", role=Role.SUPERVISOR).token
    servers = [Server(db, workdir / "serve-0.log")]
    servers[0].wait_ready()
    if backend == "postgresql":
        servers.append(Server(db, workdir / "serve-1.log"))
        servers[1].wait_ready()
    current = 0
    acked: list[str] = []
    killed_at: float | None = None
    takeover = float("nan")
    try:
        for i in range(writes):
            unit_id = f"U{i:04d}"
            body = {
                "unit_id": unit_id,
                "capabilities": ["ALS"],
                "home": {"lat": 40.27, "lon": -76.88},
            }
            if i == writes // 2:
                servers[current].kill()
                killed_at = time.monotonic()
                if backend == "sqlite":  # no standby: the operator (here: us) restarts it
                    servers[current] = Server(db, workdir / "serve-restart.log")
            while True:
                status = _post(servers[current].base, token, f"write-{unit_id}", body)
                if status == 201:
                    break
                if status not in (0, 503):
                    raise RuntimeError(f"write {unit_id} refused with {status}")
                if backend == "postgresql":
                    current = 1 - current
                time.sleep(0.05)
            acked.append(unit_id)
            if killed_at is not None and takeover != takeover:
                takeover = time.monotonic() - killed_at
    finally:
        for server in servers:
            server.kill()
    with IncidentLog(db, create=False) as log:
        registered = Counter(
            str(e.payload["unit_id"]) for e in log.entries() if e.kind == "unit_registered"
        )
    return Result(
        backend=backend,
        acknowledged=len(acked),
        found=sum(1 for u in acked if registered[u] >= 1),
        duplicates=sum(1 for n in registered.values() if n > 1),
        lost=sum(1 for u in acked if registered[u] == 0),
        takeover_s=takeover,
    )


def main() -> None:
    print("| backend | acknowledged | found | lost | duplicated | takeover (s) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = [run(f"sqlite:///{work / 'log.sqlite'}", backend="sqlite", workdir=work)]
        base = os.environ.get("PLANNER_TEST_POSTGRES_URL")
        if base:
            with scratch_schema(base, prefix="killnine") as url:
                results.append(run(url, backend="postgresql", workdir=work))
    for r in results:
        print(
            f"| {r.backend} | {r.acknowledged} | {r.found} | {r.lost} | {r.duplicates} | "
            f"{r.takeover_s:.2f} |"
        )

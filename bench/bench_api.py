"""JSON API under load: a real ``planner serve`` on loopback, Harrisburg roads, SQLite log.

Several client threads each work incidents end to end over HTTP (open with an
Idempotency-Key, accept the recommendation, en route, AVL report, arrive, close) while one SSE
client listens on ``/v1/events``. Every write re-solves. Reported: sustained accepted writes
per second and log entries per second (writes plus the recommendations they caused), p50/p95
latency per request, and that nothing was lost: every accepted write's seq is in the log, the
log holds exactly the accepted writes plus what they derived, the SSE client received every
entry, and the chain verifies. The plain way beside it: the same client events submitted to an
in-process engine with its own SQLite log (no HTTP), measured in the same run.

Also reported: the server process's CPU time per accepted write during the load (user +
system, from ``/proc``; Linux only), which unlike latency hardly depends on what else the
machine is doing.

Bounded: ``CLIENTS`` × ``INCIDENTS_PER_CLIENT`` incidents (about 7 writes each).
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from planner.centre.codes import CodeTable
from planner.centre.engine import Engine
from planner.centre.events import parse_event
from planner.log.api_keys import KeyStore, Role
from planner.log.incident_log import AUDIT_KINDS, IncidentLog
from planner.network.loader import load_region
from planner.settings import SCENARIOS_DIR
from planner.sim.fleet import load_fleet

CLIENTS = 4
TARGET_P95_MS = 50.0
"""Issue 14: p95 write latency at ``CLIENTS`` clients on SQLite."""
INCIDENTS_PER_CLIENT = 15
CODES = ("CHEST_PAIN", "FALL", "STROKE", "BREATHING_PROBLEMS", "TRAFFIC_COLLISION", "GAS_LEAK")
REGION = "harrisburg"


@dataclass
class Tally:
    """What one client saw: latencies of accepted writes, refusals, and the seqs it got."""

    latencies_s: list[float] = field(default_factory=list)
    by_route: dict[str, list[float]] = field(default_factory=dict)
    refused: int = 0
    seqs: list[int] = field(default_factory=list)
    derived: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _write(
    client: httpx.Client, tally: Tally, method: str, path: str, body: Any = None, **headers: str
) -> dict[str, Any] | None:
    begin = time.perf_counter()
    response = client.request(method, path, json=body, headers=headers)
    elapsed = time.perf_counter() - begin
    if response.status_code >= 500:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
    if response.status_code >= 400:
        tally.refused += 1
        return None
    tally.latencies_s.append(elapsed)
    parts = path.split("/")  # /v1/units/M3/status → /v1/units/{id}/status
    route = "/".join(parts[:3] + ["{id}"] * (len(parts) > 3) + parts[4:])
    tally.by_route.setdefault(f"{method} {route}", []).append(elapsed)
    result: dict[str, Any] = response.json()
    tally.seqs.append(result["seq"])
    tally.derived += len(result["derived"])
    tally.bodies.append({"seq": result["seq"], "event": result["event"]})
    return result


def _work(base: str, token: str, n: int, points: list[tuple[float, float]], tally: Tally) -> None:
    """One dispatcher's incidents, one after another, each driven to closure."""
    rng = random.Random(1000 + n)
    with httpx.Client(base_url=base, headers={"X-API-Key": token}, timeout=60) as client:
        for k in range(INCIDENTS_PER_CLIENT):
            iid = f"C{n}-{k}"
            lat, lon = rng.choice(points)
            opened = _write(
                client,
                tally,
                "POST",
                "/v1/incidents",
                {
                    "incident_id": iid,
                    "code": rng.choice(CODES),
                    "location": {"lat": lat, "lon": lon},
                },
                **{"Idempotency-Key": f"open-{iid}"},
            )
            if opened is None:
                continue
            accepted = _write(client, tally, "POST", f"/v1/incidents/{iid}/accept", {})
            units = accepted["event"]["units"] if accepted else []
            for unit in units:
                _write(client, tally, "POST", f"/v1/units/{unit}/status", {"status": "en_route"})
            if units:
                mid = rng.choice(points)
                _write(
                    client,
                    tally,
                    "POST",
                    f"/v1/units/{units[0]}/position",
                    {"location": {"lat": mid[0], "lon": mid[1]}},
                )
            for unit in units:
                _write(client, tally, "POST", f"/v1/units/{unit}/arrive")
            _write(client, tally, "POST", f"/v1/incidents/{iid}/close", {"outcome": "treated"})


def _listen(base: str, token: str, seqs: list[int], until: list[int]) -> None:
    """Collect SSE ids until the one in ``until`` (set when the load is over) has arrived."""
    headers = {"X-API-Key": token}
    with httpx.stream("GET", f"{base}/v1/events?after=0", headers=headers, timeout=None) as resp:
        for line in resp.iter_lines():
            if line.startswith("id:"):
                seqs.append(int(line[3:]))
            if until and seqs and seqs[-1] >= until[0]:
                return


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used so far; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_server(db: str, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "planner", "serve", "--port", str(port), "--db", db,
         "--region", REGION, "--log-level", "warning"],
        env={**os.environ, "PLANNER_TICK_S": "0", "PLANNER_SSE_HEARTBEAT_S": "0.5"},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("server not ready in 120 s")


def _in_process_rate(setup: list[dict[str, Any]], load: list[dict[str, Any]], tmp: Path) -> float:
    """The same events, in log order and with their logged times, through an in-process engine
    with its own SQLite log (no HTTP); the rate counts the load's events only."""
    codes = CodeTable.load()
    with IncidentLog(f"sqlite:///{tmp / 'plain.sqlite'}") as log:
        engine = Engine(codes=codes, region=load_region(REGION, fresh=True), log=log)
        for item in sorted(setup, key=lambda b: int(b["seq"])):
            engine.submit(parse_event(item["event"]))
        events = [parse_event(b["event"]) for b in sorted(load, key=lambda b: int(b["seq"]))]
        begin = time.perf_counter()
        for event in events:
            engine.submit(event)
        return len(events) / (time.perf_counter() - begin)


def main() -> None:
    region = load_region(REGION)
    rng = random.Random(7)
    lonlat = region.node_lonlat
    points = [
        (float(lonlat[i][1]), float(lonlat[i][0])) for i in rng.sample(range(len(lonlat)), 400)
    ]
    fleet = load_fleet(SCENARIOS_DIR / REGION / "fleet.yaml")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        db = f"sqlite:///{tmp / 'api.sqlite'}"
        store = KeyStore.from_url(db)
        dispatcher = store.create(name="bench", role=Role.DISPATCHER).token
        supervisor = store.create(name="bench-fleet", role=Role.SUPERVISOR).token
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = _start_server(db, port)
        try:
            setup = Tally()
            with httpx.Client(base_url=base, headers={"X-API-Key": supervisor}) as client:
                for event in fleet.registration_events(at=datetime.now(UTC)):
                    body = event.model_dump(mode="json", exclude={"type", "at", "actor"})
                    _write(client, setup, "POST", "/v1/units", body)
            streamed: list[int] = []
            until: list[int] = []
            listener = threading.Thread(
                target=_listen, args=(base, dispatcher, streamed, until), daemon=True
            )
            listener.start()
            tallies = [Tally() for _ in range(CLIENTS)]
            workers = [
                threading.Thread(target=_work, args=(base, dispatcher, n, points, tallies[n]))
                for n in range(CLIENTS)
            ]
            cpu_before = _cpu_s(server.pid)
            begin = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            wall = time.perf_counter() - begin
            cpu_after = _cpu_s(server.pid)
            with httpx.Client(base_url=base, headers={"X-API-Key": supervisor}) as client:
                verify = client.get("/v1/log/verify").json()
            until.append(verify["head_seq"])
            listener.join(timeout=30)
        finally:
            server.terminate()
            server.wait(timeout=30)

        with IncidentLog(db, create=False) as log:
            entries = [e for e in log.entries() if e.kind not in AUDIT_KINDS]
        everyone = [setup, *tallies]
        accepted = sum(len(t.seqs) for t in tallies)
        derived = sum(t.derived for t in everyone)
        logged = {e.seq for e in entries}
        all_seqs = [s for t in everyone for s in t.seqs]
        lost = [s for s in all_seqs if s not in logged]
        expected_entries = len(all_seqs) + derived
        latencies = sorted(x * 1000 for t in tallies for x in t.latencies_s)
        plain = _in_process_rate(setup.bodies, [b for t in tallies for b in t.bodies], tmp)

    rate = accepted / wall
    entry_rate = (sum(len(t.seqs) + t.derived for t in tallies)) / wall
    print(
        f"{CLIENTS} clients × {INCIDENTS_PER_CLIENT} incidents, {len(fleet.units)} units, "
        f"{REGION} roads, SQLite log, one SSE listener; {accepted} writes accepted, "
        f"{sum(t.refused for t in tallies)} refused (409/422) in {wall:.1f} s\n"
    )
    print("| path | writes/s | log entries/s | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    p95 = latencies[int(0.95 * len(latencies))]
    print(
        f"| HTTP (planner serve, loopback) | {rate:,.1f} | {entry_rate:,.1f} | "
        f"{statistics.median(latencies):.1f} | {p95:.1f} | {latencies[-1]:.1f} |"
    )
    print(f"| in-process engine, same events (plain way) | {plain:,.1f} | | | | |")
    print("\n| write | count | p50 ms | p95 ms |\n|---|---:|---:|---:|")
    for route in sorted({r for t in tallies for r in t.by_route}):
        times = sorted(1000 * x for t in tallies for x in t.by_route.get(route, []))
        print(
            f"| {route} | {len(times)} | {statistics.median(times):.1f} | "
            f"{times[int(0.95 * len(times))]:.1f} |"
        )
    print(f"\nHTTP / in-process throughput: {rate / plain:.2f}x")
    if cpu_before is not None and cpu_after is not None:
        print(f"server CPU per accepted write: {1000 * (cpu_after - cpu_before) / accepted:.2f} ms")
    verdict = "met" if p95 <= TARGET_P95_MS else "NOT met"
    print(f"target p95 <= {TARGET_P95_MS:g} ms at {CLIENTS} clients: {verdict} ({p95:.1f} ms)")
    print(
        f"no lost events: {not lost and len(entries) == expected_entries} "
        f"(log {len(entries)} entries = {len(all_seqs)} accepted writes + {derived} derived; "
        f"SSE listener received {len(set(streamed) & logged)}/{len(entries)}; "
        f"chain verifies: {verify['ok']})"
    )
    if lost or len(entries) != expected_entries:
        raise SystemExit(f"lost events: {lost[:10]}; log {len(entries)} vs {expected_entries}")


if __name__ == "__main__":
    main()

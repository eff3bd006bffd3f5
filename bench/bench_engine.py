"""Live engine throughput: events per second with a re-solve after every plan-changing event.

A synthetic simulated day on the Harrisburg fleet (26 units): an incident every 90 s, each with
its hand-over, acknowledgements, an AVL report, arrivals, close-down and return home (about
3,500 events). Measured in memory with crow-fly ETAs, in memory on the Harrisburg road network,
and with a SQLite incident log; against the plain way (folding the same events into the state
without solving or logging). Per-event time for the first and last 500 events shows whether
the work grows with history. Replay of the logged day, re-solving and trusting the log.
"""

from __future__ import annotations

import heapq
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from planner.centre.codes import CodeTable
from planner.centre.config import EngineConfig, EscalationConfig
from planner.centre.engine import Engine
from planner.centre.events import Event, parse_event
from planner.centre.state import CentreState, apply
from planner.dispatch.domain import UnitStatus
from planner.log.incident_log import IncidentLog
from planner.network.loader import load_region
from planner.network.region import Region
from planner.settings import SCENARIOS_DIR
from planner.sim.fleet import load_fleet

INCIDENTS = 400
START = datetime(2026, 3, 14, 0, 0, tzinfo=UTC)
CODES = ("CHEST_PAIN", "FALL", "STROKE", "BREATHING_PROBLEMS", "ASSAULT", "TRAFFIC_COLLISION")
CODES += ("CARDIAC_ARREST", "GAS_LEAK", "AUTO_FIRE_ALARM")


def _day(engine: Engine, region: Region, clock: list[datetime], *, seed: int = 7) -> list[float]:
    """Drive one synthetic day through ``engine``; returns the seconds each submit took."""
    rng = random.Random(seed)
    lonlat = region.node_lonlat
    heap: list[tuple[float, int, str, tuple[Any, ...]]] = []
    n = 0
    for i in range(INCIDENTS):
        heap.append((i * 90.0, n, "open", (f"I{i}",)))
        n += 1
    heapq.heapify(heap)
    timings: list[float] = []
    fleet = load_fleet(SCENARIOS_DIR / "harrisburg" / "fleet.yaml")
    homes = {u.unit_id: u.home for u in fleet.registration_events(at=START)}

    def submit(event: dict[str, Any]) -> None:
        begin = time.perf_counter()
        engine.submit(event)
        timings.append(time.perf_counter() - begin)

    def later(t: float, kind: str, *args: Any) -> None:
        nonlocal n
        n += 1
        heapq.heappush(heap, (t, n, kind, args))

    for event in fleet.registration_events(at=START):
        submit(event.model_dump(mode="json"))
    while heap:
        t, _, kind, args = heapq.heappop(heap)
        clock[0] = START + timedelta(seconds=t)
        state = engine.state
        if kind == "open":
            lon, lat = lonlat[rng.randrange(len(lonlat))]
            iid = args[0]
            submit(
                {
                    "type": "incident_opened",
                    "incident_id": iid,
                    "code": rng.choice(CODES),
                    "location": {"lat": float(lat), "lon": float(lon)},
                }
            )
            later(t + 30, "accept", iid)
            later(t + 1500, "close", iid)
        elif kind == "accept" and args[0] in state.incidents:
            recommended = [
                a.unit
                for a in (engine.plan.assignments if engine.plan else ())
                if a.incident == args[0]
            ]
            if recommended:
                submit({"type": "dispatch_accepted", "incident_id": args[0]})
                for uid in recommended:
                    later(t + 40, "ack", uid, args[0])
                    later(t + 200, "move", uid, args[0])
                    later(t + 400, "arrive", uid, args[0])
        elif kind in ("ack", "arrive", "move"):
            uid, iid = args
            unit = state.units[uid]
            if unit.incident != iid:
                continue
            if kind == "ack" and unit.status == UnitStatus.DISPATCHED:
                submit({"type": "unit_acknowledged", "unit_id": uid})
            elif kind == "arrive" and unit.status in (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE):
                submit({"type": "unit_arrived", "unit_id": uid})
            elif kind == "move" and unit.status == UnitStatus.EN_ROUTE:
                target = state.incidents[iid].location
                half = {
                    "lat": (unit.location.lat + target.lat) / 2,
                    "lon": (unit.location.lon + target.lon) / 2,
                }
                snapped = region.snap(half["lat"], half["lon"], max_snap_m=1e9).node
                lon, lat = lonlat[snapped]
                loc = {"lat": float(lat), "lon": float(lon)}
                submit({"type": "unit_moved", "unit_id": uid, "location": loc})
        elif kind == "close" and args[0] in state.incidents:
            freed = [u.id for u in state.units.values() if u.incident == args[0]]
            submit({"type": "incident_closed", "incident_id": args[0], "outcome": "done"})
            for uid in freed:
                later(t + 300, "home", uid)
        elif kind == "home" and state.units[args[0]].status == UnitStatus.AVAILABLE:
            home = homes[args[0]]
            submit({"type": "unit_moved", "unit_id": args[0], "location": home.model_dump()})
    return timings


def _config() -> EngineConfig:
    return EngineConfig(escalation=EscalationConfig())


Clock = Callable[[], datetime]


def _run(make: Callable[[Clock], Engine], region: Region) -> tuple[float, list[float], Engine]:
    """Drive a day through ``make(clock)``; the engine reads the simulated clock."""
    clock = [START]
    engine = make(lambda: clock[0])
    start = time.perf_counter()
    timings = _day(engine, region, clock)
    return len(timings) / (time.perf_counter() - start), timings, engine


def _fold_rate(events: list[Event], codes: CodeTable) -> float:
    start = time.perf_counter()
    state = CentreState()
    for event in events:
        state = apply(state, event, codes=codes)
    return len(events) / (time.perf_counter() - start)


def main() -> None:
    codes = CodeTable.load()
    region = load_region("harrisburg", fresh=True)
    rows: list[tuple[str, float, list[float]]] = []

    rate, timings, _ = _run(lambda c: Engine(codes=codes, config=_config(), clock=c), region)
    rows.append(("in memory, crow-fly ETAs", rate, timings))
    rate, timings, _ = _run(
        lambda c: Engine(codes=codes, region=region, config=_config(), clock=c), region
    )
    rows.append(("in memory, Harrisburg roads", rate, timings))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'log.sqlite'}"
        with IncidentLog(url) as log:
            rate, timings, live = _run(
                lambda c: Engine(codes=codes, region=region, log=log, config=_config(), clock=c),
                region,
            )
            rows.append(("SQLite log, Harrisburg roads", rate, timings))
            entries = log.entries()
            events = [parse_event(e.payload) for e in entries]
            fold = _fold_rate(events, codes)
            replay_start = time.perf_counter()
            replayed = Engine.replay(log, codes=codes, region=load_region("harrisburg", fresh=True))
            replay_s = time.perf_counter() - replay_start
            fast_start = time.perf_counter()
            Engine.replay(log, codes=codes, resolve=False)
            fast_s = time.perf_counter() - fast_start
            same = replayed.state == live.state

    print(f"{len(rows[0][2])} submitted events, {INCIDENTS} incidents, 26 units\n")
    print("| engine | events/s | median ms | p95 ms | first 500 ms | last 500 ms | vs fold |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rate, timings in rows:
        ms = sorted(t * 1000 for t in timings)
        first = statistics.mean(timings[:500]) * 1000
        last = statistics.mean(timings[-500:]) * 1000
        print(
            f"| {name} | {rate:,.0f} | {statistics.median(ms):.2f} | "
            f"{ms[int(0.95 * len(ms))]:.2f} | {first:.2f} | {last:.2f} | {fold / rate:,.0f}x |"
        )
    print(f"| plain fold (state only, no solve, no log) | {fold:,.0f} | | | | | 1x |")
    print(
        f"\nreplay of {len(entries)} log entries: re-solving {len(entries) / replay_s:,.0f} "
        f"entries/s, trusting the log {len(entries) / fast_s:,.0f} entries/s; "
        f"state identical to live: {same}"
    )


if __name__ == "__main__":
    main()

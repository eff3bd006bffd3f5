"""Live move-up decisions: what a relocation recommendation adds to the engine's work.

Utrecht (231 postcode points, the scenario's 20 ambulances at their MEXCLP bases, demand by
population). A call at a random point is served by a unit that becomes free when the call is
closed: the ``incident_closed`` submit is timed with policy ``coverage`` (re-solve only, the plain
way) and with ``coverage+dmexclp`` and ``coverage+mip`` (re-solve plus the move-up of the freed
unit, logged when it changes), in the same run; then the relocation timer's move-up of every idle
unit (``Engine.tick``) for both rules.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from planner.centre.config import EngineConfig, EscalationConfig, RelocationConfig, SolverConfig
from planner.centre.engine import Engine
from planner.network.loader import load_region
from planner.settings import SCENARIOS_DIR
from planner.sim.scenario import load_scenario
from planner.sim.world import prepare_world

CALLS = 30
START = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


def _engine(policy: str) -> tuple[Engine, list[datetime], list[tuple[float, float]]]:
    world = prepare_world(load_scenario(SCENARIOS_DIR / "utrecht.yaml"))
    clock = [START]
    config = EngineConfig(
        solver=SolverConfig(policy=policy),
        escalation=EscalationConfig(enabled=False),
        relocation=RelocationConfig(interval_s=60.0),
    )
    engine = Engine(
        codes=world.codes,
        region=load_region("utrecht", fresh=True),
        config=config,
        clock=lambda: clock[0],
    )
    for spec in world.deployment.units:
        lon, lat = world.region.node_lonlat[world.station_node[spec.station]]
        engine.submit(
            {
                "type": "unit_registered",
                "unit_id": spec.id,
                "capabilities": sorted(spec.capabilities),
                "station": spec.station,
                "home": {"lat": float(lat), "lon": float(lon)},
            }
        )
    points = [(float(lat), float(lon)) for lon, lat in world.region.node_lonlat]
    return engine, clock, points


def _freeing(policy: str) -> list[float]:
    """Seconds of each ``incident_closed`` submit that frees a unit."""
    engine, clock, points = _engine(policy)
    rng = random.Random(12)
    code = next(iter(engine.codes)).code
    timings = []
    for k in range(CALLS):
        lat, lon = points[rng.randrange(len(points))]
        iid = f"I{k}"
        clock[0] += timedelta(seconds=120)
        engine.submit(
            {
                "type": "incident_opened",
                "incident_id": iid,
                "code": code,
                "location": {"lat": lat, "lon": lon},
            }
        )
        plan = engine.plan
        units = [a.unit for a in plan.assignments if a.incident == iid] if plan else []
        if not units:
            continue
        engine.submit({"type": "dispatch_accepted", "incident_id": iid})
        for unit in units:
            engine.submit({"type": "unit_arrived", "unit_id": unit})
        clock[0] += timedelta(seconds=600)
        begin = time.perf_counter()
        engine.submit({"type": "incident_closed", "incident_id": iid, "outcome": "treated"})
        timings.append(time.perf_counter() - begin)
        for unit in list(engine.state.relocations):
            engine.submit({"type": "relocation_accepted", "unit_id": unit})
    return timings


def _timer(policy: str) -> list[float]:
    """Seconds of each timer tick that re-runs the move-up over the idle fleet (left unanswered,
    so every tick makes the same whole decision; only the first is logged)."""
    engine, clock, _ = _engine(policy)
    timings = []
    for _ in range(CALLS):
        clock[0] += timedelta(seconds=61)
        begin = time.perf_counter()
        engine.tick()
        timings.append(time.perf_counter() - begin)
    return timings


def _ms(values: list[float]) -> str:
    p90 = sorted(values)[int(0.9 * (len(values) - 1))]
    return f"{statistics.median(values) * 1000:.1f} ms (p90 {p90 * 1000:.1f})"


def main() -> dict[str, Any]:
    plain = _freeing("coverage")
    print(f"freeing a unit, coverage (re-solve only): {_ms(plain)} over {len(plain)} closes")
    result: dict[str, Any] = {"plain_ms": statistics.median(plain) * 1000}
    for rule in ("dmexclp", "mip"):
        freed = _freeing(f"coverage+{rule}")
        ratio = statistics.median(freed) / statistics.median(plain)
        print(f"freeing a unit, coverage+{rule}: {_ms(freed)} ({ratio:.2f}x the plain way)")
        timer = _timer(f"coverage+{rule}")
        print(f"relocation timer, coverage+{rule}, 20 idle units: {_ms(timer)}")
        result[rule] = {
            "freed_ms": statistics.median(freed) * 1000,
            "timer_ms": statistics.median(timer) * 1000,
        }
    return result


if __name__ == "__main__":
    main()

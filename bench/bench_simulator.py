"""Simulator speed: one simulated day of Manhattan EMS demand (~450 calls) with each policy.

Every call goes through the live engine (open, recommendation, dispatcher hand-over,
acknowledgement, arrival, transport, hospital, return), re-solving after every event on the
Manhattan road network (16k nodes). Target: well under a minute for the optimal policy. Beside
it, the same calls with closest-idle and coverage; the summed ``solve_ms`` of the plans shows
how much of the wall time is the solver itself.
"""

from __future__ import annotations

import statistics
import time

from planner.settings import SCENARIOS_DIR
from planner.sim.scenario import load_scenario
from planner.sim.simulator import Simulation, generate_calls, prepare_world

REPEATS = {"optimal": 3, "closest_idle": 1, "coverage": 1}


def main() -> None:
    scenario = load_scenario(SCENARIOS_DIR / "manhattan-ems.yaml")
    started = time.perf_counter()
    world = prepare_world(scenario)
    prepare_s = time.perf_counter() - started
    calls = generate_calls(world, 0)
    print(
        f"Manhattan: {world.region.n_nodes} nodes, {len(world.deployment.units)} ambulances, "
        f"{len(calls)} calls in 24 h (replication 0); world prepared in {prepare_s:.1f} s\n"
    )
    print("| policy | runs | wall s (median) | engine events | events/s | solve ms total |")
    print("|---|---|---|---|---|---|")
    for policy in ("optimal", "closest_idle", "coverage"):
        walls = []
        events = 0
        solve_ms = 0.0
        for _ in range(REPEATS[policy]):
            result = Simulation(world, calls, policy=policy, replication=0).run()
            walls.append(result.wall_s)
            events = result.events
            solve_ms = sum(result.solve_ms)
        wall = statistics.median(walls)
        print(
            f"| {policy} | {REPEATS[policy]} | {wall:.1f} | {events} | {events / wall:.0f} | "
            f"{solve_ms:.0f} |"
        )


if __name__ == "__main__":
    main()

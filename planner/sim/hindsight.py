"""A simulated day as a perfect-hindsight problem (:mod:`planner.dispatch.bound`).

Drives use the scenario's siren speed factors and each unit's turnout, as the simulator does.
The calls of one replication, with their drawn service times, and the fleet at the stations it
starts the day at (shifts and station changes are ignored: the bound assumes everyone on duty,
which only makes it lower).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import numpy as np

from planner.dispatch.bound import BoundProblem
from planner.sim.world import Call, World


def hindsight_problem(world: World, calls: list[Call]) -> BoundProblem:
    """Per unit and call: in time from its base when leaving at the call's ready time?
    And how long it is then busy (drive, on scene, hospital and hand-over or the drive back,
    back at its base)."""
    sc = world.scenario
    stations = [u.station for u in world.deployment.units]
    bases = np.array([world.station_node[s] for s in stations], dtype=np.int64)
    nodes = np.array([c.node for c in calls], dtype=np.int64)
    drive = world.region.travel_time_matrix(bases, nodes).reshape(len(bases), len(calls))
    target = np.array([sc.targets_s.get(c.priority, world.codes[c.code].target_s) for c in calls])
    start = sc.start
    factor = np.array(
        [
            sc.speeds.factor(priority=c.priority, hour=(start + timedelta(seconds=c.t_s)).hour)
            for c in calls
        ]
    )
    drive = drive / factor[None, :]
    turnout = np.array(
        [_turnout(sc.service.turnout_s, u.capabilities) for u in world.deployment.units]
    )
    waited = np.array([c.delay_s for c in calls])
    on_time = np.isfinite(drive) & (waited[None, :] + turnout[:, None] + drive <= target[None, :])
    busy = np.zeros_like(drive)
    for i, call in enumerate(calls):
        if call.transport and len(world.hospital_nodes):
            hospital, to_hospital = world.nearest_hospital(call.node)
            back = np.array([world.seconds_to_station(hospital, s) for s in stations])
            after = to_hospital + call.handover_s + back
        else:
            after = drive[:, i]
        busy[:, i] = turnout + drive[:, i] + call.on_scene_s + after
    return BoundProblem(
        priority=[c.priority for c in calls],
        ready_s=np.array([c.t_s + c.delay_s for c in calls]),
        on_time=on_time,
        busy_s=busy,
    )


def _turnout(turnout: Mapping[str, float], capabilities: Sequence[str]) -> float:
    """As the simulator: the first of the unit's capabilities listed, else ``default``."""
    for capability in capabilities:
        if capability in turnout:
            return turnout[capability]
    return turnout.get("default", 0.0)

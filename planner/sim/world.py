"""The simulated world: a scenario resolved against its region, and the calls of a replication.

Common random numbers: a replication's calls (times, places, codes) and their service times
(delay, on-scene, transport, hand-over) come from separate seeded streams that depend only on
the scenario seed and the replication number, so every policy sees exactly the same calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from planner.arrays import FloatArray, IntArray
from planner.centre.codes import CodeTable
from planner.dispatch.coverage import CoverageModel, install
from planner.errors import InputError
from planner.network.loader import load_region
from planner.network.region import Region
from planner.settings import get_settings
from planner.sim.demand import (
    CallMixEntry,
    Surge,
    arrival_times,
    draw_mix,
    draw_points,
    flat_profile,
    load_profile,
    read_call_log,
    replay_calls,
)
from planner.sim.deployment import Deployment, apply_changes
from planner.sim.scenario import Distribution, Place, Scenario, code_table

# --------------------------------------------------------------------------------------------
# The prepared world (one per process) and the calls of a replication


@dataclass(slots=True)
class World:
    """A scenario resolved against its region: nodes of stations/hospitals, demand points."""

    scenario: Scenario
    region: Region
    codes: CodeTable
    deployment: Deployment
    station_node: dict[str, int]
    hospital_nodes: IntArray
    demand_nodes: IntArray
    demand_weights: FloatArray
    mix: list[CallMixEntry]
    coverage: CoverageModel
    _to_station: dict[int, FloatArray] = field(default_factory=dict)
    _to_hospital: FloatArray | None = None
    _version: object = None

    def lonlat(self, node: int) -> tuple[float, float]:
        lon, lat = self.region.node_lonlat[node]
        return float(lat), float(lon)

    def seconds_to_station(self, origin: int, station: str) -> float:
        self._refresh()
        node = self.station_node[station]
        if node not in self._to_station:
            self._to_station[node] = self.region.etas_to(node)
        return float(self._to_station[node][origin])

    def nearest_hospital(self, origin: int) -> tuple[int, float]:
        """The hospital node reached fastest from ``origin`` and the seconds to it."""
        self._refresh()
        if self._to_hospital is None:
            self._to_hospital = np.vstack(
                [self.region.etas_to(int(h)) for h in self.hospital_nodes]
            )
        col = self._to_hospital[:, origin]
        k = int(np.argmin(col))
        return int(self.hospital_nodes[k]), float(col[k])

    def waypoints(self, origin: int, station: str, seconds: float) -> list[tuple[float, int]]:
        """Where a unit driving ``origin`` → ``station`` (``seconds``) is along the way: up to
        three ``(seconds after leaving, node)`` points, one per quarter of the trip and at
        least two minutes apart, on nodes that lie on a fastest path (within 2 %)."""
        n = min(3, int(seconds // 120.0))
        if n == 0:
            return []
        self._refresh()
        to_base = self.seconds_to_station(origin, station)
        node = self.station_node[station]
        from_origin = self.region.travel_time_matrix(
            np.array([origin], dtype=np.int64), np.arange(self.region.n_nodes, dtype=np.int64)
        )[0]
        back = self._to_station[node]
        on_way = np.flatnonzero(from_origin + back <= to_base * 1.02 + 1e-9)
        out: list[tuple[float, int]] = []
        for k in range(1, n + 1):
            goal = seconds * k / (n + 1)
            best = int(on_way[np.argmin(np.abs(from_origin[on_way] - goal))])
            if best not in (origin, node) and (not out or out[-1][1] != best):
                out.append((float(from_origin[best]), best))
        return out

    def _refresh(self) -> None:
        version = (getattr(self.region, "weights_version", None), tuple(self.region.closures))
        if version != self._version:
            self._to_station.clear()
            self._to_hospital = None
            self._version = version


def prepare_world(scenario: Scenario) -> World:
    """Load the region and code table, place the fleet and demand, install ``coverage``."""
    region = load_region(scenario.region)
    codes = code_table(scenario)
    deployment = apply_changes(scenario)
    station_node = {
        sid: _node(region, s, field=f"stations.{sid}") for sid, s in deployment.stations.items()
    }
    hospitals = [_node(region, h, field=f"hospitals.{h.id}") for h in deployment.hospitals]
    if not hospitals and scenario.service.transport_probability > 0:
        raise InputError(
            "calls are transported but the scenario has no hospitals", field="hospitals"
        )
    mix = []
    for i, entry in enumerate(scenario.demand.mix):
        if entry.code not in codes:
            raise InputError(f"unknown code {entry.code!r}", field=f"demand.mix.{i}.code")
        priority = entry.priority or codes[entry.code].default_priority
        mix.append(CallMixEntry(entry.code, priority, entry.share))
    nodes, weights = _demand_points(scenario, region, station_node)
    top = min(x.priority for x in mix)
    target = min(
        scenario.targets_s.get(m.priority, codes[m.code].target_s) for m in mix if m.priority == top
    )
    delay = rolling_delay_s(scenario)
    busy = scenario.options.busy_fraction or busy_estimate(
        scenario,
        region,
        stations=np.array(sorted(set(station_node.values())), dtype=np.int64),
        hospitals=np.array(hospitals, dtype=np.int64),
        demand=(nodes, weights),
        units=len(deployment.units),
        surge=_mean_surge(scenario, deployment),
    )
    coverage = CoverageModel(
        region=region,
        demand_nodes=nodes,
        demand_weights=weights,
        target_s=max(target - delay, 0.0),
        busy_fraction=busy,
        delay_s=delay,
        busy_by_hour=None if scenario.options.busy_fraction else _busy_by_hour(scenario, busy),
        weight_s=scenario.options.coverage_weight_s,
    )
    install(coverage)
    return World(
        scenario=scenario,
        region=region,
        codes=codes,
        deployment=deployment,
        station_node=station_node,
        hospital_nodes=np.array(hospitals, dtype=np.int64),
        demand_nodes=nodes,
        demand_weights=weights,
        mix=mix,
        coverage=coverage,
    )


def _node(region: Region, place: Place, *, field: str) -> int:
    if place.point is not None:
        index = getattr(region, "point_index", None)
        if index is None:
            raise InputError(f"region {region.name} has no point ids; give lat/lon", field=field)
        return int(index(place.point))
    assert place.lat is not None and place.lon is not None
    return region.snap(place.lat, place.lon).node


def _demand_points(
    scenario: Scenario, region: Region, station_node: dict[str, int]
) -> tuple[IntArray, FloatArray]:
    spatial = scenario.demand.spatial
    nodes = np.arange(region.n_nodes, dtype=np.int64)
    if spatial.kind == "population":
        population = getattr(region, "population", None)
        if population is None:
            raise InputError(
                f"region {region.name} has no population shares; use kind: uniform",
                field="demand.spatial.kind",
            )
        weights = np.asarray(population, dtype=np.float64)
    else:
        weights = np.ones(region.n_nodes)
    if spatial.max_s_from_station is not None:
        stations = np.array(sorted(set(station_node.values())), dtype=np.int64)
        reach = region.travel_time_matrix(stations, nodes).min(axis=0)
        keep = reach <= spatial.max_s_from_station
        nodes, weights = nodes[keep], weights[keep]
    keep = weights > 0
    if not keep.any():
        raise InputError("no demand point has positive weight", field="demand.spatial")
    return nodes[keep], weights[keep] / weights[keep].sum()


def busy_estimate(
    scenario: Scenario,
    region: Region,
    *,
    stations: IntArray,
    hospitals: IntArray,
    demand: tuple[IntArray, FloatArray],
    units: int,
    surge: float = 1.0,
) -> float:
    """MEXCLP's busy fraction q from the offered load: calls/h × busy hours per call / units.

    A call keeps a unit busy for the drive from the nearest station, the time on scene, and
    then either the drive back or (with the transport probability) the drive to the nearest
    hospital, the hand-over and the drive from there to the nearest station; all averaged
    over the demand weights on the region's travel times.
    """
    nodes, weights = demand
    svc = scenario.service
    drive = region.travel_time_matrix(stations, nodes).min(axis=0)
    busy = drive + svc.on_scene_s.mean
    if hospitals.size and svc.transport_probability > 0:
        to_hospital = np.vstack([region.etas_to(int(h)) for h in hospitals])[:, nodes]
        nearest = np.argmin(to_hospital, axis=0)
        back = region.travel_time_matrix(hospitals, stations).min(axis=1)[nearest]
        transported = to_hospital.min(axis=0) + svc.handover_s.mean + back
        p = svc.transport_probability
        busy = busy + p * transported + (1.0 - p) * drive
    else:
        busy = busy + drive
    finite = np.isfinite(busy)
    mean_busy_s = float(np.sum(weights[finite] * busy[finite]) / np.sum(weights[finite]))
    q = scenario.demand.rate_per_h * surge * mean_busy_s / 3600.0 / max(units, 1)
    return float(min(max(q, 0.02), 0.95))


def rolling_delay_s(scenario: Scenario) -> float:
    """Expected seconds between a call and its unit rolling: dispatch delay plus turnout
    (when the scenario's service model has one)."""
    svc = scenario.service
    turnout = getattr(svc, "turnout_s", None)
    extra = float(getattr(turnout, "mean", turnout or 0.0))
    return float(svc.dispatch_delay_s.mean) + extra


def _busy_by_hour(scenario: Scenario, mean_busy: float) -> FloatArray | None:
    """``q`` by weekday and hour: the mean scaled by the demand profile, averaged over the
    hour and the one before (a call keeps a unit busy for about an hour)."""
    if scenario.demand.replay is not None or scenario.demand.profile == "flat":
        return None
    multiplier = load_profile(scenario.demand.profile).multiplier.reshape(-1)
    lagged = 0.5 * (multiplier + np.roll(multiplier, 1))
    return np.clip(mean_busy * lagged, 0.02, 0.95).reshape(7, 24)


def _mean_surge(scenario: Scenario, deployment: Deployment) -> float:
    """The average rate factor of the surges over the horizon."""
    horizon = scenario.duration_h
    extra = sum(
        (s.factor - 1.0) * max(0.0, min(s.to_h, horizon) - s.from_h) for s in deployment.surges
    )
    return 1.0 + extra / horizon


@dataclass(frozen=True, slots=True)
class Call:
    """One call with its own service times (drawn up front: common random numbers)."""

    index: int
    t_s: float
    node: int
    code: str
    priority: int
    delay_s: float
    on_scene_s: float
    transport: bool
    handover_s: float
    casualties: int = 0


def _draw(rng: np.random.Generator, dist: Distribution, n: int) -> FloatArray:
    if dist.dist == "constant" or dist.mean == 0:
        return np.full(n, dist.mean)
    if dist.dist == "exponential":
        return rng.exponential(dist.mean, size=n)
    assert dist.sd is not None
    sigma2 = math.log(1.0 + (dist.sd / dist.mean) ** 2)
    return rng.lognormal(math.log(dist.mean) - sigma2 / 2, math.sqrt(sigma2), size=n)


def generate_calls(world: World, replication: int) -> list[Call]:
    """The calls of one replication; identical for every policy (separate seeded streams)."""
    sc = world.scenario
    streams = np.random.SeedSequence([sc.seed, replication]).spawn(4)
    arrivals, places, kinds, service = (np.random.default_rng(s) for s in streams)
    duration_s = sc.duration_h * 3600.0
    deployment = world.deployment
    surges = [Surge(s.from_h * 3600.0, s.to_h * 3600.0, s.factor) for s in deployment.surges]
    if sc.demand.replay is not None:
        times, nodes, mix_idx = _replayed(world, duration_s, places)
    else:
        profile = flat_profile() if sc.demand.profile == "flat" else load_profile(sc.demand.profile)
        times = arrival_times(
            arrivals,
            start=sc.start,
            duration_s=duration_s,
            rate_per_h=sc.demand.rate_per_h,
            profile=profile,
            surges=surges,
        )
        nodes = world.demand_nodes[draw_points(places, world.demand_weights, len(times))]
        mix_idx = draw_mix(kinds, world.mix, len(times))
    codes = [world.mix[int(k)].code for k in mix_idx]
    priorities = [world.mix[int(k)].priority for k in mix_idx]
    casualties = [0] * len(times)
    for major in deployment.major_incidents:
        times = np.append(times, major.at_h * 3600.0)
        nodes = np.append(nodes, _node(world.region, major, field="changes.major_incident"))
        codes.append(major.code)
        priorities.append(world.codes[major.code].default_priority)
        casualties.append(major.casualties)
    n = len(times)
    svc = sc.service
    delay = _draw(service, svc.dispatch_delay_s, n)
    on_scene = _draw(service, svc.on_scene_s, n)
    transport = service.random(n) < svc.transport_probability
    handover = _draw(service, svc.handover_s, n)
    order = np.argsort(times, kind="stable")
    return [
        Call(
            index=k,
            t_s=float(times[i]),
            node=int(nodes[i]),
            code=codes[i],
            priority=priorities[i],
            delay_s=float(delay[i]),
            on_scene_s=float(on_scene[i]),
            transport=bool(transport[i]),
            handover_s=float(handover[i]),
            casualties=casualties[i],
        )
        for k, i in enumerate(order.tolist())
    ]


def _replayed(
    world: World, duration_s: float, places: np.random.Generator
) -> tuple[FloatArray, IntArray, IntArray]:
    replay = world.scenario.demand.replay
    assert replay is not None
    calls = read_call_log(get_settings().data_dir / replay.file)
    window = replay_calls(calls, duration_s=duration_s, log_from=replay.start)
    window = window[window["service"].isin(list(replay.services))]
    code_index = {m.code: i for i, m in enumerate(world.mix)}
    for service, code in replay.services.items():
        if code not in code_index:
            raise InputError(
                f"code {code!r} is not in demand.mix", field=f"demand.replay.services.{service}"
            )
    mix_idx = np.array([code_index[replay.services[s]] for s in window["service"]], np.int64)
    if replay.locations == "log":
        nodes = np.array(
            [
                world.region.snap(lat, lon).node
                for lat, lon in zip(window["lat"], window["lon"], strict=True)
            ],
            dtype=np.int64,
        )
    else:
        nodes = world.demand_nodes[draw_points(places, world.demand_weights, len(window))]
    return window["t_s"].to_numpy(dtype=np.float64), nodes, mix_idx

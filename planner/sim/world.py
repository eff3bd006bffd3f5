"""The simulated world: a scenario resolved against its region, and the calls of a replication.

Common random numbers: a replication's calls (times, places, codes) and their service times
(delay, on-scene, transport, hand-over) come from separate seeded streams that depend only on
the scenario seed and the replication number, so every policy sees exactly the same calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from planner.arrays import BoolArray, FloatArray, IntArray
from planner.centre.codes import CodeTable
from planner.dispatch.coverage import CoverageModel
from planner.dispatch.holding import install
from planner.dispatch.moveup import MoveUpLimits
from planner.errors import InputError, OutsideRegionError
from planner.network.closures import Closure, points_in_area, segments_in_area
from planner.network.geo import LocalProjection, Location
from planner.network.loader import load_region
from planner.network.osm import with_class_speeds
from planner.network.region import Region
from planner.network.road_region import RoadRegion
from planner.settings import get_settings
from planner.sim.demand import (
    CallMixEntry,
    Surge,
    arrival_times,
    draw_mix,
    draw_points,
    flat_profile,
    inside_area,
    load_profile,
    load_service_area,
    read_demand_points,
    read_log,
    surge_factor,
    surge_windows,
)
from planner.sim.deployment import Deployment, apply_changes
from planner.sim.scenario import Distribution, Place, RoadClosure, Scenario, code_table

# --------------------------------------------------------------------------------------------
# The prepared world (one per process) and the calls of a replication

COVER_ZONES = 8
"""Cells per side of the coverage map grid."""


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
    moveup: MoveUpLimits
    area: Any = None
    """The service area (a shapely geometry, lon/lat) or ``None``."""
    _to_station: dict[int, FloatArray] = field(default_factory=dict)
    _to_hospital: FloatArray | None = None
    _cover_s: dict[int, FloatArray] = field(default_factory=dict)
    _zone: IntArray | None = None
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

    def hospitals_by_time(self, origin: int) -> list[tuple[int, float]]:
        """Every hospital (index into ``deployment.hospitals``) with the seconds to it from
        ``origin``, fastest first (ties: list order)."""
        self.nearest_hospital(origin)  # builds the matrix
        assert self._to_hospital is not None
        col = self._to_hospital[:, origin]
        order = np.argsort(col, kind="stable")
        return [(int(k), float(col[k])) for k in order]

    def covered(self, nodes: list[int], *, budget_s: float) -> BoolArray:
        """Which demand points a unit at one of ``nodes`` reaches within ``budget_s`` of
        driving (region travel times; rows cached per node as float32)."""
        self._refresh()
        missing = [n for n in dict.fromkeys(nodes) if n not in self._cover_s]
        if missing:
            seconds = self.region.travel_time_matrix(
                np.array(missing, dtype=np.int64), self.demand_nodes
            ).astype(np.float32)
            for n, row in zip(missing, seconds, strict=True):
                self._cover_s[n] = row
        out = np.zeros(len(self.demand_nodes), dtype=bool)
        for n in dict.fromkeys(nodes):
            out |= self._cover_s[n] <= budget_s
        return out

    def zone_edges(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Longitude and latitude edges of the coverage map grid: the demand points' bounding
        box cut into :data:`COVER_ZONES` × :data:`COVER_ZONES` cells."""
        lonlat = self.region.node_lonlat[self.demand_nodes]
        lon = np.linspace(lonlat[:, 0].min(), lonlat[:, 0].max() + 1e-9, COVER_ZONES + 1)
        lat = np.linspace(lonlat[:, 1].min(), lonlat[:, 1].max() + 1e-9, COVER_ZONES + 1)
        return tuple(lon.tolist()), tuple(lat.tolist())

    def zone_fractions(self, covered: BoolArray) -> tuple[float, ...]:
        """Per grid cell (row-major, south to north, west to east): the share of its demand
        weight that is ``covered``; ``nan`` for cells without demand."""
        if self._zone is None:
            lon, lat = (np.asarray(e) for e in self.zone_edges())
            lonlat = self.region.node_lonlat[self.demand_nodes]
            ix = np.clip(np.searchsorted(lon, lonlat[:, 0], side="right") - 1, 0, COVER_ZONES - 1)
            iy = np.clip(np.searchsorted(lat, lonlat[:, 1], side="right") - 1, 0, COVER_ZONES - 1)
            self._zone = (iy * COVER_ZONES + ix).astype(np.int64)
        n = COVER_ZONES * COVER_ZONES
        total = np.bincount(self._zone, weights=self.demand_weights, minlength=n)
        hit = np.bincount(self._zone, weights=self.demand_weights * covered, minlength=n)
        share = np.where(total > 0, hit / np.where(total > 0, total, 1.0), np.nan)
        return tuple(share.tolist())

    def waypoints(self, origin: int, station: str, seconds: float) -> list[tuple[float, int]]:
        """Where a unit driving ``origin`` → ``station`` (``seconds``) is along the way: up to
        three ``(seconds after leaving, node)`` points, one per quarter of the trip and at
        least two minutes apart, on nodes that lie on a fastest path (within 2 %)."""
        if seconds < 120.0:
            return []
        self._refresh()
        self.seconds_to_station(origin, station)  # caches the tree towards the station
        node = self.station_node[station]
        return self.route_points(origin, node, seconds, to_dest=self._to_station[node])

    def route_points(
        self, origin: int, node: int, seconds: float, *, to_dest: FloatArray | None = None
    ) -> list[tuple[float, int]]:
        """:meth:`waypoints` towards any ``node`` (``to_dest``: every node's seconds to it)."""
        n = min(3, int(seconds // 120.0))
        if n == 0:
            return []
        back = self.region.etas_to(node) if to_dest is None else to_dest
        to_base = float(back[origin])
        from_origin = self.region.travel_time_matrix(
            np.array([origin], dtype=np.int64), np.arange(self.region.n_nodes, dtype=np.int64)
        )[0]
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
            self._cover_s.clear()
            self._to_hospital = None
            self._version = version


def prepare_world(scenario: Scenario) -> World:
    """Load the region and code table, place the fleet and demand, install ``coverage``."""
    region = _with_speeds(load_region(scenario.region), scenario)
    codes = code_table(scenario)
    deployment = apply_changes(scenario)
    _check_closures(region, deployment)
    area = load_service_area(scenario.service_area) if scenario.service_area else None
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
    nodes, weights = _demand_points(scenario, region, station_node, area=area)
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
        priority_speed=dict(scenario.speeds.priority_factor),
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
        area=area,
        moveup=scenario.options.moveup.to_limits(),
    )


_SPED: dict[tuple[int, tuple[tuple[str, float], ...]], Region] = {}


def _with_speeds(region: Region, scenario: Scenario) -> Region:
    """The region with the scenario's road-class speeds (built once per process)."""
    kph = scenario.speeds.kph
    if not kph:
        return region
    if not isinstance(region, RoadRegion):
        raise InputError(
            f"region {region.name} is a travel-time matrix: it has no road classes",
            field="speeds.kph",
        )
    key = (id(region), tuple(sorted(kph.items())))
    if key not in _SPED:
        _SPED[key] = RoadRegion(with_class_speeds(region.arrays, dict(kph)))
    return _SPED[key]


def _check_closures(region: Region, deployment: Deployment) -> None:
    """A road closure that covers no road would silently change nothing: refuse it."""
    if not deployment.road_closures:
        return
    lon0, lat0 = (float(v) for v in region.node_lonlat.mean(axis=0))
    projection = LocalProjection(lat0, lon0)
    segments = region.road_segments()
    for road in deployment.road_closures:
        closure = Closure(centre=Location(road.lat, road.lon), radius_m=road.radius_m)
        if len(segments):
            hit = bool(segments_in_area(closure, projection, segments).any())
        else:
            hit = bool(points_in_area(closure, projection, region.node_lonlat).any())
        if not hit:
            raise InputError(
                f"road closure {road.id!r} ({road.lat}, {road.lon}, {road.radius_m} m) "
                f"touches no road of region {region.name}",
                field=f"road_closure.{road.id}",
            )


def _node(region: Region, place: Place, *, field: str) -> int:
    if place.point is not None:
        index = getattr(region, "point_index", None)
        if index is None:
            raise InputError(f"region {region.name} has no point ids; give lat/lon", field=field)
        return int(index(place.point))
    assert place.lat is not None and place.lon is not None
    try:
        return region.snap(place.lat, place.lon).node
    except (InputError, OutsideRegionError) as exc:
        what = field.replace("stations.", "station ").replace("hospitals.", "hospital ")
        name = getattr(place, "name", None)
        label = f"{what} ({name})" if name else what
        raise InputError(f"{label}: {exc.message}", field=field) from None


def _demand_points(
    scenario: Scenario, region: Region, station_node: dict[str, int], *, area: Any = None
) -> tuple[IntArray, FloatArray]:
    spatial = scenario.demand.spatial
    nodes = np.arange(region.n_nodes, dtype=np.int64)
    if spatial.kind == "points":
        assert spatial.points is not None
        weights = _point_weights(region, spatial.points, area=area)
    elif spatial.kind == "population":
        population = getattr(region, "population", None)
        if population is None:
            raise InputError(
                f"region {region.name} has no population shares; use kind: uniform",
                field="demand.spatial.kind",
            )
        weights = np.asarray(population, dtype=np.float64)
    else:
        weights = np.ones(region.n_nodes)
    if area is not None:
        weights = np.where(inside_area(area, region.node_lonlat), weights, 0.0)
    if spatial.max_s_from_station is not None:
        stations = np.array(sorted(set(station_node.values())), dtype=np.int64)
        reach = region.travel_time_matrix(stations, nodes).min(axis=0)
        keep = reach <= spatial.max_s_from_station
        nodes, weights = nodes[keep], weights[keep]
    keep = weights > 0
    if not keep.any():
        raise InputError("no demand point has positive weight", field="demand.spatial")
    return nodes[keep], weights[keep] / weights[keep].sum()


def _point_weights(region: Region, file: str, *, area: Any) -> FloatArray:
    """Demand-point weights added onto their nearest nodes (points outside the area dropped)."""
    points = read_demand_points(file)
    if area is not None:
        points = points[inside_area(area, points[["lon", "lat"]].to_numpy(dtype=np.float64))]
    weights = np.zeros(region.n_nodes)
    for k, (lat, lon, w) in enumerate(
        zip(points["lat"], points["lon"], points["weight"], strict=True)
    ):
        try:
            node = region.snap(float(lat), float(lon)).node
        except (InputError, OutsideRegionError) as exc:
            raise InputError(
                f"demand point {k + 1} of {file}: {exc}", field="demand.spatial.points"
            ) from None
        weights[node] += float(w)
    return weights


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
    q = _rate_per_h(scenario) * surge * mean_busy_s / 3600.0 / max(units, 1)
    return float(min(max(q, 0.02), 0.95))


def rolling_delay_s(scenario: Scenario) -> float:
    """Expected seconds between a call and its unit rolling: dispatch delay plus turnout
    (when the scenario's service model has one)."""
    svc = scenario.service
    turnout = svc.turnout_s
    extra = turnout.get("default", float(np.mean(list(turnout.values()))) if turnout else 0.0)
    return float(svc.dispatch_delay_s.mean) + extra


def _busy_by_hour(scenario: Scenario, mean_busy: float) -> FloatArray | None:
    """``q`` by weekday and hour: the mean scaled by the demand profile, averaged over the
    hour and the one before (a call keeps a unit busy for about an hour)."""
    if scenario.demand.replay is not None or scenario.demand.profile == "flat":
        return None
    multiplier = load_profile(scenario.demand.profile).multiplier.reshape(-1)
    lagged = 0.5 * (multiplier + np.roll(multiplier, 1))
    return np.clip(mean_busy * lagged, 0.02, 0.95).reshape(7, 24)


def _rate_per_h(scenario: Scenario) -> float:
    """The scenario's call rate, or for a replay without one, the log's rate in the window."""
    replay = scenario.demand.replay
    if scenario.demand.rate_per_h is not None or replay is None:
        return scenario.demand.rate_per_h or 0.0
    duration_s = scenario.duration_h * 3600.0
    calls = read_log(get_settings().data_dir / replay.file, replay, duration_s=duration_s)
    return len(calls) / scenario.duration_h


def _mean_surge(scenario: Scenario, deployment: Deployment) -> float:
    """The average rate factor of the surges over the horizon."""
    horizon_s = scenario.duration_h * 3600.0
    surges = surge_windows(deployment.surges, start=scenario.start, duration_s=horizon_s)
    extra = sum((s.factor - 1.0) * (s.end_s - s.start_s) for s in surges)
    return 1.0 + extra / horizon_s


def road_windows(
    roads: list[RoadClosure], *, start: datetime, duration_s: float
) -> list[tuple[RoadClosure, float, float | None]]:
    """(closure, on, off) in seconds from ``start``; ``daily`` closures once per day (clock
    hours, wrapping past midnight when ``to_h < from_h``), each day under its own id."""
    out: list[tuple[RoadClosure, float, float | None]] = []
    midnight = -float(start.hour * 3600 + start.minute * 60 + start.second)
    for road in roads:
        if not road.daily:
            out.append(
                (road, road.from_h * 3600.0, None if road.to_h is None else road.to_h * 3600.0)
            )
            continue
        to_h = 24.0 if road.to_h is None else road.to_h
        length_s = ((to_h - road.from_h) % 24.0 or 24.0) * 3600.0
        for day in range(-1, math.ceil(duration_s / 86400.0) + 1):
            on = midnight + 86400.0 * day + road.from_h * 3600.0
            if on + length_s <= 0 or on >= duration_s:
                continue
            daily = road.model_copy(update={"id": f"{road.id}@{day}"})
            out.append((daily, max(on, 0.0), on + length_s))
    return out


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
    """The calls of one replication; identical for every policy and, where they overlap, for
    every scenario with the same seed (common random numbers that survive surges).

    Calls come in *layers*, each an independent stream seeded by (seed, replication, layer)
    that holds the calls and their service times. Layer 0 is the base demand (model or
    replayed log); a surge of factor ``f`` keeps layers ``0..ceil(f)-1`` inside its window,
    the last one thinned to the fraction ``f - floor(f)`` by a uniform drawn per call. Every
    layer is Poisson at the base rate, so the result is Poisson at ``f`` × the base rate, and
    the calls of a scenario without the surge are exactly a subset of those with it.
    """
    sc = world.scenario
    duration_s = sc.duration_h * 3600.0
    surges = surge_windows(world.deployment.surges, start=sc.start, duration_s=duration_s)
    peak = max([1.0, *(surge_factor(np.array([s.start_s]), surges)[0] for s in surges)])
    parts = [_layer(world, replication, k, surges, duration_s) for k in range(math.ceil(peak))]
    parts.append(_majors(world, replication))
    calls = [c for part in parts for c in part]
    calls.sort(key=lambda c: c.t_s)
    return [replace(c, index=k) for k, c in enumerate(calls)]


def _layer(
    world: World, replication: int, layer: int, surges: list[Surge], duration_s: float
) -> list[Call]:
    sc = world.scenario
    arrivals, places, kinds, service = (
        np.random.default_rng(s)
        for s in np.random.SeedSequence([sc.seed, replication, layer]).spawn(4)
    )
    if sc.demand.replay is not None:
        times, nodes, mix_idx, logged = _replayed(world, duration_s, places, arrivals, layer)
        thin = arrivals.random(len(times))
    else:
        profile = flat_profile() if sc.demand.profile == "flat" else load_profile(sc.demand.profile)
        assert sc.demand.rate_per_h is not None
        times = arrival_times(
            arrivals,
            start=sc.start,
            duration_s=duration_s,
            rate_per_h=sc.demand.rate_per_h,
            profile=profile,
        )
        thin = arrivals.random(len(times))
        nodes = world.demand_nodes[draw_points(places, world.demand_weights, len(times))]
        mix_idx = draw_mix(kinds, world.mix, len(times))
        logged = np.full(len(times), np.nan)
    priority = np.array([world.mix[int(k)].priority for k in mix_idx], dtype=np.float64)
    priority = np.where(np.isfinite(logged), logged, priority)
    keep = thin < np.clip(surge_factor(times, surges) - layer, 0.0, 1.0)
    drawn = _service_draws(world, service, len(times))
    return [
        Call(
            index=0,
            t_s=float(times[i]),
            node=int(nodes[i]),
            code=world.mix[int(mix_idx[i])].code,
            priority=int(priority[i]),
            delay_s=float(drawn[0][i]),
            on_scene_s=float(drawn[1][i]),
            transport=bool(drawn[2][i]),
            handover_s=float(drawn[3][i]),
        )
        for i in np.flatnonzero(keep).tolist()
    ]


def _service_draws(
    world: World, rng: np.random.Generator, n: int
) -> tuple[FloatArray, FloatArray, BoolArray, FloatArray]:
    svc = world.scenario.service
    delay = _draw(rng, svc.dispatch_delay_s, n)
    on_scene = _draw(rng, svc.on_scene_s, n)
    transport = rng.random(n) < svc.transport_probability
    handover = _draw(rng, svc.handover_s, n)
    return delay, on_scene, transport, handover


def _majors(world: World, replication: int) -> list[Call]:
    """Major incidents: one call per casualty (each a patient needing an ambulance); the first
    carries the major-incident declaration."""
    sc = world.scenario
    service = np.random.default_rng(np.random.SeedSequence([sc.seed, replication, 10_000]))
    calls: list[Call] = []
    for major in world.deployment.major_incidents:
        node = _node(world.region, major, field="changes.major_incident")
        n = max(1, major.casualties)
        delay, on_scene, transport, handover = _service_draws(world, service, n)
        for k in range(n):
            calls.append(
                Call(
                    index=0,
                    t_s=major.at_h * 3600.0,
                    node=node,
                    code=major.code,
                    priority=world.codes[major.code].default_priority,
                    delay_s=float(delay[k]),
                    on_scene_s=float(on_scene[k]),
                    transport=bool(transport[k]),
                    handover_s=float(handover[k]),
                    casualties=major.casualties if k == 0 else 0,
                )
            )
    return calls


REPLAY_JITTER_S = 1800.0
"""Surge copies of replayed calls are moved by up to this much (uniform, either way)."""


def _replayed(
    world: World,
    duration_s: float,
    places: np.random.Generator,
    jitter: np.random.Generator,
    layer: int,
) -> tuple[FloatArray, IntArray, IntArray, FloatArray]:
    """Layer 0: the log's calls in the window; layer ``k > 0`` (surges): a copy of each, moved
    by up to :data:`REPLAY_JITTER_S`, at a place drawn from the spatial model."""
    replay = world.scenario.demand.replay
    assert replay is not None
    window = _replay_window(world, duration_s)
    times = window["t_s"].to_numpy(dtype=np.float64)
    mix_idx = window["mix"].to_numpy(dtype=np.int64)
    if layer == 0 and replay.locations == "log":
        nodes = window["node"].to_numpy(dtype=np.int64)
    else:
        nodes = world.demand_nodes[draw_points(places, world.demand_weights, len(window))]
    if layer > 0:
        shift = jitter.uniform(-REPLAY_JITTER_S, REPLAY_JITTER_S, size=len(times))
        times = np.clip(times + shift, 0.0, np.nextafter(duration_s, 0.0))
    return times, nodes, mix_idx, window["priority"].to_numpy(dtype=np.float64)


_WINDOWS: dict[tuple[int, float], Any] = {}


def _snap_or_none(region: Region, lat: float, lon: float) -> int:
    """The node of a logged call, or -1 when it lies too far from every road."""
    try:
        return region.snap(float(lat), float(lon)).node
    except (InputError, OutsideRegionError):
        return -1


def _replay_window(world: World, duration_s: float) -> Any:
    """The replayed calls (``t_s``, ``mix``, ``node``), read and snapped once per world."""
    key = (id(world), duration_s)
    if key in _WINDOWS:
        return _WINDOWS[key]
    replay = world.scenario.demand.replay
    assert replay is not None
    code_index = {m.code: i for i, m in enumerate(world.mix)}
    for name, code in {**replay.codes, **replay.services}.items():
        if code not in code_index:
            raise InputError(
                f"code {code!r} is not in demand.mix", field=f"demand.replay.codes.{name}"
            )
    window = read_log(get_settings().data_dir / replay.file, replay, duration_s=duration_s)
    window["mix"] = [code_index[c] for c in window["code"]]
    if replay.locations == "log":
        lonlat = window[["lon", "lat"]].to_numpy(dtype=np.float64)
        ok = np.isfinite(lonlat).all(axis=1)
        if world.area is not None:
            ok &= inside_area(world.area, np.nan_to_num(lonlat))
        window = window[ok].copy()
        window["node"] = [
            _snap_or_none(world.region, lat, lon)
            for lat, lon in zip(window["lat"], window["lon"], strict=True)
        ]
        window = window[window["node"] >= 0]
        if world.area is not None:
            inside = inside_area(world.area, world.region.node_lonlat[window["node"].to_numpy()])
            window = window[inside]
    _WINDOWS[key] = window
    return window

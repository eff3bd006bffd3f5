"""Build road networks from OpenStreetMap and keep them as fast-loading arrays.

A network is built once (osmnx: parse, largest strongly connected component, emergency speeds,
travel times) and then kept as :class:`RoadArrays`: node coordinates and the directed edge list
with seconds and metres. Parsing Columbus's OSM XML takes ~25 s; loading the cached arrays takes
a fraction of a second. The cache lives in ``get_settings().cache_dir`` and is keyed by the source
file (path, size, mtime) and the speed profile, so editing either rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from planner.arrays import FloatArray, IntArray, StrArray
from planner.atomic_write import atomic_open
from planner.errors import DataMissingError, InputError
from planner.network.speed_profile import SpeedProfile
from planner.settings import get_settings

CACHE_FORMAT = 2
"""Bump when the cached array layout changes; old cache files are then ignored."""


OSM_SUFFIXES = (".osm", ".osm.bz2", ".xml", ".xml.bz2", ".osm.gz", ".xml.gz")


@dataclass(frozen=True)
class RoadArrays:
    """A prepared road network as plain arrays (nodes are indices ``0..n-1``).

    Edges are directed and may be parallel (a MultiDiGraph's edges, one row each).
    """

    name: str
    osm_ids: IntArray
    lonlat: FloatArray
    edge_u: IntArray
    edge_v: IntArray
    edge_seconds: FloatArray
    edge_metres: FloatArray
    meta: dict[str, Any] = field(default_factory=dict)
    """Provenance: ``source``, ``built_at`` (UTC ISO), ``build_seconds``, ``profile``."""
    edge_highway: StrArray | None = None
    """OSM ``highway`` class of each edge (first of a list), so a scenario can set speeds by
    road class; ``None`` for GraphML without the tag or arrays from an older cache."""

    @property
    def n_nodes(self) -> int:
        return len(self.osm_ids)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)


def is_osm_file(path: Path) -> bool:
    """Whether a path names OSM XML (plain or compressed) rather than a prepared region."""
    return path.name.lower().endswith(OSM_SUFFIXES)


def prepare_graph(graph: nx.MultiDiGraph, *, profile: SpeedProfile) -> nx.MultiDiGraph:
    """Largest strongly connected component with emergency ``speed_kph`` and ``travel_time``.

    Strong connectivity matters: in a weakly connected graph some one-way pockets can be entered
    but not left, which would give units parked there an infinite ETA to everything.
    """
    import osmnx as ox

    graph = ox.truncate.largest_component(graph, strongly=True)
    if graph.number_of_edges() == 0:
        raise InputError("the road network has no drivable edges", field="osm")
    ox.routing.add_edge_speeds(
        graph, hwy_speeds=dict(profile.fallback_kph), fallback=profile.default_kph
    )
    for _, _, data in graph.edges(data=True):
        data["speed_kph"] = profile.emergency_kph(data.get("highway"), float(data["speed_kph"]))
    ox.routing.add_edge_travel_times(graph)
    graph.graph["planner_profile"] = profile.fingerprint()
    return graph


def graph_from_osm_file(path: Path, *, profile: SpeedProfile | None = None) -> nx.MultiDiGraph:
    """Drivable graph from an OSM XML file (``.osm``, ``.xml``, optionally ``.bz2``)."""
    import osmnx as ox

    if not path.is_file():
        raise DataMissingError(f"OSM file {path} does not exist", field="osm")
    started = time.perf_counter()
    try:
        graph = ox.graph_from_xml(path)
    except Exception as exc:  # osmnx raises assorted parser errors on bad XML
        raise InputError(f"cannot read OSM XML {path}: {exc}", field="osm") from exc
    graph = prepare_graph(graph, profile=profile or SpeedProfile())
    _stamp(graph, source=str(path), started=started)
    return graph


def graph_from_place(place: str, *, profile: SpeedProfile | None = None) -> nx.MultiDiGraph:
    """Download the drivable network of a named place from OpenStreetMap (needs internet)."""
    import osmnx as ox

    started = time.perf_counter()
    graph = ox.graph_from_place(place, network_type="drive")
    graph = prepare_graph(graph, profile=profile or SpeedProfile())
    _stamp(graph, source=f"place:{place}", started=started)
    return graph


def graph_from_bbox(
    bbox: tuple[float, float, float, float], *, profile: SpeedProfile | None = None
) -> nx.MultiDiGraph:
    """Download the drivable network in ``(west, south, east, north)`` (needs internet)."""
    import osmnx as ox

    started = time.perf_counter()
    graph = ox.graph_from_bbox(bbox, network_type="drive")
    graph = prepare_graph(graph, profile=profile or SpeedProfile())
    _stamp(graph, source=f"bbox:{','.join(map(str, bbox))}", started=started)
    return graph


def _stamp(graph: nx.MultiDiGraph, *, source: str, started: float) -> None:
    graph.graph["planner_source"] = source
    graph.graph["planner_built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    graph.graph["planner_build_seconds"] = round(time.perf_counter() - started, 3)


def arrays_from_graph(graph: nx.MultiDiGraph, *, name: str) -> RoadArrays:
    """Convert a prepared graph (edges carry ``travel_time``) to :class:`RoadArrays`."""
    osm_ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    index = {int(node): i for i, node in enumerate(osm_ids)}
    lonlat = np.array(
        [(float(data["x"]), float(data["y"])) for _, data in graph.nodes(data=True)],
        dtype=np.float64,
    ).reshape(-1, 2)
    m = graph.number_of_edges()
    edge_u = np.empty(m, dtype=np.int64)
    edge_v = np.empty(m, dtype=np.int64)
    seconds = np.empty(m, dtype=np.float64)
    metres = np.empty(m, dtype=np.float64)
    highway: list[str] = []
    for k, (u, v, data) in enumerate(graph.edges(data=True)):
        if "travel_time" not in data:
            raise InputError(f"edge {u}->{v} has no travel_time", field="graph")
        edge_u[k], edge_v[k] = index[u], index[v]
        seconds[k] = float(data["travel_time"])
        metres[k] = float(data.get("length", np.nan))
        tag = data.get("highway")
        highway.append(str((tag[0] if tag else "") if isinstance(tag, list) else (tag or "")))
    meta = {
        key.removeprefix("planner_"): value
        for key, value in graph.graph.items()
        if key.startswith("planner_")
    }
    return RoadArrays(
        name, osm_ids, lonlat, edge_u, edge_v, seconds, metres, meta, np.array(highway, dtype=str)
    )


def save_graphml(graph: nx.MultiDiGraph, path: Path) -> None:
    """Write osmnx-compatible GraphML (``osmnx.load_graphml`` reads it), atomically."""
    import osmnx as ox

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    ox.save_graphml(graph, tmp)
    os.replace(tmp, path)


def save_arrays(arrays: RoadArrays, path: Path) -> None:
    """Write the compressed array form, atomically (a crash never leaves half a cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {**arrays.meta, "name": arrays.name, "format": CACHE_FORMAT}
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(
            fh,
            osm_ids=arrays.osm_ids,
            lonlat=arrays.lonlat,
            edge_u=arrays.edge_u,
            edge_v=arrays.edge_v,
            edge_seconds=arrays.edge_seconds,
            edge_metres=arrays.edge_metres,
            edge_highway=np.array([], dtype=str)
            if arrays.edge_highway is None
            else arrays.edge_highway,
            meta=np.array(json.dumps(meta)),
        )


def load_arrays(path: Path) -> RoadArrays:
    """Read arrays written by :func:`save_arrays`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return RoadArrays(
                name=str(meta.get("name", _stem(path))),
                osm_ids=data["osm_ids"].astype(np.int64),
                lonlat=data["lonlat"].astype(np.float64),
                edge_u=data["edge_u"].astype(np.int64),
                edge_v=data["edge_v"].astype(np.int64),
                edge_seconds=data["edge_seconds"].astype(np.float64),
                edge_metres=data["edge_metres"].astype(np.float64),
                meta=meta,
                edge_highway=_highway(data),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path} is not a prepared region file: {exc}", field="region") from exc


def _highway(data: Any) -> StrArray | None:
    if "edge_highway" not in data.files or data["edge_highway"].size == 0:
        return None
    highway: StrArray = data["edge_highway"].astype(str)
    return highway


def with_class_speeds(arrays: RoadArrays, kph: dict[str, float]) -> RoadArrays:
    """The same network with every edge of a listed OSM road class driven at that speed.

    Travel times of unlisted classes stay as built (posted or fallback speed × emergency
    factor). This is how a published model's road-class speeds (JEMSS, ELASPY) are reproduced.
    """
    if not kph:
        return arrays
    if arrays.edge_highway is None:
        raise InputError(
            f"region {arrays.name} carries no road classes (rebuild it from OSM XML)",
            field="speeds.kph",
        )
    seconds = arrays.edge_seconds.copy()
    for road_class, speed in kph.items():
        mask = arrays.edge_highway == road_class
        seconds[mask] = arrays.edge_metres[mask] / (speed / 3.6)
    profile = {"class_kph": sorted(kph.items())}
    meta = {**arrays.meta, "speeds": profile}
    return replace(arrays, edge_seconds=seconds, meta=meta)


def cache_path(source: Path, *, profile: SpeedProfile | None) -> Path:
    """Where the prepared arrays of ``source`` are cached (changes when the source changes)."""
    resolved = source.resolve()
    stat = resolved.stat()
    key = json.dumps(
        [
            str(resolved),
            stat.st_size,
            stat.st_mtime_ns,
            profile.fingerprint() if profile else None,
            CACHE_FORMAT,
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return get_settings().cache_dir / "regions" / f"{_stem(source)}-{digest}.npz"


def load_road_arrays(
    path: Path, *, profile: SpeedProfile | None = None, use_cache: bool = True
) -> RoadArrays:
    """Prepared arrays from an OSM XML, GraphML or ``.npz`` file, through the cache.

    OSM XML is built with ``profile`` (default :class:`SpeedProfile`); GraphML keeps the
    ``travel_time`` it carries; ``.npz`` is read as is.
    """
    if not path.is_file():
        raise DataMissingError(
            f"region file {path} does not exist; build one with "
            "`planner network build --osm FILE -o REGION` or `--place NAME`",
            field="region",
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_arrays(path)
    if not is_osm_file(path) and suffix != ".graphml":
        raise InputError(
            f"{path}: expected .graphml, .npz or OSM XML (.osm, .osm.bz2, .xml)", field="region"
        )
    osm = is_osm_file(path)
    profile = (profile or SpeedProfile()) if osm else None
    cached = cache_path(path, profile=profile)
    if use_cache and cached.is_file():
        return load_arrays(cached)
    if osm:
        assert profile is not None
        graph = graph_from_osm_file(path, profile=profile)
    else:
        graph = _load_graphml(path)
    arrays = arrays_from_graph(graph, name=_stem(path))
    if use_cache:
        save_arrays(arrays, cached)
    return arrays


def prime_cache(graph: nx.MultiDiGraph, path: Path) -> None:
    """After writing ``path`` (GraphML), cache its arrays so the first load is fast too."""
    save_arrays(arrays_from_graph(graph, name=_stem(path)), cache_path(path, profile=None))


def _load_graphml(path: Path) -> nx.MultiDiGraph:
    import osmnx as ox

    try:
        return ox.load_graphml(path)
    except Exception as exc:  # osmnx/networkx raise assorted errors on malformed GraphML
        raise InputError(f"cannot read GraphML {path}: {exc}", field="region") from exc


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".bz2", ".gz", ".graphml", ".npz", ".osm", ".xml", ".drive"):
        name = name.removesuffix(suffix)
    return name

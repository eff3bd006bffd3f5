"""The region's own basemap: named streets and bridges from its OpenStreetMap file, and the
road geometry between the routing graph's nodes (so a route is drawn along the road's curves).

The routing graph keeps only intersections (osmnx simplifies each road between two junctions to
one edge) and drops names. A map needs both, so the OSM XML the region was built from is read
once more, here: every ``highway`` way becomes a GeoJSON line with its ``name`` (or ``ref``),
road class and bridge/tunnel flags. The shipped extracts are **drivable roads only**: they hold
no water, land use or landmarks, so none is drawn (a bridge is drawn as a bridge; the river
under it is not in the data). Regions without an OSM source (GraphML, ``.npz``) get their graph
edges, unnamed.

Reading Harrisburg takes ~0.3 s, Manhattan ~4 s; the parsed file is kept per process and the
GeoJSON is cached (gzipped) in ``<cache_dir>/basemaps`` keyed by the file's path, size and time.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import itertools
import json
import math
import threading
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from planner.atomic_write import atomic_open
from planner.errors import InputError
from planner.network.osm import is_osm_file
from planner.settings import get_settings

DECIMALS = 5
"""Coordinates are rounded to 1e-5 degrees (about a metre)."""

BASEMAP_FORMAT = 1
"""Bump when the cached GeoJSON changes shape; old cache files are then ignored."""

ATTRIBUTION = "Map data © OpenStreetMap contributors (ODbL)"

ROAD_CLASSES = {
    "motorway": "motorway",
    "motorway_link": "motorway",
    "trunk": "trunk",
    "trunk_link": "trunk",
    "primary": "primary",
    "primary_link": "primary",
    "secondary": "secondary",
    "secondary_link": "secondary",
    "tertiary": "tertiary",
    "tertiary_link": "tertiary",
    "residential": "street",
    "unclassified": "street",
    "living_street": "street",
    "road": "street",
}
"""OSM ``highway`` values grouped into the classes the console styles; the rest is ``service``."""


@dataclass(frozen=True)
class _Way:
    nodes: tuple[int, ...]
    tags: dict[str, str]


@dataclass(frozen=True)
class OsmRoads:
    """An OSM file's road ways and the coordinates of their nodes."""

    lonlat: dict[int, tuple[float, float]]
    ways: tuple[_Way, ...]


def read_osm_roads(path: Path) -> OsmRoads:
    """Every ``highway`` way of an OSM XML file (plain, ``.bz2`` or ``.gz``) with its tags."""
    lonlat: dict[int, tuple[float, float]] = {}
    ways: list[_Way] = []
    try:
        with _open(path) as stream:
            for _, el in ET.iterparse(stream, events=("end",)):
                if el.tag == "node":
                    lonlat[int(el.get("id", "0"))] = (
                        float(el.get("lon", "nan")),
                        float(el.get("lat", "nan")),
                    )
                    el.clear()
                elif el.tag == "way":
                    tags = {t.get("k", ""): t.get("v", "") for t in el.iter("tag")}
                    if "highway" in tags:
                        refs = tuple(int(nd.get("ref", "0")) for nd in el.iter("nd"))
                        ways.append(_Way(refs, tags))
                    el.clear()
    except (ET.ParseError, OSError, EOFError, ValueError) as exc:
        raise InputError(f"cannot read OSM XML {path}: {exc}", field="osm") from exc
    return OsmRoads(lonlat, tuple(ways))


def _open(path: Path) -> bz2.BZ2File | gzip.GzipFile | BinaryIO:
    name = path.name.lower()
    if name.endswith(".bz2"):
        return bz2.BZ2File(path, "rb")
    if name.endswith(".gz"):
        return gzip.GzipFile(path, "rb")
    return path.open("rb")


def roads_geojson(roads: OsmRoads) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the roads: one LineString per way, with ``name`` (the
    way's name, else its ``ref``, else null), ``class``, ``bridge`` and ``tunnel``."""
    features = []
    for way in roads.ways:
        coords = [roads.lonlat[n] for n in way.nodes if n in roads.lonlat]
        if len(coords) < 2:
            continue
        tags = way.tags
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "name": tags.get("name") or tags.get("ref") or None,
                    "class": ROAD_CLASSES.get(tags["highway"].split(";")[0], "service"),
                    "bridge": tags.get("bridge", "no") not in ("no", "false", "0"),
                    "tunnel": tags.get("tunnel", "no") not in ("no", "false", "0"),
                },
                "geometry": {"type": "LineString", "coordinates": _rounded(coords)},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def segments_geojson(segments: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Unnamed lines for a region without an OSM source (its graph edges, ``(n, 4)``)."""
    features = [
        {
            "type": "Feature",
            "properties": {"name": None, "class": "street", "bridge": False, "tunnel": False},
            "geometry": {"type": "LineString", "coordinates": [[s[0], s[1]], [s[2], s[3]]]},
        }
        for s in np.round(np.asarray(segments, dtype=np.float64), DECIMALS).tolist()
    ]
    return {"type": "FeatureCollection", "features": features}


def summary(collection: dict[str, Any]) -> dict[str, int]:
    """How many roads, named roads and bridges a basemap holds (water: none in the extracts)."""
    props = [f["properties"] for f in collection["features"]]
    return {
        "roads": len(props),
        "named": sum(1 for p in props if p["name"]),
        "bridges": sum(1 for p in props if p["bridge"]),
        "water": 0,
    }


class RoadGeometry:
    """The road's shape between each pair of adjacent routing-graph nodes.

    A graph edge stands for a chain of OSM nodes (it may run through several ways); walking the
    OSM node graph from each routing node through nodes that are not routing nodes recovers the
    chain. Of parallel chains between the same two nodes the shortest is kept.
    """

    def __init__(self, roads: OsmRoads, graph_osm_ids: Sequence[int]) -> None:
        self._lonlat = roads.lonlat
        junctions = set(int(i) for i in graph_osm_ids)
        neighbours: dict[int, set[int]] = {}
        for way in roads.ways:
            present = [n for n in way.nodes if n in roads.lonlat]
            for a, b in itertools.pairwise(present):
                if a != b:
                    neighbours.setdefault(a, set()).add(b)
                    neighbours.setdefault(b, set()).add(a)
        self._pieces: dict[tuple[int, int], tuple[int, ...]] = {}
        lengths: dict[tuple[int, int], float] = {}
        for start in junctions:
            for first in neighbours.get(start, ()):
                chain = self._walk(start, first, neighbours, junctions)
                if chain is None:
                    continue
                key = (start, chain[-1])
                length = self._length(chain)
                if key not in lengths or length < lengths[key]:
                    lengths[key] = length
                    self._pieces[key] = chain

    @staticmethod
    def _walk(
        start: int, first: int, neighbours: dict[int, set[int]], junctions: set[int]
    ) -> tuple[int, ...] | None:
        chain = [start, first]
        while chain[-1] not in junctions:
            onward = [n for n in neighbours.get(chain[-1], ()) if n != chain[-2]]
            if len(onward) != 1 or len(chain) > 100_000:
                return None  # a dead end or a fork outside the routing graph
            chain.append(onward[0])
        return tuple(chain)

    def _length(self, chain: tuple[int, ...]) -> float:
        """Length in degrees of latitude (only compared between chains with the same ends)."""
        points = [self._lonlat[n] for n in chain]
        scale = math.cos(math.radians(points[0][1]))
        return sum(
            math.hypot((b[0] - a[0]) * scale, b[1] - a[1]) for a, b in itertools.pairwise(points)
        )

    def path(self, osm_ids: Sequence[int]) -> list[list[float]]:
        """``[[lon, lat], …]`` along the roads through the given routing nodes (OSM ids); a
        step with no recorded chain is drawn straight."""
        out: list[tuple[float, float]] = []
        ids = [int(i) for i in osm_ids]
        if len(ids) == 1 and ids[0] in self._lonlat:
            out.append(self._lonlat[ids[0]])
        for a, b in itertools.pairwise(ids):
            piece = self._pieces.get((a, b))
            if piece is None:
                reverse = self._pieces.get((b, a))
                piece = tuple(reversed(reverse)) if reverse is not None else (a, b)
            coords = [self._lonlat[n] for n in piece if n in self._lonlat]
            out.extend(coords[1:] if out else coords)
        return _rounded(out)


def _rounded(coords: Sequence[tuple[float, float]]) -> list[list[float]]:
    return [[round(lon, DECIMALS), round(lat, DECIMALS)] for lon, lat in coords]


# -- per-region access, cached ----------------------------------------------------------------


@dataclass(frozen=True)
class Basemap:
    """What the console draws under its units: the GeoJSON (gzipped) and its counts."""

    gzipped: bytes
    named_from_osm: bool


_lock = threading.Lock()
_roads: dict[tuple[str, int, int], OsmRoads] = {}
_geometry: dict[int, tuple[object, RoadGeometry | None]] = {}
_basemaps: dict[int, tuple[object, Basemap]] = {}
_geometry_lock = threading.Lock()


def osm_source(region: object) -> Path | None:
    """The OSM XML file a road region was built from, if it is still there."""
    meta = getattr(region, "meta", None)
    source = meta.get("source") if isinstance(meta, dict) else None
    if not isinstance(source, str):
        return None
    path = Path(source)
    return path if is_osm_file(path) and path.is_file() else None


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.resolve().stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _osm_roads(path: Path) -> OsmRoads:
    key = _file_key(path)
    with _lock:
        if key not in _roads:
            _roads.clear()  # one region per server: keep the latest file only
            _roads[key] = read_osm_roads(path)
        return _roads[key]


def basemap_for(region: object, *, name: str, bbox: Sequence[float]) -> Basemap:
    """The region's basemap as gzipped GeoJSON, built once per region object and cached on disk
    for OSM-built regions (a GeoJSON ``FeatureCollection`` with a foreign member ``planner``:
    ``name``, ``bbox``, ``attribution``, ``counts`` and a ``note`` on what the data lacks)."""
    cached = _basemaps.get(id(region))
    if cached is not None and cached[0] is region:
        return cached[1]
    source = osm_source(region)
    disk = _disk_path(source) if source is not None else None
    if disk is not None and disk.is_file():
        basemap = Basemap(disk.read_bytes(), named_from_osm=True)
    else:
        if source is not None:
            collection = roads_geojson(_osm_roads(source))
        else:
            segments = getattr(region, "road_segments", lambda: np.empty((0, 4)))()
            collection = segments_geojson(segments)
        counts = summary(collection)
        collection["planner"] = {
            "name": name,
            "bbox": [round(float(v), DECIMALS) for v in bbox],
            "attribution": ATTRIBUTION if source is not None else None,
            "counts": counts,
            "note": _note(source is not None, counts),
        }
        body = json.dumps(collection, separators=(",", ":"), ensure_ascii=False).encode()
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        if disk is not None:
            disk.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(disk, "wb") as out:
                out.write(packed)
        basemap = Basemap(packed, named_from_osm=source is not None)
    _basemaps[id(region)] = (region, basemap)
    return basemap


def _note(from_osm: bool, counts: dict[str, int]) -> str:
    if not from_osm:
        return (
            "Roads from the routing graph only: no street names (no OSM file behind this region)."
        )
    return (
        f"{counts['named']:,} of {counts['roads']:,} roads named, {counts['bridges']:,} bridges. "
        "The extract holds drivable roads only: no water, land use or landmarks are drawn."
    )


def _disk_path(source: Path) -> Path:
    key = json.dumps([*_file_key(source), BASEMAP_FORMAT])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    stem = source.name.split(".")[0]
    return get_settings().cache_dir / "basemaps" / f"{stem}-{digest}.geojson.gz"


def road_geometry(region: object) -> RoadGeometry | None:
    """The road shapes between a road region's nodes, or ``None`` (no OSM source, or a matrix
    region): routes are then drawn node to node. Built once (callers at the same time wait)."""
    with _geometry_lock:
        cached = _geometry.get(id(region))
        if cached is not None and cached[0] is region:
            return cached[1]
        source = osm_source(region)
        osm_ids = getattr(region, "osm_ids", None)
        geometry = None
        if source is not None and osm_ids is not None:
            geometry = RoadGeometry(_osm_roads(source), np.asarray(osm_ids).tolist())
        _geometry[id(region)] = (region, geometry)
        return geometry


def warm_road_geometry(region: object) -> None:
    """Build the road shapes in the background (Manhattan's take ~2 s after ~4 s of reading the
    file), so the first routes asked for need not wait; does nothing once they are built."""
    cached = _geometry.get(id(region))
    if cached is None or cached[0] is not region:
        threading.Thread(target=road_geometry, args=(region,), daemon=True).start()

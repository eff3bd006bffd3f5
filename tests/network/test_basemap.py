"""The basemap read from the region's OSM file: named roads and bridges, and the road shape
between routing nodes (checked against osmnx's own edge lengths)."""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

from planner.errors import InputError
from planner.network.basemap import (
    RoadGeometry,
    basemap_for,
    read_osm_roads,
    road_geometry,
    roads_geojson,
    summary,
    warm_road_geometry,
)
from planner.network.geo import haversine_m
from planner.network.osm import graph_from_osm_file
from planner.network.road_region import RoadRegion
from planner.settings import get_settings

OSM = get_settings().data_dir / "osm"

# Junctions A (1) and B (4) joined by Market Street through 2 and 3, and by a shorter service
# road through 5; a ref-only bridge from B to C (6); a river polygon that is not a road.
FIXTURE = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="40.0000" lon="-76.0000"/>
  <node id="2" lat="40.0010" lon="-76.0000"/>
  <node id="3" lat="40.0010" lon="-75.9990"/>
  <node id="4" lat="40.0000" lon="-75.9990"/>
  <node id="5" lat="40.0000" lon="-75.9995"/>
  <node id="6" lat="40.0000" lon="-75.9980"/>
  <node id="7" lat="40.0100" lon="-76.0100"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="name" v="Market Street"/></way>
  <way id="11"><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="residential"/><tag k="name" v="Market Street"/></way>
  <way id="12"><nd ref="1"/><nd ref="5"/><nd ref="4"/><tag k="highway" v="service"/></way>
  <way id="13"><nd ref="4"/><nd ref="6"/>
    <tag k="highway" v="primary"/><tag k="ref" v="US 22"/><tag k="bridge" v="yes"/></way>
  <way id="14"><nd ref="1"/><nd ref="7"/><nd ref="2"/><tag k="waterway" v="river"/></way>
</osm>
"""


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture
def fixture_osm(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.osm"
    path.write_text(FIXTURE)
    return path


def test_roads_keep_their_names_classes_and_bridges(fixture_osm: Path) -> None:
    collection = roads_geojson(read_osm_roads(fixture_osm))
    props = [f["properties"] for f in collection["features"]]
    assert props == [
        {"name": "Market Street", "class": "street", "bridge": False, "tunnel": False},
        {"name": "Market Street", "class": "street", "bridge": False, "tunnel": False},
        {"name": None, "class": "service", "bridge": False, "tunnel": False},
        {"name": "US 22", "class": "primary", "bridge": True, "tunnel": False},
    ]  # the river is not a road: the shipped extracts hold roads only
    assert collection["features"][0]["geometry"]["coordinates"] == [
        [-76.0, 40.0],
        [-76.0, 40.001],
        [-75.999, 40.001],
    ]
    assert summary(collection) == {"roads": 4, "named": 3, "bridges": 1, "water": 0}


def test_a_broken_file_is_refused_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node id='1' lat='40' lon='-76'>")
    with pytest.raises(InputError, match="cannot read OSM XML") as info:
        read_osm_roads(bad)
    assert info.value.field == "osm"


def test_the_road_between_two_junctions_follows_its_nodes_across_ways(fixture_osm: Path) -> None:
    geometry = RoadGeometry(read_osm_roads(fixture_osm), [1, 4, 6])
    # 1 → 4: Market Street (1-2-3-4, two ways, 300 m) and the service road (1-5-4, 85 m);
    # the shorter is kept, as the routing graph keeps the faster of parallel edges.
    assert geometry.path([1, 4]) == [[-76.0, 40.0], [-75.9995, 40.0], [-75.999, 40.0]]
    assert geometry.path([4, 1]) == [[-75.999, 40.0], [-75.9995, 40.0], [-76.0, 40.0]]
    assert geometry.path([1, 4, 6]) == [
        [-76.0, 40.0],
        [-75.9995, 40.0],
        [-75.999, 40.0],
        [-75.998, 40.0],
    ]
    assert geometry.path([6]) == [[-75.998, 40.0]]


def test_without_the_short_cut_the_long_way_is_drawn(tmp_path: Path) -> None:
    path = tmp_path / "long.osm"
    path.write_text(FIXTURE.replace('<tag k="highway" v="service"/>', '<tag k="barrier" v="x"/>'))
    geometry = RoadGeometry(read_osm_roads(path), [1, 4])
    assert geometry.path([1, 4]) == [
        [-76.0, 40.0],
        [-76.0, 40.001],
        [-75.999, 40.001],
        [-75.999, 40.0],
    ]


@pytest.fixture(scope="module")
def agua_graph() -> nx.MultiDiGraph:
    return graph_from_osm_file(OSM / "aguascalientes.drive.osm.bz2")


def _length_m(coords: list[list[float]]) -> float:
    return sum(haversine_m(a[1], a[0], b[1], b[0]) for a, b in itertools.pairwise(coords))


def test_every_routing_edge_is_drawn_with_osmnx_length(agua_graph: nx.MultiDiGraph) -> None:
    """osmnx measures each simplified edge along the OSM nodes it replaced; the drawn shape
    between the same two nodes must be that long (the shortest of parallel edges)."""
    region = RoadRegion.from_graph(agua_graph, name="aguascalientes")
    geometry = road_geometry(region)
    assert geometry is not None
    shortest: dict[tuple[int, int], float] = {}
    for u, v, data in agua_graph.edges(data=True):
        if u != v:
            key = (min(u, v), max(u, v))
            shortest[key] = min(shortest.get(key, float("inf")), float(data["length"]))
    assert len(shortest) > 500
    for (u, v), length in shortest.items():
        drawn = _length_m(geometry.path([u, v]))
        assert drawn == pytest.approx(length, rel=0.01, abs=2.0), (u, v)


def test_the_basemap_is_cached_on_disk_and_reused(agua_graph: nx.MultiDiGraph) -> None:
    region = RoadRegion.from_graph(agua_graph, name="aguascalientes")
    basemap = basemap_for(region, name="aguascalientes", bbox=region.bbox)
    body = json.loads(gzip.decompress(basemap.gzipped))
    cached = list((get_settings().cache_dir / "basemaps").glob("aguascalientes-*.geojson.gz"))
    assert len(cached) == 1 and cached[0].read_bytes() == basemap.gzipped
    planner = body["planner"]
    assert planner["counts"]["roads"] == len(body["features"]) > 0
    assert planner["counts"]["water"] == 0
    assert "no water" in planner["note"]
    assert "OpenStreetMap" in planner["attribution"]
    # The names are the file's own: every named way's name is in the raw XML.
    raw = read_osm_roads(OSM / "aguascalientes.drive.osm.bz2")
    names = {w.tags.get("name") or w.tags.get("ref") for w in raw.ways} - {None}
    drawn = {f["properties"]["name"] for f in body["features"]} - {None}
    assert drawn == names
    again = RoadRegion.from_graph(agua_graph, name="aguascalientes")
    assert basemap_for(again, name="aguascalientes", bbox=again.bbox).gzipped == basemap.gzipped


def test_a_region_without_an_osm_file_draws_its_edges_unnamed(
    agua_graph: nx.MultiDiGraph,
) -> None:
    region = RoadRegion.from_graph(agua_graph, name="graph-only")
    region.meta.pop("source", None)
    body = json.loads(gzip.decompress(basemap_for(region, name="x", bbox=region.bbox).gzipped))
    assert len(body["features"]) == region.n_edges
    assert body["planner"]["counts"]["named"] == 0
    assert body["planner"]["attribution"] is None
    assert road_geometry(region) is None


def test_warming_builds_the_road_shapes_once_for_everyone(agua_graph: nx.MultiDiGraph) -> None:
    region = RoadRegion.from_graph(agua_graph, name="aguascalientes")
    warm_road_geometry(region)
    first = road_geometry(region)  # waits for the warming thread if it is still building
    assert first is not None
    assert road_geometry(region) is first
    warm_road_geometry(region)  # built already: nothing more to do
    assert road_geometry(region) is first

"""Road networks: the CSR/SciPy path agrees with networkx, snapping, closures, files, cache."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import DataMissingError, InputError, OutsideRegionError
from planner.network.closures import Closure
from planner.network.geo import Location, haversine_m
from planner.network.loader import load_region, resolve_region_path
from planner.network.osm import (
    RoadArrays,
    cache_path,
    graph_from_osm_file,
    load_arrays,
    load_road_arrays,
    save_graphml,
)
from planner.network.region import Region, eta_matrix
from planner.network.road_region import RoadRegion
from planner.network.speed_profile import SpeedProfile
from planner.settings import get_settings

OSM = get_settings().data_dir / "osm"


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Build into a throw-away cache so tests neither depend on nor disturb the real one."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def harrisburg_graph() -> nx.MultiDiGraph:
    return graph_from_osm_file(OSM / "harrisburg.drive.osm.bz2")


@pytest.fixture(scope="module")
def harrisburg(harrisburg_graph: nx.MultiDiGraph) -> RoadRegion:
    return RoadRegion.from_graph(harrisburg_graph, name="harrisburg")


@pytest.fixture(scope="module")
def agua_graph() -> nx.MultiDiGraph:
    return graph_from_osm_file(OSM / "aguascalientes.drive.osm.bz2")


@pytest.fixture
def agua(agua_graph: nx.MultiDiGraph) -> RoadRegion:
    """A fresh region per test: closures applied in one test never leak into another."""
    return RoadRegion.from_graph(agua_graph, name="aguascalientes")


# -- agreement with networkx -----------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_csr_travel_times_equal_networkx_on_harrisburg(
    harrisburg: RoadRegion, harrisburg_graph: nx.MultiDiGraph, data: st.DataObject
) -> None:
    n = harrisburg.n_nodes
    o = data.draw(st.integers(0, n - 1), label="origin")
    d = data.draw(st.integers(0, n - 1), label="destination")
    expected = nx.shortest_path_length(
        harrisburg_graph,
        int(harrisburg.osm_ids[o]),
        int(harrisburg.osm_ids[d]),
        weight="travel_time",
    )
    assert harrisburg.etas_to(d)[o] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert harrisburg.etas_from(o)[d] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert harrisburg.route(o, d).seconds == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_prepared_graph_is_strongly_connected_with_travel_times(
    harrisburg_graph: nx.MultiDiGraph, harrisburg: RoadRegion
) -> None:
    assert nx.is_strongly_connected(harrisburg_graph)
    for _, _, data in harrisburg_graph.edges(data=True):
        assert data["travel_time"] == pytest.approx(data["length"] / (data["speed_kph"] / 3.6))
    assert np.isfinite(harrisburg.etas_to(0)).all()
    assert harrisburg.n_raw_edges == harrisburg_graph.number_of_edges()


def test_matrix_is_the_same_from_either_side(harrisburg: RoadRegion) -> None:
    rng = np.random.default_rng(7)
    few, many = rng.integers(0, harrisburg.n_nodes, 3), rng.integers(0, harrisburg.n_nodes, 9)
    by_reverse = harrisburg.travel_time_matrix(many, few)  # trees from the 3 destinations
    by_forward = harrisburg.travel_time_matrix(few, many)  # trees from the 3 origins
    assert by_reverse.shape == (9, 3) and by_forward.shape == (3, 9)
    for j, d in enumerate(few):
        np.testing.assert_allclose(by_reverse[:, j], harrisburg.etas_to(int(d))[many])
    for i, o in enumerate(few):
        np.testing.assert_allclose(by_forward[i], harrisburg.etas_from(int(o))[many])
    empty = np.array([], dtype=np.int64)
    assert harrisburg.travel_time_matrix(empty, few).shape == (0, 3)
    assert harrisburg.travel_time_matrix(few, empty).shape == (3, 0)


def _two_node_graph(*, parallel: tuple[float, ...]) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph(crs="epsg:4326")
    graph.add_node(1, x=-76.88, y=40.26)
    graph.add_node(2, x=-76.87, y=40.26)
    for k, seconds in enumerate(parallel):
        graph.add_edge(1, 2, key=k, travel_time=seconds, length=100.0 * (k + 1))
    graph.add_edge(2, 1, key=0, travel_time=0.0, length=0.0)
    return graph


def test_parallel_edges_keep_the_minimum_travel_time_not_the_sum() -> None:
    region = RoadRegion.from_graph(_two_node_graph(parallel=(10.0, 4.0, 7.0)))
    assert region.n_edges == 2 and region.n_raw_edges == 4
    assert region.etas_to(1)[0] == 4.0
    route = region.route(0, 1)
    assert (route.seconds, route.metres, route.nodes) == (4.0, 200.0, (0, 1))
    # A zero-second edge is still an edge (SciPy drops implicit zeros, not ours).
    assert region.etas_to(0)[1] == 0.0


# -- snapping ----------------------------------------------------------------------------------


def test_snap_reports_distance_and_refuses_far_points(agua: RoadRegion) -> None:
    lon, lat = agua.node_lonlat[10]
    assert agua.snap(lat, lon) == agua.snap(lat, lon, max_snap_m=1.0)
    assert agua.snap(lat, lon).node == 10 and agua.snap(lat, lon).distance_m == 0.0
    moved = agua.snap(lat + 0.0003, lon)  # ~33 m north
    expected = haversine_m(lat + 0.0003, lon, *agua.node_lonlat[moved.node][::-1].tolist())
    assert moved.distance_m == pytest.approx(expected)
    assert 0 < moved.distance_m <= 34
    with pytest.raises(OutsideRegionError, match=r"21\.9500.*m from the nearest node"):
        agua.snap(21.95, -102.27)
    with pytest.raises(OutsideRegionError, match="m from the nearest node"):
        agua.snap(lat + 0.0003, lon, max_snap_m=moved.distance_m / 2)
    with pytest.raises(InputError, match="latitude"):
        agua.snap(-102.27, 21.87)  # swapped


def test_eta_matrix_snaps_locations_and_names_the_bad_one(agua: RoadRegion) -> None:
    lonlat = agua.node_lonlat
    units = [Location(float(lonlat[i, 1]), float(lonlat[i, 0])) for i in (1, 2, 3)]
    incidents = [Location(float(lonlat[i, 1]), float(lonlat[i, 0])) for i in (4, 5)]
    etas = eta_matrix(agua, units, incidents)
    np.testing.assert_array_equal(
        etas, agua.travel_time_matrix(np.array([1, 2, 3]), np.array([4, 5]))
    )
    with pytest.raises(OutsideRegionError) as info:
        eta_matrix(agua, units, [incidents[0], Location(22.5, -102.27)])
    assert info.value.field == "destinations[1]"


def test_segments_and_bbox(agua: RoadRegion) -> None:
    segments = agua.road_segments()
    assert segments.shape == (agua.n_edges, 4)
    west, south, east, north = agua.bbox
    assert (segments[:, [0, 2]] >= west).all() and (segments[:, [0, 2]] <= east).all()
    assert (segments[:, [1, 3]] >= south).all() and (segments[:, [1, 3]] <= north).all()
    assert isinstance(agua, Region)


# -- closures --------------------------------------------------------------------------------


def test_circle_closure_changes_etas_and_lifting_restores_them_exactly(agua: RoadRegion) -> None:
    before = agua.etas_to(0).copy()
    lon, lat = agua.node_lonlat[0]
    version = agua.weights_version
    affected = agua.apply_closure("fire", Closure(centre=Location(lat, lon), radius_m=60.0))
    assert affected > 0 and set(agua.closures) == {"fire"}
    assert agua.weights_version > version
    after = agua.etas_to(0)
    assert np.isinf(after).sum() > 0  # node 0 sits inside: nobody can reach it
    agua.lift_closure("fire")
    np.testing.assert_array_equal(agua.etas_to(0), before)
    assert dict(agua.closures) == {}


def test_slowdowns_scale_etas_and_the_strongest_wins(agua: RoadRegion) -> None:
    before = agua.etas_to(5).copy()
    west, south, east, north = agua.bbox
    everything = tuple(
        Location(lat, lon)
        for lat, lon in (
            (south - 0.01, west - 0.01),
            (south - 0.01, east + 0.01),
            (north + 0.01, east + 0.01),
            (north + 0.01, west - 0.01),
        )
    )
    assert agua.apply_closure("snow", Closure(polygon=everything, factor=2.0)) == agua.n_edges
    np.testing.assert_allclose(agua.etas_to(5), 2 * before)
    agua.apply_closure("ice", Closure(polygon=everything, factor=3.0))
    np.testing.assert_allclose(agua.etas_to(5), 3 * before)
    agua.lift_closure("ice")
    np.testing.assert_allclose(agua.etas_to(5), 2 * before)
    agua.lift_closure("snow")
    np.testing.assert_array_equal(agua.etas_to(5), before)


@settings(max_examples=25, deadline=None)
@given(
    node=st.integers(0, 770),
    radius=st.floats(10.0, 400.0),
    factor=st.one_of(st.none(), st.floats(1.01, 10.0)),
    target=st.integers(0, 770),
)
def test_closures_never_shorten_etas_and_lifting_restores(
    agua_graph: nx.MultiDiGraph, node: int, radius: float, factor: float | None, target: int
) -> None:
    region = RoadRegion.from_graph(agua_graph)
    before = region.etas_to(target).copy()
    lon, lat = region.node_lonlat[node]
    region.apply_closure("c", Closure(centre=Location(lat, lon), radius_m=radius, factor=factor))
    assert (region.etas_to(target) >= before - 1e-9).all()
    region.lift_closure("c")
    np.testing.assert_array_equal(region.etas_to(target), before)


def test_region_names_resolve_to_the_shared_data() -> None:
    data = get_settings().data_dir
    assert resolve_region_path("manhattan") == data / "osm" / "manhattan.drive.osm.bz2"
    assert resolve_region_path("Utrecht") == data / "regions" / "utrecht"
    assert resolve_region_path("some/file.graphml") == Path("some/file.graphml")


def test_region_name_is_not_shadowed_by_a_folder_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = get_settings().data_dir
    monkeypatch.chdir(tmp_path)
    (tmp_path / "harrisburg").mkdir()
    (tmp_path / "utrecht").mkdir()
    assert resolve_region_path("harrisburg") == data / "osm" / "harrisburg.drive.osm.bz2"
    assert resolve_region_path("utrecht") == data / "regions" / "utrecht"
    assert resolve_region_path("./utrecht") == Path("./utrecht")


def test_edge_closure_and_bad_closures_change_nothing(agua: RoadRegion) -> None:
    u, v = int(agua.edge_u[0]), int(agua.edge_v[0])
    before = agua.etas_to(v).copy()
    agua.apply_closure("crash", Closure(edges=((u, v),)))
    assert agua.edge_seconds[0] == np.inf
    assert agua.etas_to(v)[u] > before[u]
    with pytest.raises(InputError, match="no road from node"):
        agua.apply_closure("typo", Closure(edges=((u, u),)))
    assert set(agua.closures) == {"crash"}
    with pytest.raises(InputError, match="no active closure"):
        agua.lift_closure("typo")
    with pytest.raises(InputError, match="factor"):
        Closure(edges=((u, v),), factor=0.5)
    with pytest.raises(InputError, match="exactly one"):
        Closure(edges=((u, v),), centre=Location(21.87, -102.27), radius_m=10)
    agua.lift_closure("crash")
    np.testing.assert_array_equal(agua.etas_to(v), before)


# -- files and cache -------------------------------------------------------------------------


def test_graphml_round_trip_is_osmnx_readable(agua_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    path = tmp_path / "agua.graphml"
    save_graphml(agua_graph, path)
    loaded = ox.load_graphml(path)
    assert loaded.number_of_edges() == agua_graph.number_of_edges()
    assert all(isinstance(d["travel_time"], float) for _, _, d in loaded.edges(data=True))
    region = load_region(path, fresh=True)
    reference = RoadRegion.from_graph(agua_graph)
    np.testing.assert_array_equal(region.etas_to(3), reference.etas_to(3))


def test_cache_is_written_then_hit_and_keyed_by_source_and_profile(tmp_path: Path) -> None:
    source = tmp_path / "agua.drive.osm.bz2"
    shutil.copy(OSM / "aguascalientes.drive.osm.bz2", source)
    cached = cache_path(source, profile=SpeedProfile())
    assert not cached.exists()
    first = load_road_arrays(source)
    assert cached.is_file()
    second = load_road_arrays(source)
    assert second.meta["built_at"] == first.meta["built_at"]  # read back, not rebuilt
    np.testing.assert_array_equal(second.edge_seconds, first.edge_seconds)
    np.testing.assert_array_equal(load_arrays(cached).osm_ids, first.osm_ids)
    slower = SpeedProfile(default_factor=1.0, emergency_factor={})
    assert cache_path(source, profile=slower) != cached
    assert (load_road_arrays(source, profile=slower).edge_seconds >= first.edge_seconds).all()
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cache_path(source, profile=SpeedProfile()) != cached


def test_load_region_names_memoise_and_missing_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_region("aguascalientes")
    assert load_region("aguascalientes") is first
    assert load_region("aguascalientes", fresh=True) is not first
    monkeypatch.setenv("PLANNER_DATA_DIR", str(tmp_path))
    with pytest.raises(DataMissingError, match="planner network build"):
        load_region("harrisburg")
    with pytest.raises(DataMissingError, match="unknown region 'atlantis'"):
        load_region("atlantis")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a prepared region"):
        load_region(tmp_path / "broken.npz")


def test_npz_region_round_trip(tmp_path: Path) -> None:
    from planner.network.osm import save_arrays

    arrays = RoadArrays(
        name="line",
        osm_ids=np.array([10, 20, 30]),
        lonlat=np.array([[5.0, 52.0], [5.001, 52.0], [5.002, 52.0]]),
        edge_u=np.array([0, 1]),
        edge_v=np.array([1, 2]),
        edge_seconds=np.array([3.0, 4.0]),
        edge_metres=np.array([68.0, 68.0]),
    )
    save_arrays(arrays, tmp_path / "line.npz")
    region = load_region(tmp_path / "line.npz", fresh=True)
    assert region.etas_to(2).tolist() == [7.0, 4.0, 0.0]
    assert region.etas_to(0).tolist() == [0.0, np.inf, np.inf]


def test_speed_profile_factors() -> None:
    profile = SpeedProfile()
    assert profile.emergency_kph("motorway", 100.0) == pytest.approx(110.0)
    assert profile.emergency_kph(["residential", "motorway"], 30.0) == pytest.approx(39.0)
    assert profile.emergency_kph("motorway", 200.0) == profile.max_kph
    assert profile.factor("bridleway") == profile.default_factor
    assert SpeedProfile().fingerprint() == profile.fingerprint()
    assert SpeedProfile(max_kph=100).fingerprint() != profile.fingerprint()
    with pytest.raises(ValueError, match="positive"):
        SpeedProfile(emergency_factor={"motorway": 0.0})

"""Road and matrix regions against answers known by hand and by networkx on small graphs."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError, OutsideRegionError
from planner.network.closures import Closure
from planner.network.geo import Location
from planner.network.matrix_region import MatrixRegion
from planner.network.region import eta_matrix
from planner.network.road_region import RoadRegion


def _diamond() -> nx.MultiDiGraph:
    """1 → 2 → 4 is 30 s over 900 m; 1 → 3 → 4 is 40 s over 500 m; 4 → 1 direct 100 s, 2 km.

    Fastest 1 → 4 goes by 2 (30 s, 900 m) although the way by 3 is shorter in metres."""
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for node, x in ((1, 0.0), (2, 0.01), (3, 0.01), (4, 0.02)):
        graph.add_node(node, x=x, y=0.001 * node)
    for u, v, seconds, metres in (
        (1, 2, 10.0, 400.0),
        (2, 4, 20.0, 500.0),
        (1, 3, 15.0, 200.0),
        (3, 4, 25.0, 300.0),
        (4, 1, 100.0, 2000.0),
    ):
        graph.add_edge(u, v, travel_time=seconds, length=metres)
    return graph


def test_route_seconds_metres_and_nodes_by_hand() -> None:
    region = RoadRegion.from_graph(_diamond())
    route = region.route(0, 3)
    assert (route.seconds, route.metres, route.nodes) == (30.0, 900.0, (0, 1, 3))
    back = region.route(3, 2)  # 4 → 1 → 3: 100 + 15 s, 2000 + 200 m
    assert (back.seconds, back.metres, back.nodes) == (115.0, 2200.0, (3, 0, 2))
    np.testing.assert_array_equal(region.etas_to(3), [30.0, 20.0, 25.0, 0.0])


def test_closing_the_fast_road_reroutes_and_lifting_restores() -> None:
    region = RoadRegion.from_graph(_diamond())
    assert region.apply_closure("c1", Closure(edges=((1, 3),))) == 1
    route = region.route(0, 3)
    assert (route.seconds, route.metres, route.nodes) == (40.0, 500.0, (0, 2, 3))
    assert region.apply_closure("c2", Closure(edges=((2, 3),), factor=2.0)) == 1
    assert region.route(0, 3).seconds == 65.0  # 15 + 25 x 2
    region.lift_closure("c1")
    region.lift_closure("c2")
    assert region.route(0, 3).seconds == 30.0
    with pytest.raises(InputError, match="no active closure 'c1'"):
        region.lift_closure("c1")
    with pytest.raises(InputError, match="no road from node 3 to node 1") as info:
        region.apply_closure("c3", Closure(edges=((3, 1),)))
    assert info.value.field == "edges"


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_random_graphs_match_networkx(seed: int) -> None:
    """Dijkstra seconds and the metres of the returned path, against networkx on the same
    random digraph (parallel edges included: the faster one counts)."""
    rng = np.random.default_rng(seed)
    n = 7
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for node in range(n):
        graph.add_node(node, x=float(node) / 100, y=0.0)
    for _ in range(16):
        u, v = (int(x) for x in rng.integers(0, n, 2))
        if u != v:
            graph.add_edge(
                u, v, travel_time=float(rng.integers(1, 60)), length=float(rng.integers(10, 999))
            )
    region = RoadRegion.from_graph(graph)
    simple = nx.DiGraph()
    simple.add_nodes_from(range(n))
    for u, v, data in graph.edges(data=True):
        if not simple.has_edge(u, v) or data["travel_time"] < simple[u][v]["travel_time"]:
            simple.add_edge(u, v, travel_time=data["travel_time"], length=data["length"])
    lengths = dict(nx.all_pairs_dijkstra_path_length(simple, weight="travel_time"))
    matrix = region.travel_time_matrix(np.arange(n), np.arange(n))
    for o in range(n):
        for d in range(n):
            expected = lengths[o].get(d, math.inf)
            assert matrix[o, d] == expected
            route = region.route(o, d)
            assert route.seconds == expected
            if math.isfinite(expected):
                hops = list(zip(route.nodes, route.nodes[1:], strict=False))
                assert sum(simple[u][v]["travel_time"] for u, v in hops) == expected
                assert route.metres == pytest.approx(sum(simple[u][v]["length"] for u, v in hops))


def test_matrix_region_by_hand() -> None:
    """Three points; closing point 1 cuts travel to and from it but not 0 ↔ 2."""
    region = MatrixRegion(
        name="line",
        point_ids=["a", "b", "c"],
        lonlat=np.array([[0.0, 0.0], [0.01, 0.0], [0.02, 0.0]]),
        seconds=np.array([[0.0, 50.0, 500.0], [50.0, 0.0, 80.0], [500.0, 80.0, 0.0]]),
        metres=np.array([[0.0, 600.0, 5000.0], [600.0, 0.0, 900.0], [5000.0, 900.0, 0.0]]),
    )
    route = region.route(0, 2)
    assert (route.seconds, route.metres, route.nodes) == (500.0, 5000.0, (0, 2))
    np.testing.assert_array_equal(region.etas_to(1), [50.0, 0.0, 80.0])
    assert region.point_index("c") == 2
    version = region.weights_version
    closure = Closure(edges=((0, 1), (1, 0)))
    assert region.apply_closure("x", closure) == 2
    assert region.weights_version == version + 1
    assert math.isinf(region.route(0, 1).seconds) and region.route(0, 1).nodes == ()
    assert region.travel_time_matrix(np.array([0]), np.array([2]))[0, 0] == 500.0
    region.lift_closure("x")
    assert region.route(0, 1).seconds == 50.0
    with pytest.raises(InputError, match=r"node indices must be in 0..2") as info:
        region.travel_time_matrix(np.array([3]), np.array([0]))
    assert info.value.field == "origins"
    with pytest.raises(InputError, match=r"node 5 is not in 0..2") as info:
        region.route(5, 0)
    assert info.value.field == "node"


def test_matrix_region_refusals_name_the_point_or_edge() -> None:
    region = MatrixRegion(
        name="line",
        point_ids=["a", "b", "c"],
        lonlat=np.array([[0.0, 0.0], [0.01, 0.0], [0.02, 0.0]]),
        seconds=np.array([[0.0, 50.0, 500.0], [50.0, 0.0, 80.0], [500.0, 80.0, 0.0]]),
    )
    with pytest.raises(InputError, match="no point 'zz' in region line") as info:
        region.point_index("zz")
    assert info.value.field == "point"
    for pair in ((3, 0), (0, 3), (-1, 0)):
        with pytest.raises(
            InputError, match=f"no points {pair[0]}, {pair[1]} in this region"
        ) as bad:
            region.apply_closure("x", Closure(edges=(pair,)))
        assert bad.value.field == "edges"
    assert region.closures == {}
    assert region.route(1, 1).nodes == (1,)
    assert math.isnan(region.route(0, 1).metres)  # no distance matrix given
    region.apply_closure("x", Closure(edges=((0, 1),)))
    closed = region.route(0, 1)
    assert (closed.seconds, closed.metres, closed.nodes) == (math.inf, math.inf, ())


def test_eta_matrix_names_the_far_location_and_passes_the_snap_limit() -> None:
    """Node 1 of the diamond is at (0.001, 0.0); a point 0.01° north is ~1.1 km from any node:
    beyond the default 500 m, within an explicit 5 km."""
    region = RoadRegion.from_graph(_diamond())
    node_1, node_4 = Location(lat=0.001, lon=0.0), Location(lat=0.004, lon=0.02)
    off = Location(lat=0.011, lon=0.0)
    np.testing.assert_array_equal(
        eta_matrix(region, [node_1, off], [node_4], max_snap_m=5000), [[30.0], [30.0]]
    )
    with pytest.raises(OutsideRegionError, match="m from the nearest node") as info:
        eta_matrix(region, [node_1, off], [node_4])
    assert info.value.field == "origins[1]"
    with pytest.raises(OutsideRegionError, match="m from the nearest node") as info:
        eta_matrix(region, [node_1], [off])
    assert info.value.field == "destinations[0]"
    assert eta_matrix(region, [node_1], [off], max_snap_m=5000)[0, 0] == 0.0
    with pytest.raises(InputError, match="no active closure 'nope'") as lifted:
        region.lift_closure("nope")
    assert lifted.value.field == "closure_id"

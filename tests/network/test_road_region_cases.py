"""Road-region details on a four-node graph worked out by hand: both sides of the many-to-many
matrix, zero-second edges, forward trees, the tree cache and what a closure does to it.

Edges (seconds): 0→1 10, 1→2 0 (a zero-length link), 2→3 5, 0→3 40, 3→0 7.
Fastest: 0→3 = 15 (by 1 and 2), 3→2 = 17 (by 0 and 1), 1→0 = 12 (by 2, 3).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.errors import InputError
from planner.network.closures import Closure
from planner.network.geo import Location
from planner.network.osm import arrays_from_graph
from planner.network.road_region import RoadRegion
from tests.network.four_nodes import four_node_graph

EXPECTED = np.array(
    [
        [0.0, 10.0, 10.0, 15.0],
        [12.0, 0.0, 0.0, 5.0],
        [12.0, 22.0, 0.0, 5.0],
        [7.0, 17.0, 17.0, 0.0],
    ]
)


def _region(cache: int = 256) -> RoadRegion:
    graph = four_node_graph()
    return RoadRegion(arrays_from_graph(graph, name="four"), tree_cache_size=cache)


def test_matrix_from_either_side_in_the_order_asked() -> None:
    region = _region()
    origins, destinations = np.array([3, 0, 3]), np.array([2, 0])
    np.testing.assert_array_equal(
        region.travel_time_matrix(origins, destinations), EXPECTED[np.ix_(origins, destinations)]
    )  # fewer destinations: reverse trees
    origins, destinations = np.array([1]), np.array([3, 0, 2, 0])
    np.testing.assert_array_equal(
        region.travel_time_matrix(origins, destinations), EXPECTED[np.ix_(origins, destinations)]
    )  # fewer origins: forward trees
    assert region.travel_time_matrix(np.array([], dtype=np.int64), np.array([1])).shape == (0, 1)
    np.testing.assert_array_equal(region.etas_from(3), EXPECTED[3])
    np.testing.assert_array_equal(region.etas_to(0), EXPECTED[:, 0])
    route = region.route(0, 3)
    assert (route.seconds, route.metres, route.nodes) == (15.0, 150.0, (0, 1, 2, 3))
    assert region.n_edges == 5


def test_travel_times_within_a_limit_by_hand() -> None:
    """Trees that stop at 10 s: from 3, node 0 (7 s) and itself; from 0, nodes 1 and 2 at
    exactly 10 s (kept) but not 3 (15 s); from 1, nodes 2 and 3 (0 and 5 s), not 0 (12 s).
    Origins repeat and come in any order; after closing 2 -> 3, node 0 reaches 3 only by the
    direct road (40 s)."""
    region = _region()
    inf = math.inf
    within = region.travel_times_within(np.array([3, 0, 3, 1]), np.array([2, 0, 3, 1]), 10.0)
    expected = [
        [inf, 7.0, 0.0, inf],
        [10.0, 0.0, inf, 10.0],
        [inf, 7.0, 0.0, inf],
        [0.0, inf, 5.0, 0.0],
    ]
    np.testing.assert_array_equal(within, np.array(expected))
    single = region.travel_times_within(np.array([0, 3]), np.array([2]), 10.0)
    np.testing.assert_array_equal(single, [[10.0], [inf]])
    for limit in (0.0, 5.0, 12.0, 100.0):
        np.testing.assert_array_equal(
            region.travel_times_within(np.arange(4), np.arange(4), limit),
            np.where(limit >= EXPECTED, EXPECTED, inf),
        )
    for origins, destinations in (([], [1, 2]), ([0, 1, 2], [])):
        empty = region.travel_times_within(
            np.array(origins, dtype=np.int64), np.array(destinations, dtype=np.int64), 10.0
        )
        assert empty.shape == (len(origins), len(destinations)) and empty.dtype == np.float64
    for side, bad in (
        ("origins", (np.array([4]), np.array([0]))),
        ("destinations", (np.array([0]), np.array([-1]))),
    ):
        with pytest.raises(InputError, match="node indices") as info:
            region.travel_times_within(*bad, 10.0)
        assert info.value.field == side
    region.apply_closure("c", Closure(edges=((2, 3),)))
    np.testing.assert_array_equal(
        region.travel_times_within(np.array([0]), np.array([3, 2]), 100.0), [[40.0, 10.0]]
    )


def test_tree_cache_is_bounded_read_only_and_dropped_by_closures() -> None:
    region = _region(cache=2)
    first = region.etas_to(3)
    assert region.etas_to(3) is first  # cached
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 1.0
    second = region.etas_to(2)
    region.etas_to(3)  # 3 used last: 2 is the oldest now
    region.etas_to(1)  # evicts 2, keeps 3
    assert region.etas_to(3) is first
    assert region.etas_to(2) is not second
    # closing the zero-length link reroutes 0→3 directly (40 s) and forgets the cached trees
    assert region.apply_closure("link", Closure(edges=((1, 2),))) == 1
    assert region.etas_to(3)[0] == 40.0 and math.isinf(
        region.edge_seconds[2]
    )  # edges sorted by (u, v)
    region.lift_closure("link")
    assert region.etas_to(3)[0] == 15.0
    kept = region.etas_to(3)
    region.clear_tree_cache()
    assert region.etas_to(3) is not kept
    with pytest.raises(InputError, match="no road from node 1 to node 3") as info:
        region.apply_closure("x", Closure(edges=((1, 3),)))
    assert info.value.field == "edges"
    with pytest.raises(InputError, match="no road from node 9 to node 0"):
        region.apply_closure("x", Closure(edges=((9, 0),)))
    segments = region.road_segments()
    assert segments.shape == (5, 4)
    np.testing.assert_array_equal(segments[0], [0.0, 0.0, 0.01, 0.0])


def test_names_arrays_read_only_and_unreachable_routes() -> None:
    graph = four_node_graph()
    graph.add_edge(0, 1, travel_time=12.0, length=100.0)  # a slower parallel road
    assert RoadRegion.from_graph(graph).name == "graph"
    arrays = arrays_from_graph(graph, name="four")
    region = RoadRegion(arrays)
    assert region.arrays is arrays and region.name == "four"
    assert (region.n_raw_edges, region.n_edges) == (6, 5)
    assert region.osm_ids.tolist() == [0, 1, 2, 3] and region.meta == {}
    for array in (region.edge_u, region.edge_v, region.base_seconds, region.edge_metres):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        region.edge_seconds[0] = 1.0
    # the first edge (0 -> 1) can be closed; nodes outside 0..3 are refused, never wrapped:
    # (-1, 7) and (1, -1) have the key u·4 + v = 3 of the road 0 -> 3, yet name no road
    assert region.apply_closure("first", Closure(edges=((0, 1),))) == 1
    assert math.isinf(region.edge_seconds[0])
    for u, v in ((2, 4), (4, 0), (-1, 3), (0, -1), (-1, 7), (1, -1)):
        with pytest.raises(InputError, match=f"no road from node {u} to node {v}"):
            region.apply_closure("bad", Closure(edges=((u, v),)))
    region.lift_closure("first")
    # a circle of 100 m around node 3 covers the three roads that end or start there
    assert region.apply_closure("c", Closure(centre=Location(0.0, 0.03), radius_m=100.0)) == 3
    far = region.route(1, 0)
    assert (far.seconds, far.metres, far.nodes) == (math.inf, math.inf, ())
    with pytest.raises(InputError, match="node indices") as info:
        region.travel_time_matrix(np.array([0]), np.array([7]))
    assert info.value.field == "destinations"


def test_snap_limit_given_a_road_into_node_0_and_a_single_destination() -> None:
    graph = four_node_graph()
    region = RoadRegion(arrays_from_graph(graph, name="four"), max_snap_m=123.0)
    assert region.max_snap_m == 123.0
    np.testing.assert_array_equal(
        region.travel_time_matrix(np.array([0, 1, 2, 3]), np.array([0])), EXPECTED[:, [0]]
    )
    assert region.apply_closure("back", Closure(edges=((3, 0),))) == 1
    assert math.isinf(region.route(3, 0).seconds)
    with pytest.raises(InputError, match="node indices") as info:
        region.travel_time_matrix(np.array([9]), np.array([0]))
    assert info.value.field == "origins"

"""The region base's bookkeeping on a three-point matrix region: node checks at their bounds,
read-only views, closure replacement and the weights version."""

from __future__ import annotations

import numpy as np
import pytest

from planner.errors import InputError, OutsideRegionError
from planner.network.closures import Closure
from planner.network.geo import Location
from planner.network.matrix_region import MatrixRegion
from planner.network.region import eta_matrix

SECONDS = np.array([[0.0, 50.0, 500.0], [50.0, 0.0, 80.0], [500.0, 80.0, 0.0]])


def _line() -> MatrixRegion:
    """Points 0.01° of longitude apart on the equator (1 112 m), bbox (0, 0, 0.02, 0)."""
    return MatrixRegion(
        name="line",
        point_ids=["a", "b", "c"],
        lonlat=np.array([[0.0, 0.0], [0.01, 0.0], [0.02, 0.0]]),
        seconds=SECONDS,
        max_snap_m=700.0,
    )


def test_node_checks_at_their_bounds() -> None:
    region = _line()
    assert region.n_nodes == 3 and region.bbox == (0.0, 0.0, 0.02, 0.0)
    assert region.route(2, 0).seconds == 500.0 and region.route(0, 0).seconds == 0.0
    for bad in (3, -1):
        with pytest.raises(InputError, match=rf"node {bad} is not in 0\.\.2") as info:
            region.etas_to(bad)
        assert info.value.field == "node"
    assert region.travel_time_matrix(np.array([0, 2]), np.array([], dtype=np.int64)).shape == (
        2,
        0,
    )
    for bad in ([-1], [3], [0, 3]):
        with pytest.raises(InputError, match=r"node indices must be in 0\.\.2") as info:
            region.travel_time_matrix(np.array([0]), np.array(bad))
        assert info.value.field == "destinations"


def test_views_are_read_only() -> None:
    region = _line()
    with pytest.raises(ValueError, match="read-only"):
        region.node_lonlat[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        region.seconds[0, 1] = 1.0
    with pytest.raises(TypeError):
        region.closures["x"] = Closure(edges=((0, 1),))  # type: ignore[index]


def test_a_closure_replaces_one_of_the_same_id_and_each_change_bumps_the_version() -> None:
    region = _line()
    start = region.weights_version
    assert region.apply_closure("x", Closure(edges=((0, 1),), factor=2.0)) == 1
    assert region.apply_closure("x", Closure(edges=((1, 2),), factor=3.0)) == 1
    assert region.weights_version == start + 2
    assert list(region.closures) == ["x"]
    assert region.seconds[0, 1] == 50.0 and region.seconds[1, 2] == 240.0
    # a refused closure changes nothing, not even the version
    with pytest.raises(InputError, match="no points 0, 9"):
        region.apply_closure("y", Closure(edges=((0, 9),)))
    assert region.weights_version == start + 2 and list(region.closures) == ["x"]
    region.lift_closure("x")
    assert region.weights_version == start + 3 and dict(region.closures) == {}
    np.testing.assert_array_equal(region.seconds, SECONDS)


def test_snap_uses_the_regions_own_limit_unless_given() -> None:
    """0.004° east of point a is 444.8 m from it: within the region's 700 m, beyond an explicit
    400 m; no origins give an empty matrix."""
    region = _line()
    snap = region.snap(0.0, 0.004)
    assert snap.node == 0 and snap.distance_m == pytest.approx(444.8, abs=0.5)
    with pytest.raises(OutsideRegionError, match="445 m from the nearest node"):
        region.snap(0.0, 0.004, max_snap_m=400.0)
    assert eta_matrix(region, [], [Location(0.0, 0.0)]).shape == (0, 1)

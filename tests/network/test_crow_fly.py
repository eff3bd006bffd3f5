"""Crow-fly ETAs: great-circle distance x detour at a fixed speed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod

from planner.errors import InputError
from planner.network.crow_fly import distance_matrix_m, eta_matrix
from planner.network.geo import Location, haversine_m


def test_one_degree_of_latitude_and_the_eta_it_gives() -> None:
    a, b = Location(40.0, -76.0), Location(41.0, -76.0)
    d = distance_matrix_m([a], [b])[0, 0]
    assert d == pytest.approx(111_195, rel=1e-3)
    eta = eta_matrix([a], [b], speed_kmh=50, detour_factor=1.3)[0, 0]
    assert eta == pytest.approx(d * 1.3 / (50 / 3.6))


def test_shape_and_invalid_parameters() -> None:
    pts = [Location(40.0 + i / 100, -76.0) for i in range(3)]
    assert eta_matrix(pts, pts[:2]).shape == (3, 2)
    assert eta_matrix([], pts).shape == (0, 3)
    with pytest.raises(InputError, match="positive"):
        eta_matrix(pts, pts, speed_kmh=0)
    with pytest.raises(InputError, match="at least 1"):
        eta_matrix(pts, pts, detour_factor=0.5)


coords = st.tuples(st.floats(-80, 80), st.floats(-179, 179))


def test_distances_known_by_hand() -> None:
    """On the sphere of radius R: a degree of latitude is R x pi / 180, a quarter of the equator
    R x pi / 2, and the antipode R x pi."""
    r = 6_371_008.8
    pts = [Location(0.0, 0.0), Location(1.0, 0.0), Location(0.0, 90.0), Location(0.0, 180.0)]
    d = distance_matrix_m(pts[:1], pts)[0]
    np.testing.assert_allclose(d, [0.0, r * math.pi / 180, r * math.pi / 2, r * math.pi])
    assert haversine_m(0.0, 0.0, 0.0, 90.0) == pytest.approx(r * math.pi / 2)


@given(st.lists(coords, min_size=1, max_size=5), st.lists(coords, min_size=1, max_size=5))
def test_matches_pyproj_on_the_same_sphere(
    origins: list[tuple[float, float]], destinations: list[tuple[float, float]]
) -> None:
    """pyproj's geodesic on a sphere of the same radius is an independent implementation."""
    geod = Geod(a=6_371_008.8, b=6_371_008.8)
    o = [Location(*p) for p in origins]
    d = [Location(*p) for p in destinations]
    expected = np.array([[geod.inv(a.lon, a.lat, b.lon, b.lat)[2] for b in d] for a in o])
    np.testing.assert_allclose(distance_matrix_m(o, d), expected, rtol=1e-7, atol=1e-3)

"""Travel times without a road network: great-circle distance x a detour factor at fixed speed.

For regions with no offline road network (the Seattle and Montgomery County data), the usual
planning model: road distance is about 1.3 x the straight line in a city grid, driven at an
average emergency speed. Vectorised; a few hundred units x incidents take microseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from planner.arrays import FloatArray
from planner.errors import InputError
from planner.network.geo import Location, great_circle_m

DEFAULT_SPEED_KMH = 50.0
DEFAULT_DETOUR_FACTOR = 1.3


def distance_matrix_m(origins: Sequence[Location], destinations: Sequence[Location]) -> FloatArray:
    """``(len(origins), len(destinations))`` great-circle distances in metres."""
    lat1, lon1 = _degrees(origins)
    lat2, lon2 = _degrees(destinations)
    return great_circle_m(lat1[:, None], lon1[:, None], lat2[None, :], lon2[None, :])


def eta_matrix(
    origins: Sequence[Location],
    destinations: Sequence[Location],
    *,
    speed_kmh: float = DEFAULT_SPEED_KMH,
    detour_factor: float = DEFAULT_DETOUR_FACTOR,
) -> FloatArray:
    """Seconds from every origin to every destination: distance x detour / speed."""
    if not speed_kmh > 0:
        raise InputError(f"must be positive, got {speed_kmh}", field="speed_kmh")
    if not detour_factor >= 1:
        raise InputError(f"must be at least 1, got {detour_factor}", field="detour_factor")
    return distance_matrix_m(origins, destinations) * detour_factor / (speed_kmh / 3.6)


def _degrees(points: Sequence[Location]) -> tuple[FloatArray, FloatArray]:
    lat = np.fromiter((p.lat for p in points), dtype=np.float64, count=len(points))
    lon = np.fromiter((p.lon for p in points), dtype=np.float64, count=len(points))
    return lat, lon

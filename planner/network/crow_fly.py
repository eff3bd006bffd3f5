"""Travel times without a road network: great-circle distance x a detour factor at fixed speed.

For regions with no offline road network (the Seattle and Montgomery County data), the usual
planning model: road distance is about 1.3 x the straight line in a city grid, driven at an
average emergency speed. Vectorised; a few hundred units x incidents take microseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from planner.errors import InputError
from planner.network.geo import EARTH_RADIUS_M, Location

FloatArray = npt.NDArray[np.float64]

DEFAULT_SPEED_KMH = 50.0
DEFAULT_DETOUR_FACTOR = 1.3


def distance_matrix_m(origins: Sequence[Location], destinations: Sequence[Location]) -> FloatArray:
    """``(len(origins), len(destinations))`` great-circle distances in metres."""
    lat1, lon1 = _radians(origins)
    lat2, lon2 = _radians(destinations)
    dlat = lat2[None, :] - lat1[:, None]
    dlon = lon2[None, :] - lon1[:, None]
    a = (
        np.sin(dlat / 2) ** 2
        + np.cos(lat1)[:, None] * np.cos(lat2)[None, :] * np.sin(dlon / 2) ** 2
    )
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


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


def _radians(points: Sequence[Location]) -> tuple[FloatArray, FloatArray]:
    lat = np.radians(np.fromiter((p.lat for p in points), dtype=np.float64, count=len(points)))
    lon = np.radians(np.fromiter((p.lon for p in points), dtype=np.float64, count=len(points)))
    return lat, lon

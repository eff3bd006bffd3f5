"""Small geodesy helpers: great-circle distances and nearest-point snapping in metres.

Regions are city-sized, so a local equirectangular projection around the region's centre is
accurate to well under 1 % for finding the nearest point; the reported snap distance is the
exact haversine distance to the point found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.arrays import FloatArray
from planner.errors import InputError, OutsideRegionError

EARTH_RADIUS_M = 6_371_008.8


def great_circle_m(
    lat1: FloatArray | float,
    lon1: FloatArray | float,
    lat2: FloatArray | float,
    lon2: FloatArray | float,
) -> FloatArray:
    """Haversine distances in metres between points in degrees, broadcasting like NumPy (the one
    implementation: crow-fly matrices and snap distances both use it)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.subtract(lon2, lon1))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points."""
    return float(great_circle_m(lat1, lon1, lat2, lon2))


def check_lat_lon(lat: float, lon: float) -> None:
    """Refuse coordinates that are not finite WGS84 degrees (a swapped pair is the usual cause)."""
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InputError(f"latitude {lat} is not within -90..90", field="lat")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InputError(f"longitude {lon} is not within -180..180", field="lon")


class LocalProjection:
    """Equirectangular projection to metres around a fixed centre."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0 = lat0
        self.lon0 = lon0
        self._kx = EARTH_RADIUS_M * math.cos(math.radians(lat0)) * math.pi / 180.0
        self._ky = EARTH_RADIUS_M * math.pi / 180.0

    def to_xy(self, lon: FloatArray, lat: FloatArray) -> FloatArray:
        """``(n, 2)`` metres east and north of the centre."""
        return np.column_stack(((lon - self.lon0) * self._kx, (lat - self.lat0) * self._ky))


def lonlat_bbox(lonlat: FloatArray) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` in degrees of ``(n, 2)`` lon, lat points."""
    lo, hi = lonlat.min(axis=0), lonlat.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


class PointSnapper:
    """Nearest of a fixed set of points, refusing anything farther than the allowed distance."""

    def __init__(self, lonlat: FloatArray) -> None:
        if len(lonlat) == 0:
            raise InputError("a region needs at least one point", field="nodes")
        self._lonlat = lonlat
        centre = lonlat.mean(axis=0)
        self.projection = LocalProjection(float(centre[1]), float(centre[0]))
        from scipy.spatial import cKDTree  # imported here: the CLI parses points without it

        self._tree = cKDTree(self.projection.to_xy(lonlat[:, 0], lonlat[:, 1]))

    def nearest(self, lat: float, lon: float, *, max_snap_m: float) -> tuple[int, float]:
        """Index of the nearest point and its distance in metres; ``OutsideRegionError`` if far."""
        check_lat_lon(lat, lon)
        xy = self.projection.to_xy(np.array([lon]), np.array([lat]))[0]
        _, index = self._tree.query(xy)
        node = int(index)
        distance = haversine_m(lat, lon, float(self._lonlat[node, 1]), float(self._lonlat[node, 0]))
        if distance > max_snap_m:
            raise OutsideRegionError(
                f"point ({lat:.6f}, {lon:.6f}) is {distance:,.0f} m from the nearest node "
                f"(allowed {max_snap_m:,.0f} m): outside the region?",
                field="location",
            )
        return node, distance


@dataclass(frozen=True, slots=True)
class Location:
    """A WGS84 point."""

    lat: float
    lon: float

"""Road closures and slow-downs: which edges or points an event affects, and by how much.

A :class:`Closure` names an area (explicit edges, a circle, or a polygon) and a ``factor``:
``None`` closes it, a number above 1 multiplies its travel times. Regions keep their original
weights and recompute from them whenever a closure is applied or lifted, so lifting restores the
previous travel times exactly. Overlapping slow-downs do not compound: the strongest applies
(and a closure beats any slow-down), which keeps the result independent of the order of events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely

from planner.arrays import BoolArray, FloatArray
from planner.errors import InputError
from planner.network.geo import LocalProjection, Location, check_lat_lon


@dataclass(frozen=True, slots=True)
class Closure:
    """One closure or slow-down: exactly one of ``edges``, ``centre``+``radius_m``, ``polygon``.

    ``edges`` are ``(from_node, to_node)`` node-index pairs of the region (both directions of a
    two-way street are separate edges). ``polygon`` is a ring of WGS84 points.
    """

    edges: tuple[tuple[int, int], ...] = ()
    centre: Location | None = None
    radius_m: float | None = None
    polygon: tuple[Location, ...] = ()
    factor: float | None = None
    """``None``: closed; ``> 1``: travel times multiplied by this."""
    reason: str = ""

    def __post_init__(self) -> None:
        kinds = sum((bool(self.edges), self.centre is not None, bool(self.polygon)))
        if kinds != 1:
            raise InputError(
                "give exactly one of edges, centre+radius_m or polygon", field="closure"
            )
        if self.factor is not None and not (math.isfinite(self.factor) and self.factor > 1.0):
            raise InputError(
                f"slow-down factor must be a finite number above 1, got {self.factor}",
                field="factor",
            )
        if self.centre is not None:
            check_lat_lon(self.centre.lat, self.centre.lon)
            if self.radius_m is None or not (math.isfinite(self.radius_m) and self.radius_m > 0):
                raise InputError(
                    f"a circle closure needs a positive radius_m, got {self.radius_m}",
                    field="radius_m",
                )
        if self.polygon:
            if len(self.polygon) < 3:
                raise InputError("a polygon needs at least 3 points", field="polygon")
            for point in self.polygon:
                check_lat_lon(point.lat, point.lon)

    @property
    def multiplier(self) -> float:
        """Factor on travel times: ``inf`` when closed."""
        return math.inf if self.factor is None else self.factor


def segments_in_area(
    closure: Closure, projection: LocalProjection, segments_lonlat: FloatArray
) -> BoolArray:
    """Which straight segments ``(n, 4)`` lon1,lat1,lon2,lat2 touch the closure's area.

    Segments stand for edges (their end nodes); an edge whose curved geometry bends into an
    area while both ends stay outside is missed, which is acceptable for block-sized areas.
    """
    a = projection.to_xy(segments_lonlat[:, 0], segments_lonlat[:, 1])
    b = projection.to_xy(segments_lonlat[:, 2], segments_lonlat[:, 3])
    if closure.centre is not None:
        assert closure.radius_m is not None
        c = projection.to_xy(np.array([closure.centre.lon]), np.array([closure.centre.lat]))[0]
        ab = b - a
        denom = np.einsum("ij,ij->i", ab, ab)
        t = np.where(denom > 0, np.einsum("ij,ij->i", c - a, ab) / np.maximum(denom, 1e-12), 0.0)
        nearest = a + np.clip(t, 0.0, 1.0)[:, None] * ab
        result: BoolArray = np.hypot(*(nearest - c).T) <= closure.radius_m
        return result
    area = _projected_polygon(closure, projection)
    lines = shapely.linestrings(np.stack((a, b), axis=1))
    hit: BoolArray = shapely.intersects(lines, area)
    return hit


def points_in_area(closure: Closure, projection: LocalProjection, lonlat: FloatArray) -> BoolArray:
    """Which points ``(n, 2)`` lon,lat lie in the closure's circle or polygon."""
    xy = projection.to_xy(lonlat[:, 0], lonlat[:, 1])
    if closure.centre is not None:
        assert closure.radius_m is not None
        c = projection.to_xy(np.array([closure.centre.lon]), np.array([closure.centre.lat]))[0]
        inside: BoolArray = np.hypot(*(xy - c).T) <= closure.radius_m
        return inside
    area = _projected_polygon(closure, projection)
    hit: BoolArray = shapely.intersects_xy(area, xy[:, 0], xy[:, 1])
    return hit


def strongest(multipliers: Iterable[tuple[BoolArray, float]], size: int) -> FloatArray:
    """Per element, the largest multiplier of the closures covering it (1 where none does)."""
    result = np.ones(size, dtype=np.float64)
    for mask, multiplier in multipliers:
        result[mask] = np.maximum(result[mask], multiplier)
    return result


def _projected_polygon(closure: Closure, projection: LocalProjection) -> shapely.Polygon:
    ring = projection.to_xy(
        np.array([p.lon for p in closure.polygon]), np.array([p.lat for p in closure.polygon])
    )
    area = shapely.Polygon(ring)
    if not area.is_valid:
        area = shapely.make_valid(area)
    return area

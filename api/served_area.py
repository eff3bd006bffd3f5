"""The area a live centre accepts points in, stated exactly in the OpenAPI document.

The engine places an incident or unit on the region's roads only within ``max_snap_m`` of a
road node. That is a distance to a point set, which JSON Schema cannot state, so the API
accepts points in a union of latitude/longitude boxes instead: the cells of a ``cell_m`` grid
whose every point lies within 95 % of ``max_snap_m`` of a node (runs of such cells along a row
merged into one box). Every point of every box is placeable, the document lists the boxes
(``ServedPosition``), and the API refuses any other point with 422 naming the field — so what
the document calls valid is exactly what the server accepts. Near the edge of the roads the
boxes leave out up to about a cell's width of what the engine alone would have placed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from planner.arrays import FloatArray
from planner.centre.events import Event, Position
from planner.errors import OutsideRegionError
from planner.network.region import Region

DECIMALS = 6
_EARTH_M_PER_DEG = 111_320.0
MARGIN = 0.95
"""Share of ``max_snap_m`` a box's farthest point may be from a node (slack for rounding and
the local flat-earth approximation)."""


@dataclass(frozen=True, slots=True)
class ServedArea:
    """Boxes ``(lat_min, lat_max, lon_min, lon_max)`` (degrees, inclusive) of placeable points."""

    boxes: FloatArray
    max_snap_m: float

    @classmethod
    def of(cls, region: Region, max_snap_m: float, *, cell_m: float = 100.0) -> ServedArea:
        """The boxes of ``region``'s nodes (see the module docstring)."""
        lonlat = np.asarray(region.node_lonlat, dtype=np.float64)
        lat0 = float(lonlat[:, 1].mean())
        m_lat = _EARTH_M_PER_DEG
        m_lon = _EARTH_M_PER_DEG * math.cos(math.radians(lat0))
        xy = np.column_stack([lonlat[:, 0] * m_lon, lonlat[:, 1] * m_lat])
        reach = max_snap_m * MARGIN - cell_m * math.sqrt(2) / 2
        lo = xy.min(axis=0) - max_snap_m
        hi = xy.max(axis=0) + max_snap_m
        xs = np.arange(lo[0], hi[0], cell_m)
        ys = np.arange(lo[1], hi[1], cell_m)
        cx, cy = np.meshgrid(xs + cell_m / 2, ys + cell_m / 2)
        distance, _ = cKDTree(xy).query(np.column_stack([cx.ravel(), cy.ravel()]))
        ok = (distance <= reach).reshape(cx.shape)
        boxes: list[tuple[float, float, float, float]] = []
        for row, y in zip(ok, ys, strict=True):
            start: int | None = None
            for k, inside in enumerate([*row.tolist(), False]):
                if inside and start is None:
                    start = k
                elif not inside and start is not None:
                    boxes.append(_box(y, y + cell_m, xs[start], xs[k - 1] + cell_m, m_lat, m_lon))
                    start = None
        return cls(np.array(boxes, dtype=np.float64).reshape(-1, 4), max_snap_m)

    def contains(self, lat: float, lon: float) -> bool:
        b = self.boxes
        inside = (b[:, 0] <= lat) & (lat <= b[:, 1]) & (b[:, 2] <= lon) & (lon <= b[:, 3])
        return bool(inside.any())

    def check(self, event: Event) -> None:
        """Refuse an event placing an incident or unit outside the boxes, naming the field."""
        for name in ("home", "location"):
            point = getattr(event, name, None)
            if isinstance(point, Position) and not self.contains(point.lat, point.lon):
                raise OutsideRegionError(
                    f"point ({point.lat:.6f}, {point.lon:.6f}) is outside the area this centre "
                    f"serves (within {self.max_snap_m:g} m of its roads; the boxes of "
                    "ServedPosition in /openapi.json)",
                    field=name,
                )

    def schema(self) -> dict[str, Any]:
        """The ``ServedPosition`` component: a position in one of the boxes."""
        return {
            "title": "ServedPosition",
            "description": "A WGS84 point inside the area this centre serves: in one of these "
            "boxes (points within the region's snap distance of its roads).",
            "type": "object",
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
            },
            "required": ["lat", "lon"],
            "additionalProperties": False,
            "anyOf": [
                {
                    "properties": {
                        "lat": {"minimum": lat_min, "maximum": lat_max},
                        "lon": {"minimum": lon_min, "maximum": lon_max},
                    }
                }
                for lat_min, lat_max, lon_min, lon_max in self.boxes.tolist()
            ],
        }


def _box(
    y0: float, y1: float, x0: float, x1: float, m_lat: float, m_lon: float
) -> tuple[float, float, float, float]:
    """A box in degrees, rounded inwards (so the rounded box stays inside the cells)."""
    scale = 10**DECIMALS
    return (
        math.ceil(y0 / m_lat * scale) / scale,
        math.floor(y1 / m_lat * scale) / scale,
        math.ceil(x0 / m_lon * scale) / scale,
        math.floor(x1 / m_lon * scale) / scale,
    )

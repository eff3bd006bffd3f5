"""The region interface: what the solver, engine and simulator need from a map.

A region is either a road graph built from OpenStreetMap
(:class:`planner.network.road_region.RoadRegion`) or a travel-time matrix over a set of points
(:class:`planner.network.matrix_region.MatrixRegion`, as the Utrecht literature region is given).
Both answer the same questions, in seconds, with ``inf`` for unreachable pairs. Nodes are
integer indices ``0..n_nodes-1``.

:func:`eta_matrix` gives the seconds from a set of locations (units) to another (incidents);
:mod:`planner.network.loader` turns a name or a path into a region.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from planner.errors import InputError, OutsideRegionError

if TYPE_CHECKING:
    from planner.network.closures import Closure
    from planner.network.geo import Location

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Snap:
    """A coordinate placed on the region: the node it snapped to and how far away it was."""

    node: int
    distance_m: float


@dataclass(frozen=True, slots=True)
class Route:
    """The fastest way between two nodes; ``inf`` and no nodes when unreachable."""

    seconds: float
    metres: float
    nodes: tuple[int, ...]


@runtime_checkable
class Region(Protocol):
    """Travel times over a fixed set of nodes."""

    name: str

    @property
    def n_nodes(self) -> int: ...

    @property
    def node_lonlat(self) -> FloatArray:
        """``(n_nodes, 2)`` array of lon, lat."""
        ...

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees."""
        ...

    def snap(self, lat: float, lon: float, *, max_snap_m: float | None = None) -> Snap:
        """Nearest node; raises ``OutsideRegionError`` beyond ``max_snap_m``."""
        ...

    def etas_to(self, node: int) -> FloatArray:
        """Seconds from every node to ``node`` (one reverse tree), ``inf`` where unreachable."""
        ...

    def travel_time_matrix(self, origins: IntArray, destinations: IntArray) -> FloatArray:
        """``(len(origins), len(destinations))`` seconds, ``inf`` where unreachable."""
        ...

    def route(self, origin: int, destination: int) -> Route:
        """Fastest path between two nodes, with its length in metres."""
        ...

    def road_segments(self) -> FloatArray:
        """``(n, 4)`` lon1, lat1, lon2, lat2 to draw (empty for a matrix region)."""
        ...

    @property
    def closures(self) -> Mapping[str, Closure]:
        """Active closures and slow-downs by id (read-only)."""
        ...

    def apply_closure(self, closure_id: str, closure: Closure) -> int:
        """Close or slow part of the region; returns how many edges/points it affects."""
        ...

    def lift_closure(self, closure_id: str) -> None:
        """Undo a closure; travel times return exactly to what they were."""
        ...


def eta_matrix(
    region: Region,
    origins: Sequence[Location],
    destinations: Sequence[Location],
    *,
    max_snap_m: float | None = None,
) -> FloatArray:
    """Seconds from each origin (e.g. unit) to each destination (e.g. incident), ``inf`` if
    unreachable: one cached reverse tree per destination node.

    A location farther than ``max_snap_m`` from the region raises ``OutsideRegionError`` naming
    which origin or destination it was.
    """
    origin_nodes = _snap_all(region, origins, "origins", max_snap_m)
    result = np.empty((len(origins), len(destinations)), dtype=np.float64)
    for j, node in enumerate(_snap_all(region, destinations, "destinations", max_snap_m)):
        result[:, j] = region.etas_to(int(node))[origin_nodes]
    return result


def _snap_all(
    region: Region, locations: Sequence[Location], field: str, max_snap_m: float | None
) -> IntArray:
    nodes = np.empty(len(locations), dtype=np.int64)
    for i, location in enumerate(locations):
        try:
            nodes[i] = region.snap(location.lat, location.lon, max_snap_m=max_snap_m).node
        except (OutsideRegionError, InputError) as exc:
            raise type(exc)(exc.message, field=f"{field}[{i}]") from exc
    return nodes

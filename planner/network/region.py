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

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from planner.arrays import FloatArray, IntArray
from planner.errors import InputError, OutsideRegionError
from planner.network.geo import PointSnapper, lonlat_bbox

if TYPE_CHECKING:
    from planner.network.closures import Closure
    from planner.network.geo import Location


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


class RegionBase:
    """What road and matrix regions share: node coordinates, snapping, node checks and the
    closure bookkeeping (apply replaces by id, lift restores exactly, every change bumps
    ``weights_version``). A subclass says what a closure affects (:meth:`_closure_effect`) and
    how the current weights follow from all active effects (:meth:`_reweight`)."""

    def __init__(self, *, name: str, lonlat: FloatArray, max_snap_m: float) -> None:
        self.name = name
        self.max_snap_m = max_snap_m
        self._lonlat: FloatArray = np.asarray(lonlat, dtype=np.float64)
        self._lonlat.setflags(write=False)
        self._snapper = PointSnapper(self._lonlat)
        self._closures: dict[str, Closure] = {}
        self._effects: dict[str, npt.NDArray[Any]] = {}
        self._lock = threading.RLock()
        self.weights_version = 0
        """Increases whenever closures change the weights (callers may key their caches on it)."""

    @property
    def n_nodes(self) -> int:
        return len(self._lonlat)

    @property
    def node_lonlat(self) -> FloatArray:
        """``(n_nodes, 2)`` array of lon, lat (read-only)."""
        return self._lonlat

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees."""
        return lonlat_bbox(self._lonlat)

    def snap(self, lat: float, lon: float, *, max_snap_m: float | None = None) -> Snap:
        """Nearest node; raises ``OutsideRegionError`` beyond ``max_snap_m`` (default: the
        region's own limit)."""
        limit = self.max_snap_m if max_snap_m is None else max_snap_m
        node, distance = self._snapper.nearest(lat, lon, max_snap_m=limit)
        return Snap(node=node, distance_m=distance)

    @property
    def closures(self) -> Mapping[str, Closure]:
        """Active closures and slow-downs by id (read-only)."""
        return MappingProxyType(self._closures)

    def apply_closure(self, closure_id: str, closure: Closure) -> int:
        """Close or slow what ``closure`` covers (replacing one of the same id); returns how many
        edges or points it affects. Nothing changes if the closure is invalid."""
        effect, affected = self._closure_effect(closure)
        with self._lock:
            self._closures[closure_id] = closure
            self._effects[closure_id] = effect
            self._refresh()
        return affected

    def lift_closure(self, closure_id: str) -> None:
        """Reopen: travel times return exactly to what they were without this closure."""
        with self._lock:
            if closure_id not in self._closures:
                raise InputError(f"no active closure {closure_id!r}", field="closure_id")
            del self._closures[closure_id]
            del self._effects[closure_id]
            self._refresh()

    def _closure_effect(self, closure: Closure) -> tuple[npt.NDArray[Any], int]:
        """What ``closure`` does to this region's weights, and how many edges/points it touches;
        raises ``InputError`` for a closure that does not fit the region."""
        raise NotImplementedError

    def _reweight(self) -> None:
        """Recompute the current weights from the base weights and ``self._effects``."""
        raise NotImplementedError

    def _refresh(self) -> None:
        self._reweight()
        self.weights_version += 1

    def _check_node(self, node: int) -> int:
        if not 0 <= int(node) < self.n_nodes:
            raise InputError(f"node {node} is not in 0..{self.n_nodes - 1}", field="node")
        return int(node)

    def _check_nodes(self, nodes: IntArray, field: str) -> IntArray:
        array = np.asarray(nodes, dtype=np.int64).ravel()
        if len(array) and (array.min() < 0 or array.max() >= self.n_nodes):
            raise InputError(f"node indices must be in 0..{self.n_nodes - 1}", field=field)
        return array


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

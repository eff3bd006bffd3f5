"""The region interface: what the solver, engine and simulator need from a map.

A region is either a road graph built from OpenStreetMap (:class:`planner.road_region.RoadRegion`)
or a travel-time matrix over a set of points (:class:`planner.matrix_region.MatrixRegion`, as the
Utrecht literature region is given). Both answer the same questions, in seconds, with ``inf`` for
unreachable pairs. Nodes are integer indices ``0..n_nodes-1``.

:func:`load_region` turns a name or a path into a region; :func:`eta_matrix` gives the seconds
from a set of locations (units) to another (incidents).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from planner.errors import DataMissingError, InputError, OutsideRegionError

if TYPE_CHECKING:
    from planner.closures import Closure
    from planner.domain import Location

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

REGION_NAMES = ("aguascalientes", "harrisburg", "manhattan", "columbus", "utrecht")
"""Regions shipped in the shared data directory (``<data_dir>/osm`` and ``<data_dir>/regions``)."""


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


_loaded: dict[tuple[str, int, int], Region] = {}
_loaded_lock = threading.Lock()


def resolve_region_path(spec: str | Path) -> Path:
    """The file or directory a region name or path stands for (it may not exist).

    A bare known name (``harrisburg``, no separator or extension) always means the shipped
    region, even when the working directory holds a folder of that name: which map a scenario
    runs on must not depend on where the command is started. Write ``./harrisburg`` for the folder.
    """
    from planner.settings import get_settings

    text = str(spec)
    if text.lower() in REGION_NAMES:
        data_dir = get_settings().data_dir
        if text.lower() == "utrecht":
            return data_dir / "regions" / "utrecht"
        return data_dir / "osm" / f"{text.lower()}.drive.osm.bz2"
    return Path(text).expanduser()


def load_region(spec: str | Path, *, fresh: bool = False) -> Region:
    """A region from a name (``harrisburg``, ``utrecht``…), OSM XML, GraphML, ``.npz`` or a
    matrix-region directory.

    OSM XML is built on first use and cached (see :mod:`planner.road_network`). Repeat calls in
    one process return the *same* object (closures applied through it are shared) unless
    ``fresh`` is set; a changed file is reloaded.
    """
    path = resolve_region_path(spec)
    if not path.exists():
        raise DataMissingError(_missing_message(spec, path), field="region")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if not fresh:
        with _loaded_lock:
            if key in _loaded:
                return _loaded[key]
    region = _load(path)
    if not fresh:
        with _loaded_lock:
            _loaded[key] = region
    return region


def _load(path: Path) -> Region:
    if path.is_dir():
        from planner.matrix_region import load_matrix_region

        return load_matrix_region(path)
    from planner.road_network import load_road_arrays
    from planner.road_region import RoadRegion

    return RoadRegion(load_road_arrays(path))


def _missing_message(spec: str | Path, path: Path) -> str:
    text = str(spec)
    if text.lower() in REGION_NAMES:
        return (
            f"region {text!r} needs {path}, which is missing: set PLANNER_DATA_DIR to the shared "
            f"data directory, or build the network with "
            f'`planner network build --place "<city>" -o {text.lower()}.graphml`'
        )
    if path.suffix == "" and "/" not in text and "\\" not in text:
        return (
            f"unknown region {text!r} (known: {', '.join(REGION_NAMES)}) and no such file; "
            f'build one with `planner network build --place "<city>" -o {text}.graphml`'
        )
    return (
        f"region file {path} does not exist; build it with "
        f"`planner network build --osm FILE -o {path}` or `--place NAME`"
    )


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

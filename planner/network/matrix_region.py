"""A region given as a travel-time matrix over points (e.g. postal-code centroids).

The Utrecht ambulance region of the dispatch literature (ELASPY data, in
``<data_dir>/regions/utrecht/``) is published this way: 231 four-digit postal-code areas with
centroids in Dutch RD New coordinates (EPSG:28992), a population share each, and 231×231
emergency-driving matrices. **Units** (checked against the data, not the file names): the
``siren_driving_matrix_2022.csv`` values are **minutes** and ``distance_matrix_2022.csv`` values
are **kilometres** — their ratio gives a median of 81 km/h (1st–99th percentile 44–98 km/h),
plausible siren speeds, and road distances are a median 1.38× the straight-line distance between
centroids. Both are converted here to seconds and metres.

There is no road graph, so closures act on points: a point inside a closure area is cut off
(or slowed) for travel to and from it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from planner.arrays import FloatArray, IntArray
from planner.errors import DataMissingError, InputError
from planner.network.closures import Closure, points_in_area
from planner.network.region import RegionBase, Route

DEFAULT_MATRIX_SNAP_M = 5_000.0
"""Four-digit postal-code areas around Utrecht are up to ~4 km between neighbouring centroids
(nearest-neighbour spacing: median 1.5 km, max 3.8 km), so a point within 5 km of a centroid is
inside or next to that area; farther away it is outside the region."""

UTRECHT_FILES = {
    "nodes": "nodes_Utrecht_2021.csv",
    "seconds": "siren_driving_matrix_2022.csv",
    "metres": "distance_matrix_2022.csv",
}


class MatrixRegion(RegionBase):
    """Travel times given directly as a matrix between points."""

    def __init__(
        self,
        *,
        name: str,
        point_ids: Sequence[str],
        lonlat: FloatArray,
        seconds: FloatArray,
        metres: FloatArray | None = None,
        population: FloatArray | None = None,
        max_snap_m: float = DEFAULT_MATRIX_SNAP_M,
    ) -> None:
        n = len(point_ids)
        if lonlat.shape != (n, 2) or seconds.shape != (n, n):
            raise InputError(
                f"{n} points need a ({n}, 2) lonlat and a ({n}, {n}) matrix, got "
                f"{lonlat.shape} and {seconds.shape}",
                field="matrix",
            )
        if metres is not None and metres.shape != (n, n):
            raise InputError(f"distance matrix must be ({n}, {n})", field="metres")
        if np.any(seconds < 0) or np.any(np.isnan(seconds)):
            raise InputError("travel times must be non-negative numbers", field="matrix")
        super().__init__(name=name, lonlat=lonlat, max_snap_m=max_snap_m)
        self.point_ids: tuple[str, ...] = tuple(point_ids)
        self.population: FloatArray = (
            np.full(n, 1.0 / n) if population is None else np.asarray(population, dtype=float)
        )
        """Share of the population per point (sums to 1 for Utrecht): weights for demand."""
        self._base = np.asarray(seconds, dtype=np.float64)
        self._metres = None if metres is None else np.asarray(metres, dtype=np.float64)
        for array in (self._base, self.population):
            array.setflags(write=False)
        self._index = {pid: i for i, pid in enumerate(self.point_ids)}
        self._refresh()

    @property
    def seconds(self) -> FloatArray:
        """The current matrix (closures applied), read-only."""
        return self._seconds

    def point_index(self, point_id: str) -> int:
        """Node index of a point id (a postal code for Utrecht)."""
        if point_id not in self._index:
            raise InputError(f"no point {point_id!r} in region {self.name}", field="point")
        return self._index[point_id]

    def etas_to(self, node: int) -> FloatArray:
        column: FloatArray = self._seconds[:, self._check_node(node)]
        return column

    def travel_time_matrix(self, origins: IntArray, destinations: IntArray) -> FloatArray:
        o = self._check_nodes(origins, "origins")
        d = self._check_nodes(destinations, "destinations")
        result: FloatArray = self._seconds[np.ix_(o, d)]
        return result

    def route(self, origin: int, destination: int) -> Route:
        """Direct entry of the matrix (a matrix region has no intermediate nodes)."""
        o, d = self._check_node(origin), self._check_node(destination)
        seconds = float(self._seconds[o, d])
        if not np.isfinite(seconds):
            return Route(seconds=np.inf, metres=np.inf, nodes=())
        metres = float(self._metres[o, d]) if self._metres is not None else float("nan")
        return Route(seconds=seconds, metres=metres, nodes=(o, d) if o != d else (o,))

    def road_segments(self) -> FloatArray:
        """No roads to draw: an empty ``(0, 4)`` array."""
        return np.empty((0, 4), dtype=np.float64)

    def _closure_effect(self, closure: Closure) -> tuple[FloatArray, int]:
        """Cut off (or slow) travel to and from the points in the closure's area, or the given
        ``(from, to)`` point pairs: a factor per pair, and how many points (or pairs)."""
        factors = np.ones((self.n_nodes, self.n_nodes))
        if closure.edges:
            for o, d in closure.edges:
                if not (0 <= o < self.n_nodes and 0 <= d < self.n_nodes):
                    raise InputError(f"no points {o}, {d} in this region", field="edges")
                factors[o, d] = closure.multiplier
            affected = len(closure.edges)
        else:
            inside = points_in_area(closure, self._snapper.projection, self._lonlat)
            factors[inside, :] = closure.multiplier
            factors[:, inside] = closure.multiplier
            np.fill_diagonal(factors, 1.0)
            affected = int(inside.sum())
        return factors, affected

    def _reweight(self) -> None:
        factor = np.ones_like(self._base)
        for f in self._effects.values():
            np.maximum(factor, f, out=factor)
        seconds = np.where(
            np.isinf(factor), np.inf, self._base * np.where(np.isinf(factor), 1, factor)
        )
        seconds.setflags(write=False)
        self._seconds = seconds


def load_matrix_region(
    directory: Path, *, max_snap_m: float = DEFAULT_MATRIX_SNAP_M
) -> MatrixRegion:
    """Load a matrix region directory laid out like ``regions/utrecht`` (see module docstring)."""
    missing = [f for f in UTRECHT_FILES.values() if not (directory / f).is_file()]
    if missing:
        raise DataMissingError(
            f"matrix region {directory} lacks {', '.join(missing)}; it needs the ELASPY Utrecht "
            "files (see the data README) — set PLANNER_DATA_DIR to the shared data directory",
            field="region",
        )
    from pyproj import Transformer

    ids, xy, population = _read_nodes(directory / UTRECHT_FILES["nodes"])
    minutes = _read_matrix(directory / UTRECHT_FILES["seconds"], ids)
    km = _read_matrix(directory / UTRECHT_FILES["metres"], ids)
    to_wgs84 = Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(xy[:, 0], xy[:, 1])
    return MatrixRegion(
        name=directory.name,
        point_ids=ids,
        lonlat=np.column_stack((lon, lat)),
        seconds=minutes * 60.0,
        metres=km * 1000.0,
        population=population,
        max_snap_m=max_snap_m,
    )


def _read_nodes(path: Path) -> tuple[list[str], FloatArray, FloatArray]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    try:
        ids = [row["postal code"].strip() for row in rows]
        xy = np.array([(float(row["x"]), float(row["y"])) for row in rows])
        population = np.array([float(row["inhabitants"]) for row in rows])
    except (KeyError, ValueError) as exc:
        raise InputError(f"{path}: bad nodes file ({exc})", field="nodes") from exc
    return ids, xy, population


def _read_matrix(path: Path, ids: list[str]) -> FloatArray:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader)[1:]]
        rows = list(reader)
    row_ids = [row[0].strip() for row in rows]
    if header != ids or row_ids != ids:
        raise InputError(f"{path}: rows and columns must list the nodes in order", field="matrix")
    try:
        return np.array([[float(v) for v in row[1:]] for row in rows], dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{path}: non-numeric entry ({exc})", field="matrix") from exc

"""The region interface: what the solver, engine and simulator need from a map.

A region is either a road graph built from OpenStreetMap or a travel-time matrix over a set
of points (as the Utrecht literature region is given). Both answer the same questions, in
seconds, with ``inf`` for unreachable pairs. Nodes are integer indices ``0..n_nodes-1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Snap:
    """A coordinate placed on the region: the node it snapped to and how far away it was."""

    node: int
    distance_m: float


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

    def snap(self, lat: float, lon: float, *, max_snap_m: float | None = None) -> Snap:
        """Nearest node; raises ``OutsideRegionError`` beyond ``max_snap_m``."""
        ...

    def etas_to(self, node: int) -> FloatArray:
        """Seconds from every node to ``node`` (one reverse tree), ``inf`` where unreachable."""
        ...

    def travel_time_matrix(self, origins: IntArray, destinations: IntArray) -> FloatArray:
        """``(len(origins), len(destinations))`` seconds, ``inf`` where unreachable."""
        ...

"""A region backed by a road graph: CSR matrices, SciPy Dijkstra, cached reverse trees.

The MultiDiGraph is reduced to one weight per directed node pair (the **minimum** travel time of
parallel edges: a driver takes the faster of two parallel roads; summing them, which a naive
sparse-matrix build does, would be wrong). ``etas_to(node)`` is one Dijkstra run on the
transposed graph, giving every node's travel time *to* ``node``, i.e. every unit's ETA to an
incident; these trees are cached per node (LRU, 256 by default: ~35 MB for Columbus's 17k
nodes) and dropped whenever closures change the weights.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from planner.arrays import BoolArray, FloatArray, IntArray
from planner.errors import InputError
from planner.network.closures import Closure, segments_in_area, strongest
from planner.network.osm import RoadArrays, arrays_from_graph
from planner.network.region import RegionBase, Route
from planner.settings import get_settings


class RoadRegion(RegionBase):
    """Travel times over a prepared road network (see :mod:`planner.network.osm`)."""

    def __init__(
        self, arrays: RoadArrays, *, max_snap_m: float | None = None, tree_cache_size: int = 256
    ) -> None:
        super().__init__(
            name=arrays.name,
            lonlat=arrays.lonlat,
            max_snap_m=get_settings().max_snap_m if max_snap_m is None else max_snap_m,
        )
        self.arrays = arrays
        """The arrays it was built from (to rebuild it with other speeds)."""
        self.meta = dict(arrays.meta)
        self.osm_ids = arrays.osm_ids
        self.n_raw_edges = arrays.n_edges
        n = arrays.n_nodes
        # One edge per (u, v): sort by key, then by seconds, and keep the first of each key.
        key = arrays.edge_u * n + arrays.edge_v
        order = np.lexsort((arrays.edge_seconds, key))
        _, first = np.unique(key[order], return_index=True)
        keep = order[first]
        self.edge_u: IntArray = arrays.edge_u[keep]
        self.edge_v: IntArray = arrays.edge_v[keep]
        self.base_seconds: FloatArray = arrays.edge_seconds[keep]
        self.edge_metres: FloatArray = arrays.edge_metres[keep]
        for array in (self.edge_u, self.edge_v, self.base_seconds, self.edge_metres):
            array.setflags(write=False)
        self._trees: OrderedDict[tuple[bool, int], FloatArray] = OrderedDict()
        self._tree_cache_size = tree_cache_size
        self._refresh()

    @classmethod
    def from_graph(cls, graph: nx.MultiDiGraph, *, name: str = "graph") -> RoadRegion:
        """Region from a prepared osmnx graph (edges carry ``travel_time``)."""
        return cls(arrays_from_graph(graph, name=name))

    # -- the Region protocol -------------------------------------------------------------

    @property
    def n_edges(self) -> int:
        """Directed node pairs with a road (parallel edges counted once)."""
        return len(self.edge_u)

    def etas_to(self, node: int) -> FloatArray:
        """Seconds from every node to ``node``; a cached, read-only array (copy to modify)."""
        return self._trees_for(np.array([self._check_node(node)]), reverse=True)[0]

    def etas_from(self, node: int) -> FloatArray:
        """Seconds from ``node`` to every node (one forward tree)."""
        return self._trees_for(np.array([self._check_node(node)]), reverse=False)[0]

    def travel_time_matrix(self, origins: IntArray, destinations: IntArray) -> FloatArray:
        """Many-to-many seconds, running trees from whichever side is smaller."""
        origins = self._check_nodes(origins, "origins")
        destinations = self._check_nodes(destinations, "destinations")
        if len(origins) == 0 or len(destinations) == 0:
            return np.empty((len(origins), len(destinations)), dtype=np.float64)
        if len(destinations) <= len(origins):
            trees = self._trees_for(np.unique(destinations), reverse=True)
            by_node = dict(zip(np.unique(destinations).tolist(), trees, strict=True))
            return np.column_stack([by_node[d][origins] for d in destinations.tolist()]).reshape(
                len(origins), len(destinations)
            )
        trees = self._trees_for(np.unique(origins), reverse=False)
        by_node = dict(zip(np.unique(origins).tolist(), trees, strict=True))
        return np.vstack([by_node[o][destinations] for o in origins.tolist()]).reshape(
            len(origins), len(destinations)
        )

    def travel_times_within(
        self, origins: IntArray, destinations: IntArray, limit_s: float
    ) -> FloatArray:
        """:meth:`travel_time_matrix` for pairs at most ``limit_s`` apart (``inf`` beyond):
        forward trees that stop at the limit, one SciPy call, nothing cached. Far cheaper
        than full trees when the limit is a cover time (a coverage model's first rows)."""
        origins = self._check_nodes(origins, "origins")
        destinations = self._check_nodes(destinations, "destinations")
        if len(origins) == 0 or len(destinations) == 0:
            return np.empty((len(origins), len(destinations)), dtype=np.float64)
        with self._lock:
            graph = self._csr
        unique, inverse = np.unique(origins, return_inverse=True)
        dist = np.atleast_2d(dijkstra(graph, indices=unique, limit=limit_s))
        out: FloatArray = dist[np.ix_(inverse.reshape(-1), destinations)]
        return out

    def route(self, origin: int, destination: int) -> Route:
        """Fastest path: seconds, metres and the node sequence (empty when unreachable)."""
        origin, destination = self._check_node(origin), self._check_node(destination)
        with self._lock:
            csr, metres = self._csr, self._csr_metres
        dist, pred = dijkstra(csr, indices=origin, return_predecessors=True)
        seconds = float(dist[destination])
        if not np.isfinite(seconds):
            return Route(seconds=np.inf, metres=np.inf, nodes=())
        nodes = [destination]
        while nodes[-1] != origin:
            nodes.append(int(pred[nodes[-1]]))
        nodes.reverse()
        total = 0.0
        for u, v in itertools.pairwise(nodes):
            row = slice(csr.indptr[u], csr.indptr[u + 1])
            k = csr.indptr[u] + int(np.searchsorted(csr.indices[row], v))
            total += float(metres[k])
        return Route(seconds=seconds, metres=total, nodes=tuple(nodes))

    def clear_tree_cache(self) -> None:
        """Forget cached trees (to bound memory, or to time cold queries)."""
        with self._lock:
            self._trees.clear()

    # -- drawing and lookup ----------------------------------------------------------------

    def road_segments(self) -> FloatArray:
        """``(n_edges, 4)`` lon1, lat1, lon2, lat2 of every directed edge (for drawing a map)."""
        return np.hstack((self._lonlat[self.edge_u], self._lonlat[self.edge_v]))

    # -- closures ----------------------------------------------------------------------------

    @property
    def edge_seconds(self) -> FloatArray:
        """Current seconds per edge (``inf`` for closed edges), aligned with ``edge_u/edge_v``."""
        return self._seconds

    def _closure_effect(self, closure: Closure) -> tuple[BoolArray, int]:
        """The mask of directed edges the closure covers."""
        mask = self._closure_mask(closure)
        return mask, int(mask.sum())

    def _closure_mask(self, closure: Closure) -> BoolArray:
        if not closure.edges:
            return segments_in_area(closure, self._snapper.projection, self.road_segments())
        n = self.n_nodes
        keys = self.edge_u * n + self.edge_v
        mask = np.zeros(self.n_edges, dtype=bool)
        for u, v in closure.edges:
            k = int(np.searchsorted(keys, u * n + v)) if 0 <= u < n and 0 <= v < n else -1
            if k < 0 or k >= len(keys) or keys[k] != u * n + v:
                raise InputError(f"no road from node {u} to node {v}", field="edges")
            mask[k] = True
        return mask

    def _reweight(self) -> None:
        factors = strongest(
            ((self._effects[cid], self._closures[cid].multiplier) for cid in self._closures),
            self.n_edges,
        )
        with np.errstate(invalid="ignore"):
            seconds = self.base_seconds * factors
        seconds[np.isinf(factors)] = np.inf
        seconds.setflags(write=False)
        open_ = np.isfinite(seconds)
        u, v, w = self.edge_u[open_], self.edge_v[open_], seconds[open_]
        self._seconds = seconds
        self._csr = _csr(u, v, w, self.n_nodes)
        self._csr_metres = _csr(u, v, self.edge_metres[open_], self.n_nodes).data
        self._csr_t = _csr(v, u, w, self.n_nodes)
        self._trees.clear()

    # -- trees ---------------------------------------------------------------------------------

    def _trees_for(self, nodes: IntArray, *, reverse: bool) -> list[FloatArray]:
        with self._lock:
            found = {int(n): self._trees.get((reverse, int(n))) for n in nodes}
            missing = [n for n, tree in found.items() if tree is None]
            graph, version = (self._csr_t if reverse else self._csr), self.weights_version
        if missing:
            dist = np.atleast_2d(dijkstra(graph, indices=missing))
            with self._lock:
                for n, row in zip(missing, dist, strict=True):
                    row.setflags(write=False)
                    found[n] = row
                    if version == self.weights_version:
                        self._trees[(reverse, n)] = row
                while len(self._trees) > self._tree_cache_size:
                    self._trees.popitem(last=False)
        with self._lock:
            for n in found:
                if (reverse, n) in self._trees:
                    self._trees.move_to_end((reverse, n))
        return [found[int(n)] for n in nodes]  # type: ignore[misc]


def _csr(rows: IntArray, cols: IntArray, data: FloatArray, n: int) -> sp.csr_matrix:
    """CSR built by hand so explicit zero weights (zero-length edges) stay edges."""
    order = np.lexsort((cols, rows))
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n))))
    return sp.csr_matrix(
        (data[order], cols[order].astype(np.int32), indptr.astype(np.int32)), shape=(n, n)
    )

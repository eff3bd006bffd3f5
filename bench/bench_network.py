"""Road layer on Columbus (17k nodes): ours (array cache, CSR + SciPy Dijkstra) vs plain networkx.

Measured in the same run: loading the region (our cache vs osmnx parsing the OSM XML, and vs
osmnx's own GraphML), one reverse tree (every node's ETA to one incident), one new incident's
ETAs to 500 units (snap + tree), and a 500 × 200 ETA matrix. Results are checked equal.
Targets (issue 2): matrix ≥ 25× faster than networkx; one new incident's ETAs ≤ 50 ms.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox

from planner.network.osm import (
    arrays_from_graph,
    cache_path,
    graph_from_osm_file,
    load_road_arrays,
    save_arrays,
    save_graphml,
)
from planner.network.road_region import RoadRegion
from planner.network.speed_profile import SpeedProfile
from planner.settings import get_settings

N_ORIGINS = 500
N_DESTINATIONS = 200
SEED = 0


def _median_s(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def main() -> None:
    source = get_settings().data_dir / "osm" / "columbus.drive.osm.bz2"
    if not source.is_file():
        print(f"skipped: {source} is missing (set PLANNER_DATA_DIR)")
        return
    rows: list[tuple[str, float, int, float, int]] = []

    started = time.perf_counter()
    graph = graph_from_osm_file(source)
    build_s = time.perf_counter() - started
    save_arrays(
        arrays_from_graph(graph, name="columbus"), cache_path(source, profile=SpeedProfile())
    )

    def cached_load() -> RoadRegion:
        return RoadRegion(load_road_arrays(source))

    region = cached_load()
    load_s = _median_s(cached_load, 5)
    rows.append(("load region: our cache vs osmnx OSM XML build", load_s, 5, build_s, 1))

    with tempfile.TemporaryDirectory() as tmp:
        graphml = Path(tmp) / "columbus.graphml"
        save_graphml(graph, graphml)
        started = time.perf_counter()
        ox.load_graphml(graphml)
        graphml_s = time.perf_counter() - started
    rows.append(("load region: our cache vs osmnx.load_graphml", load_s, 5, graphml_s, 1))

    rng = np.random.default_rng(SEED)
    reverse = graph.reverse(copy=False)
    osm_ids = region.osm_ids

    def nx_reverse_tree(node: int) -> dict[int, float]:
        lengths: dict[int, float] = nx.single_source_dijkstra_path_length(
            reverse, int(osm_ids[node]), weight="travel_time"
        )
        return lengths

    tree_nodes = iter(rng.integers(0, region.n_nodes, 100).tolist())

    def our_tree() -> None:
        region.clear_tree_cache()
        region.etas_to(next(tree_nodes))

    tree_s = _median_s(our_tree, 21)
    nx_tree_s = _median_s(lambda: nx_reverse_tree(next(tree_nodes)), 5)
    rows.append(("one reverse tree (all nodes' ETA to one node)", tree_s, 21, nx_tree_s, 5))

    units = rng.integers(0, region.n_nodes, N_ORIGINS)
    incidents = iter(rng.integers(0, region.n_nodes, 100).tolist())

    def new_incident() -> None:
        lon, lat = region.node_lonlat[next(incidents)]
        snap = region.snap(lat + 0.0005, lon + 0.0005)
        region.etas_to(snap.node)[units]

    def nx_new_incident() -> None:
        lengths = nx_reverse_tree(next(incidents))
        [lengths.get(int(osm_ids[u]), np.inf) for u in units]

    incident_s = _median_s(new_incident, 21)
    nx_incident_s = _median_s(nx_new_incident, 5)
    rows.append(
        (f"new incident: snap + ETAs of {N_ORIGINS} units", incident_s, 21, nx_incident_s, 5)
    )

    origins = rng.integers(0, region.n_nodes, N_ORIGINS)
    destinations = rng.integers(0, region.n_nodes, N_DESTINATIONS)

    def our_matrix() -> np.ndarray:
        region.clear_tree_cache()
        return region.travel_time_matrix(origins, destinations)

    def nx_matrix() -> np.ndarray:
        result = np.empty((N_ORIGINS, N_DESTINATIONS))
        for j, d in enumerate(destinations):
            lengths = nx_reverse_tree(int(d))
            result[:, j] = [lengths.get(int(osm_ids[o]), np.inf) for o in origins]
        return result

    ours = our_matrix()
    matrix_s = _median_s(our_matrix, 5)
    started = time.perf_counter()
    reference = nx_matrix()
    nx_matrix_s = time.perf_counter() - started
    np.testing.assert_allclose(ours, reference, rtol=1e-9)
    rows.append((f"{N_ORIGINS} × {N_DESTINATIONS} ETA matrix", matrix_s, 5, nx_matrix_s, 1))

    print(
        f"Columbus: {region.n_nodes:,} nodes, {region.n_raw_edges:,} edges; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; results checked equal to networkx.\n"
    )
    print("| step | ours (median) | networkx/osmnx (median) | speed-up |")
    print("|---|---:|---:|---:|")
    for name, ours_s, n, plain_s, m in rows:
        ratio = plain_s / ours_s
        print(f"| {name} | {_fmt(ours_s)} (n={n}) | {_fmt(plain_s)} (n={m}) | {ratio:,.0f}× |")
    print(
        f"\ntargets: matrix ≥ 25× → {nx_matrix_s / matrix_s:,.0f}×; "
        f"new incident ≤ 50 ms → {incident_s * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()

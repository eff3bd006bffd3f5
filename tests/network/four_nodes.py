"""The four-node road graph worked out by hand in the road-region and coverage tests.

Edges (seconds): 0→1 10, 1→2 0 (a zero-length link), 2→3 5, 0→3 40, 3→0 7; metres are ten
times the seconds; nodes 0..3 lie on the equator, 0.01° apart.
Fastest: 0→3 = 15 (by 1 and 2), 3→2 = 17 (by 0 and 1), 1→0 = 12 (by 2, 3).
"""

from __future__ import annotations

import networkx as nx


def four_node_graph() -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for node in range(4):
        graph.add_node(node, x=node / 100, y=0.0)
    for u, v, seconds in ((0, 1, 10.0), (1, 2, 0.0), (2, 3, 5.0), (0, 3, 40.0), (3, 0, 7.0)):
        graph.add_edge(u, v, travel_time=seconds, length=seconds * 10)
    return graph

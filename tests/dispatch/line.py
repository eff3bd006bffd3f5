"""The hand-worked line the coverage and holding tests share: points 0..4, 300 s apart, uniform
demand (0.2 each), cover time 300 s (a unit covers its own point and its neighbours), busy
fraction q = 0.5."""

from __future__ import annotations

import numpy as np

from planner.dispatch.coverage import CoverageModel
from planner.network.geo import Location
from planner.network.matrix_region import MatrixRegion

N = 5


def line_model() -> CoverageModel:
    pos = np.arange(N, dtype=np.float64)
    region = MatrixRegion(
        name="line",
        point_ids=[str(i) for i in range(N)],
        lonlat=np.column_stack([5.0 + 0.01 * pos, np.full(N, 52.0)]),
        seconds=300.0 * np.abs(pos[:, None] - pos[None, :]),
    )
    return CoverageModel(
        region=region,
        demand_nodes=np.arange(N, dtype=np.int64),
        demand_weights=np.ones(N),
        target_s=300.0,
        busy_fraction=0.5,
    )


def at(model: CoverageModel, node: int) -> Location:
    """Where point ``node`` of the line is."""
    lon, lat = model.region.node_lonlat[node]
    return Location(float(lat), float(lon))

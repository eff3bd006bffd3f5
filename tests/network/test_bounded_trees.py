"""Trees stopped at a limit (a coverage model's first rows): the full trees' seconds wherever
they are within the limit, ``inf`` beyond, whatever the order and repeats of the origins."""

from __future__ import annotations

import numpy as np
import pytest

from planner.dispatch.coverage import CoverageModel
from planner.network.loader import load_region
from planner.network.road_region import RoadRegion


@pytest.fixture(scope="module")
def harrisburg() -> RoadRegion:
    region = load_region("harrisburg")
    assert isinstance(region, RoadRegion)
    return region


@pytest.mark.parametrize("limit_s", [0.0, 90.0, 300.0, 1e9])
def test_bounded_trees_equal_full_trees_within_the_limit(
    harrisburg: RoadRegion, limit_s: float
) -> None:
    rng = np.random.default_rng(int(limit_s))
    origins = rng.integers(0, harrisburg.n_nodes, 40)
    origins[5] = origins[0]  # a repeated origin
    destinations = rng.integers(0, harrisburg.n_nodes, 300)
    destinations[:10] = origins[:10]  # every limit has pairs within it
    full = harrisburg.travel_time_matrix(origins, destinations)
    bounded = harrisburg.travel_times_within(origins, destinations, limit_s)
    inside = full <= limit_s
    assert inside.any()
    np.testing.assert_array_equal(bounded[inside], full[inside])
    assert np.isinf(bounded[~inside]).all()


def test_coverage_rows_from_bounded_trees_equal_the_full_matrix(harrisburg: RoadRegion) -> None:
    rng = np.random.default_rng(3)
    demand = rng.choice(harrisburg.n_nodes, 400, replace=False)
    model = CoverageModel(
        region=harrisburg,
        demand_nodes=demand,
        demand_weights=np.ones(400),
        target_s=240.0,
        busy_fraction=0.3,
    )
    nodes = rng.integers(0, harrisburg.n_nodes, 60)
    expected = harrisburg.travel_time_matrix(nodes, demand) <= 240.0
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(model.rows(nodes), expected)

"""The Utrecht matrix region: units, coordinates, snapping and closures on points."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from planner.errors import DataMissingError, InputError, OutsideRegionError
from planner.network.closures import Closure
from planner.network.geo import Location
from planner.network.loader import load_region
from planner.network.matrix_region import MatrixRegion, load_matrix_region
from planner.network.region import Region, eta_matrix
from planner.settings import get_settings

UTRECHT = get_settings().data_dir / "regions" / "utrecht"


@pytest.fixture
def utrecht() -> MatrixRegion:
    return load_matrix_region(UTRECHT)


def _file_entry(name: str, row_id: str, col_id: str) -> float:
    with (UTRECHT / name).open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index(col_id)
    return float(next(r for r in rows if r[0] == row_id)[col])


def test_utrecht_loads_with_seconds_metres_and_population(utrecht: MatrixRegion) -> None:
    assert isinstance(utrecht, Region)
    assert utrecht.n_nodes == 231 and utrecht.point_ids[:2] == ("1391", "1393")
    assert utrecht.population.sum() == pytest.approx(1.0)
    o, d = utrecht.point_index("1391"), utrecht.point_index("3584")
    minutes = _file_entry("siren_driving_matrix_2022.csv", "1391", "3584")
    km = _file_entry("distance_matrix_2022.csv", "1391", "3584")
    assert utrecht.etas_to(d)[o] == pytest.approx(minutes * 60)
    route = utrecht.route(o, d)
    assert route.metres == pytest.approx(km * 1000) and route.nodes == (o, d)
    # Siren speeds in km/h come out plausible only if the units are minutes and kilometres.
    assert 40 < route.metres / route.seconds * 3.6 < 130
    west, south, east, north = utrecht.bbox
    assert 4.7 < west < east < 5.7 and 51.8 < south < north < 52.4  # the province of Utrecht


def test_snapping_to_postal_code_points(utrecht: MatrixRegion) -> None:
    lon, lat = utrecht.node_lonlat[utrecht.point_index("3584")]
    snap = utrecht.snap(lat + 0.005, lon)
    assert snap.node == utrecht.point_index("3584") and 500 < snap.distance_m < 600
    with pytest.raises(OutsideRegionError, match="from the nearest node"):
        utrecht.snap(52.37, 4.90)  # Amsterdam
    units = [Location(float(lat), float(lon))]
    assert eta_matrix(utrecht, units, units).tolist() == [[0.0]]


def test_matrix_and_reverse_tree_agree(utrecht: MatrixRegion) -> None:
    o, d = np.array([0, 5, 9]), np.array([3, 4])
    m = utrecht.travel_time_matrix(o, d)
    assert m.shape == (3, 2)
    np.testing.assert_array_equal(m[:, 1], utrecht.etas_to(4)[o])
    with pytest.raises(InputError, match=r"node indices must be in 0\.\.230") as info:
        utrecht.travel_time_matrix(np.array([231]), d)
    assert info.value.field == "origins"


def test_closures_cut_off_points_and_lift_restores(utrecht: MatrixRegion) -> None:
    before = utrecht.seconds.copy()
    lon, lat = utrecht.node_lonlat[10]
    closed = utrecht.apply_closure("flood", Closure(centre=Location(lat, lon), radius_m=100.0))
    assert closed == 1
    after = utrecht.seconds
    assert np.isinf(after[10, :10]).all() and np.isinf(after[:10, 10]).all()
    assert after[10, 10] == 0.0
    mask = np.ones(231, dtype=bool)
    mask[10] = False
    np.testing.assert_array_equal(after[np.ix_(mask, mask)], before[np.ix_(mask, mask)])
    utrecht.apply_closure("jam", Closure(edges=((0, 1),), factor=1.5))
    assert utrecht.seconds[0, 1] == pytest.approx(1.5 * before[0, 1])
    assert utrecht.seconds[1, 0] == before[1, 0]
    utrecht.lift_closure("flood")
    utrecht.lift_closure("jam")
    np.testing.assert_array_equal(utrecht.seconds, before)


def test_load_region_by_name_and_missing_files(tmp_path: Path) -> None:
    assert load_region("utrecht").n_nodes == 231
    partial = tmp_path / "utrecht"
    partial.mkdir()
    shutil.copy(UTRECHT / "nodes_Utrecht_2021.csv", partial)
    with pytest.raises(DataMissingError, match=r"siren_driving_matrix_2022\.csv"):
        load_region(partial)


def test_inconsistent_matrices_are_refused() -> None:
    with pytest.raises(InputError, match="matrix"):
        MatrixRegion(
            name="bad",
            point_ids=["a", "b"],
            lonlat=np.zeros((2, 2)),
            seconds=np.zeros((3, 3)),
        )
    with pytest.raises(InputError, match="non-negative"):
        MatrixRegion(
            name="bad",
            point_ids=["a", "b"],
            lonlat=np.zeros((2, 2)),
            seconds=np.array([[0.0, -1.0], [1.0, 0.0]]),
        )

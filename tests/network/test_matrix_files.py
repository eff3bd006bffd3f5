"""The matrix-region file reader on tiny hand-written files (the real Utrecht files are read in
test_matrix_region.py): units, coordinates and every refusal of a malformed file.

The RD New (EPSG:28992) origin x 155 000, y 463 000 is by definition the Amersfoort tower,
52.15517440 N 5.38720621 E (ETRS89; the datum shift without the national grid file is good to
about a metre); a point 1 km north is about 0.00899° farther north.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from planner.errors import DataMissingError, InputError, OutsideRegionError
from planner.network.matrix_region import MatrixRegion, load_matrix_region

NODES = "postal code,x,y,inhabitants\n1000,155000,463000,0.25\n2000,155000,464000,0.75\n"
MINUTES = "postal code,1000,2000\n1000,0,1.5\n2000,2,0\n"
KM = "postal code,1000,2000\n1000,0,1.2\n2000,1.3,0\n"


def _write(folder: Path, nodes: str = NODES, minutes: str = MINUTES, km: str = KM) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "nodes_Utrecht_2021.csv").write_text(nodes, encoding="utf-8")
    (folder / "siren_driving_matrix_2022.csv").write_text(minutes, encoding="utf-8")
    (folder / "distance_matrix_2022.csv").write_text(km, encoding="utf-8")
    return folder


def test_tiny_region_in_seconds_metres_and_wgs84(tmp_path: Path) -> None:
    region = load_matrix_region(_write(tmp_path / "tiny"), max_snap_m=800.0)
    assert region.name == "tiny" and region.point_ids == ("1000", "2000")
    np.testing.assert_allclose(region.seconds, [[0.0, 90.0], [120.0, 0.0]])
    route = region.route(1, 0)
    assert (route.seconds, route.metres, route.nodes) == (120.0, 1300.0, (1, 0))
    assert region.route(0, 0).nodes == (0,)
    lon, lat = region.node_lonlat[0]
    assert (lat, lon) == pytest.approx((52.15517440, 5.38720621), abs=1e-5)  # within a metre
    assert region.node_lonlat[1][1] - lat == pytest.approx(0.00899, abs=2e-4)
    np.testing.assert_allclose(region.population, [0.25, 0.75])
    # the snap limit is passed through: 0.0070° south is 778 m away, 0.0074° is 823 m > 800 m
    assert region.snap(lat - 0.0070, lon).node == 0
    with pytest.raises(OutsideRegionError, match="823 m from the nearest node"):
        region.snap(lat - 0.0074, lon)


def test_a_bom_before_the_header_is_read(tmp_path: Path) -> None:
    folder = _write(tmp_path / "bom")
    for name in ("nodes_Utrecht_2021.csv", "siren_driving_matrix_2022.csv"):
        path = folder / name
        path.write_text("\ufeff" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_matrix_region(folder).point_ids == ("1000", "2000")


@pytest.mark.parametrize(
    ("files", "field", "message"),
    [
        ({"nodes": NODES.replace("inhabitants", "people")}, "nodes", "bad nodes file"),
        ({"nodes": NODES.replace("0.75", "many")}, "nodes", "bad nodes file"),
        ({"minutes": MINUTES.replace("1.5", "x")}, "matrix", "non-numeric entry"),
        ({"km": "postal code,2000,1000\n1000,0,1.2\n2000,1.3,0\n"}, "matrix", "in order"),
        ({"km": "postal code,1000,2000\n2000,0,1.2\n1000,1.3,0\n"}, "matrix", "in order"),
        ({"minutes": MINUTES.replace("1.5", "-1")}, "matrix", "non-negative"),
    ],
)
def test_malformed_files_are_refused_naming_the_field(
    tmp_path: Path, files: dict[str, str], field: str, message: str
) -> None:
    folder = _write(tmp_path / "bad", **files)
    with pytest.raises(InputError, match=message) as info:
        load_matrix_region(folder)
    assert info.value.field == field


def test_missing_files_are_listed(tmp_path: Path) -> None:
    folder = _write(tmp_path / "part")
    (folder / "distance_matrix_2022.csv").unlink()
    (folder / "siren_driving_matrix_2022.csv").unlink()
    with pytest.raises(
        DataMissingError, match=r"lacks siren_driving_matrix_2022\.csv, distance_matrix_2022\.csv"
    ) as info:
        load_matrix_region(folder)
    assert info.value.field == "region"
    assert info.value.message.endswith(
        "it needs the ELASPY Utrecht files (see the data README) — set PLANNER_DATA_DIR to the "
        "shared data directory"
    )


def test_matrix_region_without_distances_or_population() -> None:
    """No metres: routes have ``nan`` metres; no population: equal shares; a cut-off pair has an
    infinite route without nodes; NaN times and a wrong-shaped distance matrix are refused."""
    seconds = np.array([[0.0, 60.0, 30.0], [60.0, 0.0, np.inf], [30.0, np.inf, 0.0]])
    lonlat = np.array([[5.0, 52.0], [5.01, 52.0], [5.0, 52.01]])
    region = MatrixRegion(name="m", point_ids=["a", "b", "c"], lonlat=lonlat, seconds=seconds)
    np.testing.assert_allclose(region.population, [1 / 3, 1 / 3, 1 / 3])
    assert math.isnan(region.route(0, 1).metres)
    far = region.route(1, 2)
    assert (far.seconds, far.metres, far.nodes) == (math.inf, math.inf, ())
    assert region.road_segments().shape == (0, 4)
    with pytest.raises(InputError, match="non-negative numbers") as info:
        MatrixRegion(name="m", point_ids=["a"], lonlat=lonlat[:1], seconds=np.array([[np.nan]]))
    assert info.value.field == "matrix"
    assert info.value.message == "travel times must be non-negative numbers"
    with pytest.raises(InputError, match=r"distance matrix must be \(3, 3\)") as info:
        MatrixRegion(
            name="m", point_ids=["a", "b", "c"], lonlat=lonlat, seconds=seconds,
            metres=np.zeros((2, 2)),
        )  # fmt: skip
    assert info.value.field == "metres"
    with pytest.raises(InputError, match=r"3 points need a \(3, 2\) lonlat") as info:
        MatrixRegion(name="m", point_ids=["a", "b", "c"], lonlat=lonlat[:2], seconds=seconds)
    assert info.value.field == "matrix"


def test_the_region_arrays_cannot_be_changed_by_a_caller() -> None:
    """Travel times and demand shares are shared by every caller: they are read-only, so a
    caller writing into what it was given gets an error instead of changing the region."""
    seconds = np.array([[0.0, 60.0], [60.0, 0.0]])
    lonlat = np.array([[5.0, 52.0], [5.01, 52.0]])
    region = MatrixRegion(
        name="m", point_ids=["a", "b"], lonlat=lonlat, seconds=seconds, population=[0.25, 0.75]
    )
    with pytest.raises(ValueError, match="read-only"):
        region.population[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        region.seconds[0, 1] = 1.0
    np.testing.assert_array_equal(region.population, [0.25, 0.75])
    np.testing.assert_array_equal(region.seconds, seconds)

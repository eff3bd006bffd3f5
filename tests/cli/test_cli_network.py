"""The CLI contract: ``planner network build|info``, ``planner eta``, ``planner matrix``."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import osmnx as ox
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.network.osm import RoadArrays, save_arrays
from planner.settings import get_settings

AGUA_OSM = get_settings().data_dir / "osm" / "aguascalientes.drive.osm.bz2"
runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _exit_2(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message
    return message


def _points(path: Path, rows: list[tuple[str, float, float]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "lat", "lon"])
        writer.writerows(rows)
    return path


def test_build_writes_osmnx_graphml_and_info_reads_it(tmp_path: Path) -> None:
    out = tmp_path / "agua.graphml"
    built = json.loads(_ok("network", "build", "--osm", str(AGUA_OSM), "-o", str(out)))
    graph = ox.load_graphml(out)
    assert graph.number_of_nodes() == built["nodes"]
    assert all(d["travel_time"] > 0 for _, _, d in graph.edges(data=True))
    info = json.loads(_ok("network", "info", str(out)))
    assert info["nodes"] == built["nodes"] == 771
    assert info["edges"] == graph.number_of_edges()
    assert info["kind"] == "road" and info["build_seconds"] > 0 and info["built_at"]
    assert info["bbox"]["west"] < info["bbox"]["east"]
    assert json.loads(_ok("network", "info", "utrecht"))["kind"] == "matrix"


def test_build_refuses_bad_arguments(tmp_path: Path) -> None:
    assert "exactly one" in _exit_2("network", "build", "-o", str(tmp_path / "x.graphml"))
    assert ".graphml or .npz" in _exit_2(
        "network", "build", "--osm", str(AGUA_OSM), "-o", str(tmp_path / "x.txt")
    )
    assert "does not exist" in _exit_2(
        "network", "build", "--osm", str(tmp_path / "nope.osm"), "-o", str(tmp_path / "x.npz")
    )
    assert "WEST,SOUTH,EAST,NORTH" in _exit_2(
        "network", "build", "--bbox", "1,2,3", "-o", str(tmp_path / "x.npz")
    )
    assert "west < east" in _exit_2(
        "network", "build", "--bbox", "3,2,1,4", "-o", str(tmp_path / "x.npz")
    )
    assert not list(tmp_path.iterdir())


def test_eta_prints_seconds_metres_and_snap_distances() -> None:
    out = json.loads(
        _ok(
            "eta",
            "--region",
            "aguascalientes",
            "--from",
            "21.87,-102.27",
            "--to",
            "21.875,-102.265",
        )
    )
    assert set(out) == {"seconds", "metres", "from_snap_m", "to_snap_m"}
    assert 0 < out["seconds"] < 600 and 0 < out["metres"] < 5000
    assert 0 <= out["from_snap_m"] < 100 and 0 <= out["to_snap_m"] < 100
    same = json.loads(
        _ok("eta", "--region", str(AGUA_OSM), "--from", "21.87,-102.27", "--to", "21.87,-102.27")
    )
    assert same["seconds"] == 0 and same["metres"] == 0
    utrecht = json.loads(
        _ok("eta", "--region", "utrecht", "--from", "52.09,5.12", "--to", "52.0,5.4")
    )
    assert 600 < utrecht["seconds"] < 3600 and utrecht["metres"] > 10_000


def test_eta_bad_input_exits_2_naming_the_problem(tmp_path: Path) -> None:
    assert "--max-snap-m" in _exit_2(
        *("eta", "--region", "aguascalientes", "--from", "21.87,-102.27"),
        *("--to", "21.87,-102.27", "--max-snap-m", "-5"),
    )
    base = ("eta", "--region", "aguascalientes", "--to", "21.875,-102.265")
    assert "--from" in _exit_2(*base, "--from", "21.87;-102.27")
    assert "latitude" in _exit_2(*base, "--from", "121.87,-102.27")
    assert "m from the nearest node" in _exit_2(*base, "--from", "22.87,-102.27")
    missing = tmp_path / "gone.graphml"
    assert str(missing) in _exit_2(
        "eta", "--region", str(missing), "--from", "21.87,-102.27", "--to", "21.87,-102.27"
    )


def test_matrix_writes_one_row_per_pair_with_empty_unreachable(tmp_path: Path) -> None:
    # A one-way line 0 -> 1 -> 2: going back is impossible.
    arrays = RoadArrays(
        name="line",
        osm_ids=np.array([10, 20, 30]),
        lonlat=np.array([[5.0, 52.0], [5.001, 52.0], [5.002, 52.0]]),
        edge_u=np.array([0, 1]),
        edge_v=np.array([1, 2]),
        edge_seconds=np.array([3.0, 4.0]),
        edge_metres=np.array([68.0, 68.0]),
    )
    save_arrays(arrays, tmp_path / "line.npz")
    origins = _points(tmp_path / "o.csv", [("a", 52.0, 5.0), ("c", 52.0, 5.002)])
    destinations = _points(tmp_path / "d.csv", [("x", 52.0, 5.0), ("z", 52.0, 5.002)])
    out = tmp_path / "m.csv"
    _ok(
        "matrix",
        *("--region", str(tmp_path / "line.npz")),
        *("--origins", str(origins), "--destinations", str(destinations), "--out", str(out)),
    )
    with out.open() as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        ["origin", "destination", "seconds"],
        ["a", "x", "0.000"],
        ["a", "z", "7.000"],
        ["c", "x", ""],
        ["c", "z", "0.000"],
    ]


def test_matrix_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    good = _points(tmp_path / "good.csv", [("u1", 21.87, -102.27)])
    far = _points(tmp_path / "far.csv", [("u1", 21.87, -102.27), ("u2", 23.0, -102.27)])
    bad_row = tmp_path / "bad_row.csv"
    bad_row.write_text("id,lat,lon\nu1,21.87,west\n")
    bad_header = tmp_path / "bad_header.csv"
    bad_header.write_text("name,y,x\nu1,21.87,-102.27\n")
    out = tmp_path / "m.csv"

    def run(origins: Path) -> str:
        return _exit_2(
            *("matrix", "--region", "aguascalientes", "--origins", str(origins)),
            *("--destinations", str(good), "--out", str(out)),
        )

    assert "far.csv:3" in run(far)
    assert "bad_row.csv line 2" in run(bad_row)
    assert "header must be id,lat,lon" in run(bad_header)
    assert "does not exist" in run(tmp_path / "missing.csv")
    twice = _points(tmp_path / "twice.csv", [("X1", 21.87, -102.27), ("X1", 21.88, -102.27)])
    assert run(twice) == f"error: --origins: {twice} line 3: duplicate id 'X1'"
    for bad in ("-5", "0", "nan"):
        assert _exit_2(
            *("matrix", "--region", "aguascalientes", "--origins", str(good)),
            *("--destinations", str(good), "--out", str(out), "--max-snap-m", bad),
        ).startswith("error: --max-snap-m: must be a positive distance")
    assert not out.exists()


def test_console_script_exits_2_with_one_line() -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "planner", "eta", "--region", "aguascalientes"),
            *("--from", "not-a-point", "--to", "21.87,-102.27"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "LAT,LON" in result.stderr


def test_matrix_output_gets_the_mode_of_a_plain_file(tmp_path: Path) -> None:
    arrays = RoadArrays(
        name="pair",
        osm_ids=np.array([10, 20]),
        lonlat=np.array([[5.0, 52.0], [5.001, 52.0]]),
        edge_u=np.array([0]),
        edge_v=np.array([1]),
        edge_seconds=np.array([3.0]),
        edge_metres=np.array([68.0]),
    )
    save_arrays(arrays, tmp_path / "pair.npz")
    points = _points(tmp_path / "p.csv", [("a", 52.0, 5.0)])
    out = tmp_path / "m.csv"
    old = os.umask(0o022)
    try:
        _ok(
            *("matrix", "--region", str(tmp_path / "pair.npz"), "--origins", str(points)),
            *("--destinations", str(points), "--out", str(out)),
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644

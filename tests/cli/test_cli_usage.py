"""The ``planner`` console script: bad input exits 2 with one line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from planner.log.incident_log import IncidentLog
from planner.network.osm import RoadArrays, save_arrays
from planner.settings import get_settings

PLANNER = Path(sys.executable).parent / "planner"
SCENARIOS = Path(__file__).parent.parent / "fixtures" / "scenarios"
AGUA_OSM = get_settings().data_dir / "osm" / "aguascalientes.drive.osm.bz2"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PLANNER), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("solve",), "'problem'"),
        (("solve", "p.json", "--bogus"), "--bogus"),
        (
            ("eta", "--region", "r", "--from", "1,2", "--to", "1,2", "--max-snap-m", "abc"),
            "--max-snap-m",
        ),
        (("simulate", "s.yaml", "-n", "abc"), "--replications"),
        (("no-such-command",), "no-such-command"),
    ],
)
def test_usage_error_is_one_line_exit_2(args: tuple[str, ...], names: str, tmp_path: Path) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert names in lines[0]
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def _line_region(path: Path) -> Path:
    save_arrays(
        RoadArrays(
            name="pair",
            osm_ids=np.array([10, 20]),
            lonlat=np.array([[5.0, 52.0], [5.001, 52.0]]),
            edge_u=np.array([0]),
            edge_v=np.array([1]),
            edge_seconds=np.array([3.0]),
            edge_metres=np.array([68.0]),
        ),
        path,
    )
    return path


def test_unwritable_output_exits_2_naming_the_option(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    problem = inputs / "p.json"
    problem.write_text(
        json.dumps(
            {
                "units": [{"id": "M1", "capabilities": ["ALS"]}],
                "incidents": [
                    {"id": "I1", "priority": 1, "requirements": {"ALS": 1}, "target_s": 480}
                ],
                "travel_times_s": {"M1": {"I1": 300.0}},
            }
        )
    )
    points = inputs / "p.csv"
    points.write_text("id,lat,lon\na,52.0,5.0\n")
    region = _line_region(inputs / "pair.npz")
    log_url = f"sqlite:///{inputs / 'log.sqlite'}"
    with IncidentLog(log_url):
        pass
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    cases = [
        (("solve", str(problem), "-o", str(blocker / "plan.json")), "-o"),
        (
            (
                *("matrix", "--region", str(region), "--origins", str(points)),
                *("--destinations", str(points), "--out", str(blocker / "m.csv")),
            ),
            "--out",
        ),
        (("review", "--db", log_url, "--out", str(blocker / "r.md")), "--out"),
        (("network", "build", "--osm", str(AGUA_OSM), "-o", str(blocker / "r.npz")), "-o"),
        (("simulate", str(SCENARIOS / "tiny.yaml"), "-q", "-o", str(blocker / "sim")), "-o"),
        (
            (
                *("compare", str(SCENARIOS / "tiny.yaml"), str(SCENARIOS / "tiny-whatif.yaml")),
                *("-q", "-o", str(blocker / "cmp")),
            ),
            "-o",
        ),
    ]
    for args, option in cases:
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {option}: cannot write"), lines
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("command", [("simulate",), ("log", "replay"), ("solve",)])
def test_help_shows_flags_without_a_value_type(command: tuple[str, ...], tmp_path: Path) -> None:
    result = run(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "--help " in result.stdout and "Show this message and exit." in result.stdout
    assert "<bool>" not in result.stdout

"""``planner scenario import-jemss``: the published JEMSS layout and the shared flat copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import InputError
from planner.settings import get_settings
from planner.sim.scenario import load_scenario
from planner.sim.simulator import prepare_world, simulate_one

MODEL = Path(__file__).parent.parent / "fixtures" / "jemss" / "models" / "1"
runner = CliRunner()


def _exit_2(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message
    return message


def test_published_layout_imports_every_usable_table_and_simulates(tmp_path: Path) -> None:
    out = tmp_path / "hbg.yaml"
    result = runner.invoke(
        app, ["scenario", "import-jemss", str(MODEL), "-o", str(out), "--region", "harrisburg"]
    )
    assert result.exit_code == 0, result.output
    assert "2 stations, 3 ambulances, 2 hospitals" in result.stdout
    scenario = load_scenario(out)
    assert [s.capacity for s in scenario.stations] == [2, 1]
    assert [h.name for h in scenario.hospitals] == ["West Shore Hospital", "Community Hospital"]
    assert scenario.demand.rate_per_h == 3.0  # Exponential(1/(3*24)) days between calls
    assert [(m.code, m.share) for m in scenario.demand.mix] == [
        ("JEMSS_HIGHPRIORITY", 0.5),
        ("JEMSS_LOWPRIORITY", 0.5),
    ]
    assert scenario.service.dispatch_delay_s.mean == 60.0
    assert scenario.service.on_scene_s.mean == pytest.approx(600.0)
    assert scenario.speeds.priority_factor == {3: 0.75}  # 264 / 352 km/day
    codes = yaml.safe_load((tmp_path / "hbg-codes.yaml").read_text())["codes"]
    assert codes["JEMSS_LOWPRIORITY"]["target_s"] == pytest.approx(630.0, abs=0.1)
    short = scenario.model_copy(update={"duration_h": 3.0})
    result_one = simulate_one(prepare_world(short), policy="closest_idle", replication=0)
    assert result_one.incidents


def test_the_shared_manhattan_copy_imports_too(tmp_path: Path) -> None:
    folder = get_settings().data_dir / "regions" / "manhattan"
    out = tmp_path / "mh.yaml"
    result = runner.invoke(app, ["scenario", "import-jemss", str(folder), "-o", str(out)])
    assert result.exit_code == 0, result.output
    scenario = load_scenario(out)
    assert len(scenario.units) == 12 and scenario.demand.rate_per_h == pytest.approx(18.8)


def test_missing_and_malformed_files_name_the_file_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "model"
    shutil.copytree(MODEL, broken)
    (broken / "hospitals" / "hospitals_1.csv").unlink()
    assert "no hospitals table" in _exit_2("scenario", "import-jemss", str(broken), "-o", "x.yaml")
    shutil.copytree(MODEL / "hospitals", broken / "hospitals", dirs_exist_ok=True)
    stations = broken / "stations" / "stations_1.csv"
    stations.write_text(stations.read_text().replace("-76.8057", "east"))
    message = _exit_2("scenario", "import-jemss", str(broken), "-o", str(tmp_path / "x.yaml"))
    assert "stations_1.csv row 1: x 'east' is not a number" in message
    config = broken / "calls" / "reps" / "test" / "gen_config.xml"
    stations.write_text(stations.read_text().replace("east", "-76.8057"))
    config.write_text(config.read_text().replace("Exponential(1/(3*24))", "Exponential(rate)"))
    message = _exit_2("scenario", "import-jemss", str(broken), "-o", str(tmp_path / "x.yaml"))
    assert "gen_config.xml: interarrivalTime 'rate' is not arithmetic" in message


def test_a_station_off_the_network_is_named_with_its_distance(tmp_path: Path) -> None:
    broken = tmp_path / "model"
    shutil.copytree(MODEL, broken)
    stations = broken / "stations" / "stations_1.csv"
    stations.write_text(stations.read_text().replace("40.2352", "40.1352"))
    message = _exit_2(
        "scenario", "import-jemss", str(broken), "-o", str(tmp_path / "x.yaml"),
        "--region", "harrisburg",
    )  # fmt: skip
    assert "station S2 (Steelton)" in message
    assert " m from the nearest node" in message


def test_station_capacity_is_enforced(tmp_path: Path) -> None:
    runner.invoke(
        app,
        ["scenario", "import-jemss", str(MODEL), "-o", str(tmp_path / "s.yaml"),
         "--region", "harrisburg"],
    )  # fmt: skip
    doc = yaml.safe_load((tmp_path / "s.yaml").read_text())
    doc["units"].append({"id": "A9", "station": "S2", "capabilities": ["ALS"]})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError, match=r"station S2 holds 1 units but 2") as err:
        prepare_world(load_scenario(tmp_path / "s.yaml"))
    assert err.value.field == "stations.S2.capacity"

"""Scenario files: the shipped scenarios load, what-if changes apply, broken files say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.errors import InputError
from planner.settings import SCENARIOS_DIR
from planner.sim.deployment import apply_changes
from planner.sim.scenario import code_table, load_scenario

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"


@pytest.mark.parametrize(
    ("name", "units", "stations"),
    [
        ("utrecht.yaml", 20, 9),
        ("manhattan-ems.yaml", 12, 8),
        ("harrisburg-demo.yaml", 8, 8),
        ("harrisburg-close-station.yaml", 8, 8),
        ("utrecht-busy.yaml", 20, 9),
    ],
)
def test_shipped_scenarios_load(name: str, units: int, stations: int) -> None:
    scenario = load_scenario(SCENARIOS_DIR / name)
    deployment = apply_changes(scenario)
    assert len(deployment.units) == units
    assert len(deployment.stations) == stations
    assert deployment.hospitals
    table = code_table(scenario)
    assert all(m.code in table for m in scenario.demand.mix)


def test_manhattan_uses_the_published_settings() -> None:
    sc = load_scenario(SCENARIOS_DIR / "manhattan-ems.yaml")
    assert sc.demand.rate_per_h == 18.8
    assert [m.share for m in sc.demand.mix] == [0.42, 0.58]
    assert sc.service.dispatch_delay_s.mean == 150
    assert sc.service.on_scene_s.mean == pytest.approx(7.6 * 60)
    assert sc.service.transport_probability == 0.85
    assert sc.service.handover_s.mean == 240
    table = code_table(sc)
    assert table["EMS_HIGH"].target_s == pytest.approx(0.005555556 * 86400, abs=0.5)
    assert table["EMS_LOW"].target_s == pytest.approx(0.007291667 * 86400, abs=0.5)


def test_whatif_merges_base_and_applies_changes() -> None:
    sc = load_scenario(FIXTURES / "tiny-whatif.yaml")
    assert sc.name == "tiny-whatif"
    assert sc.seed == 11
    d = apply_changes(sc)
    assert [u.id for u in d.units] == ["A1", "A2", "X1", "X2"]
    a2 = next(u for u in d.units if u.id == "A2")
    x1 = next(u for u in d.units if u.id == "X1")
    assert d.station_at(a2, 10) is None  # its station is closed all day
    assert d.station_at(x1, 0.5) == "B3582"
    assert d.station_at(x1, 5) is None  # off shift
    assert d.surges[0].factor == 3


def test_night_closure_window_wraps_midnight() -> None:
    sc = load_scenario(SCENARIOS_DIR / "harrisburg-close-station.yaml")
    d = apply_changes(sc)
    a7 = next(u for u in d.units if u.id == "A7")
    assert d.station_at(a7, 23) is None
    assert d.station_at(a7, 3) is None
    assert d.station_at(a7, 12) == "hbg-7"
    assert d.road_closures[0].id == "derry-st"


@pytest.mark.parametrize(
    ("fixture", "field", "message"),
    [
        ("broken-unknown-key.yaml", "demand.colour", "Extra inputs"),
        ("broken-bad-rate.yaml", "demand.rate_per_h", "greater than 0"),
        ("broken-place.yaml", "stations.0", "both lat and lon"),
        ("broken-two-changes.yaml", "changes.0", "exactly one"),
        ("broken-loop.yaml", "base", "loops"),
        ("broken-yaml.yaml", "scenario", "YAML"),
    ],
)
def test_broken_scenarios_name_the_field(fixture: str, field: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        load_scenario(FIXTURES / fixture)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("fixture", "field"),
    [
        ("broken-unknown-station.yaml", "changes.0.close_station.station"),
        ("broken-remove-unknown.yaml", "changes.0.remove_units.1"),
    ],
)
def test_bad_references_are_caught_when_changes_apply(fixture: str, field: str) -> None:
    scenario = load_scenario(FIXTURES / fixture)
    with pytest.raises(InputError) as info:
        apply_changes(scenario)
    assert info.value.field == field


def test_missing_file_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not found"):
        load_scenario(FIXTURES / "nope.yaml")


def test_a_duplicate_key_is_refused_naming_it(tmp_path: Path) -> None:
    text = (FIXTURES / "tiny.yaml").read_text().replace("seed: 11\n", "seed: 7\nseed: 8\n")
    path = tmp_path / "twice.yaml"
    path.write_text(text.replace("../../../scenarios/", f"{SCENARIOS_DIR}/"))
    with pytest.raises(InputError, match="duplicate key 'seed' on line 8, first on line 7") as info:
        load_scenario(path)
    assert info.value.field == "seed"


def test_a_duplicate_nested_key_names_its_path(tmp_path: Path) -> None:
    path = tmp_path / "nested.yaml"
    path.write_text("name: x\ndemand:\n  rate_per_h: 3\n  rate_per_h: 4\n")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert info.value.field == "demand.rate_per_h"

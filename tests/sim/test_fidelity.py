"""Simulator fidelity: service area, demand points, speeds, turnout, warm-up, surges that keep
common random numbers, replay of real logs, and refusing changes that would do nothing."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import shapely
import shapely.geometry

from planner.errors import InputError
from planner.network.loader import load_region
from planner.network.osm import with_class_speeds
from planner.settings import PROJECT_ROOT, get_settings
from planner.sim.demand import Surge, read_log, surge_factor, surge_windows
from planner.sim.scenario import (
    Replay,
    Scenario,
    ServiceArea,
    Speeds,
    SurgeSpec,
    load_scenario,
)
from planner.sim.simulator import generate_calls, prepare_world, simulate_one

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"
SCENARIOS = PROJECT_ROOT / "scenarios"


def _quiet(scenario: Scenario, **update: object) -> Scenario:
    """``tiny`` at a load so low that calls never compete for units."""
    demand = scenario.demand.model_copy(update={"rate_per_h": 0.25})
    service = scenario.service.model_copy(
        update={
            "on_scene_s": scenario.service.on_scene_s.model_copy(
                update={"dist": "constant", "mean": 60.0}
            ),
            "transport_probability": 0.0,
            **update.pop("service", {}),  # type: ignore[dict-item]
        }
    )
    return scenario.model_copy(
        update={"demand": demand, "service": service, "duration_h": 48.0, **update}
    )


# -- service area and demand ------------------------------------------------------------------


def test_manhattan_calls_fall_on_the_island() -> None:
    """Checked independently: the polygon read with plain json + shapely, not the planner."""
    scenario = load_scenario(SCENARIOS / "manhattan-ems.yaml")
    world = prepare_world(scenario)
    doc = json.loads((SCENARIOS / "manhattan-island.geojson").read_text())
    island = shapely.geometry.shape(doc["features"][0]["geometry"])
    lonlat = np.array(
        [world.region.node_lonlat[c.node] for r in range(2) for c in generate_calls(world, r)]
    )
    assert len(lonlat) > 700
    assert shapely.contains_xy(island, lonlat[:, 0], lonlat[:, 1]).mean() >= 0.99
    # The island is ~59 km²: the box around it is far bigger, so clipping really happened.
    assert world.demand_nodes.size < 0.4 * world.region.n_nodes


def test_demand_points_put_weight_on_their_nodes_and_the_area_clips_them(
    tmp_path: Path,
) -> None:
    region = load_region("harrisburg")
    lon, lat = (float(v) for v in region.node_lonlat[100])
    lon2, lat2 = (float(v) for v in region.node_lonlat[2000])
    (tmp_path / "points.csv").write_text(f"lat,lon,weight\n{lat},{lon},3\n{lat2},{lon2},1\n")
    base = load_scenario(SCENARIOS / "harrisburg-demo.yaml")
    spatial = base.demand.spatial.model_copy(
        update={"kind": "points", "points": str(tmp_path / "points.csv")}
    )
    scenario = base.model_copy(
        update={"demand": base.demand.model_copy(update={"spatial": spatial})}
    )
    world = prepare_world(scenario)
    assert dict(zip(world.demand_nodes.tolist(), world.demand_weights.tolist(), strict=True)) == {
        100: pytest.approx(0.75),
        2000: pytest.approx(0.25),
    }
    d = 0.0005
    square = [(lon - d, lat - d), (lon + d, lat - d), (lon + d, lat + d), (lon - d, lat + d)]
    clipped = prepare_world(
        scenario.model_copy(update={"service_area": ServiceArea(polygon=square)})
    )
    assert clipped.demand_nodes.tolist() == [100]


def test_service_area_file_must_exist(tmp_path: Path) -> None:
    text = (FIXTURES / "tiny.yaml").read_text() + "service_area: {file: nowhere.geojson}\n"
    (tmp_path / "s.yaml").write_text(text.replace("../../../scenarios", str(SCENARIOS)))
    with pytest.raises(InputError, match=r"nowhere\.geojson") as err:
        load_scenario(tmp_path / "s.yaml")
    assert err.value.field == "service_area.file"


# -- speeds -----------------------------------------------------------------------------------


def test_class_speeds_set_seconds_from_metres() -> None:
    region = load_region("harrisburg")
    arrays = region.arrays  # type: ignore[attr-defined]
    sped = with_class_speeds(arrays, {"residential": 18.0})
    res = arrays.edge_highway == "residential"
    assert res.any() and (~res).any()
    np.testing.assert_allclose(sped.edge_seconds[res], arrays.edge_metres[res] / 5.0)
    np.testing.assert_array_equal(sped.edge_seconds[~res], arrays.edge_seconds[~res])


def test_manhattan_defaults_to_jemss_lights_and_sirens_speeds() -> None:
    arrays = load_region("manhattan").arrays  # type: ignore[attr-defined]
    primary = arrays.edge_highway == "primary"
    kph = arrays.edge_metres[primary] / arrays.edge_seconds[primary] * 3.6
    np.testing.assert_allclose(kph, 25 * 4 / 3, rtol=1e-9)


def test_speed_factors_by_priority_and_hour() -> None:
    speeds = Speeds(priority_factor={3: 0.75}, hour_factor={8: 0.5})
    assert speeds.factor(priority=3, hour=8) == 0.375
    assert speeds.factor(priority=1, hour=9) == 1.0
    with pytest.raises(ValueError, match="24 values"):
        Speeds(hour_factor=[1.0, 2.0])


def test_turnout_and_priority_speed_change_each_response_by_hand_worked_amounts() -> None:
    tiny = load_scenario(FIXTURES / "tiny.yaml")
    base = _quiet(tiny)
    slow = _quiet(
        tiny, service={"turnout_s": {"ALS": 90.0}}, speeds=Speeds(priority_factor={1: 0.5})
    )
    a = simulate_one(prepare_world(base), policy="closest_idle", replication=0)
    b = simulate_one(prepare_world(slow), policy="closest_idle", replication=0)
    assert len(a.incidents) == len(b.incidents) > 5
    for x, y in zip(a.incidents, b.incidents, strict=True):
        drive = x.arrived_s - x.dispatched_s
        assert y.arrived_s - y.dispatched_s == pytest.approx(90.0 + 2 * drive)


def test_warm_up_calls_are_left_out() -> None:
    tiny = load_scenario(FIXTURES / "tiny.yaml")
    world = prepare_world(tiny.model_copy(update={"warmup_h": 1.0}))
    result = simulate_one(world, policy="closest_idle", replication=0)
    calls = generate_calls(world, 0)
    assert len(result.incidents) == sum(c.t_s >= 3600.0 for c in calls)
    assert min(i.t_call_s for i in result.incidents) >= 3600.0


# -- surges and common random numbers ---------------------------------------------------------


def test_daily_surge_windows_are_clock_hours() -> None:
    spec = SurgeSpec(from_h=8, to_h=10, factor=2.0, daily=True)
    windows = surge_windows([spec], start=datetime(2026, 1, 5, 6), duration_s=30 * 3600.0)
    assert [(w.start_s / 3600, w.end_s / 3600) for w in windows] == [(2.0, 4.0), (26.0, 28.0)]
    f = surge_factor(np.array([0.0, 2.5 * 3600, 26.5 * 3600]), [*windows, Surge(0, 3 * 3600, 3)])
    assert f.tolist() == [3.0, 6.0, 2.0]


def _key(calls: list) -> set[tuple[float, int, str, float]]:  # type: ignore[type-arg]
    return {(c.t_s, c.node, c.code, c.on_scene_s) for c in calls}


def test_a_surge_adds_calls_and_keeps_every_base_call() -> None:
    tiny = load_scenario(FIXTURES / "tiny.yaml").model_copy(update={"duration_h": 24.0})
    whatif = Scenario.model_validate(
        {**tiny.model_dump(), "changes": [{"surge": {"from_h": 6, "to_h": 18, "factor": 2.5}}]}
    )
    base_w, surge_w = prepare_world(tiny), prepare_world(whatif)
    n_base = n_surge = 0
    for r in range(4):
        b, s = generate_calls(base_w, r), generate_calls(surge_w, r)
        assert _key(b) <= _key(s)
        outside = [c for c in s if not 6 * 3600 <= c.t_s < 18 * 3600]
        assert _key(outside) == {k for k in _key(b) if not 6 * 3600 <= k[0] < 18 * 3600}
        n_base += sum(6 * 3600 <= c.t_s < 18 * 3600 for c in b)
        n_surge += sum(6 * 3600 <= c.t_s < 18 * 3600 for c in s)
    assert 2.0 < n_surge / n_base < 3.0


def test_surge_on_replay_changes_the_replayed_arrivals() -> None:
    base = load_scenario(FIXTURES / "tiny-replay.yaml")
    whatif = Scenario.model_validate(
        {**base.model_dump(), "changes": [{"surge": {"from_h": 0, "to_h": 2, "factor": 2.0}}]}
    )
    b = generate_calls(prepare_world(base), 0)
    s = generate_calls(prepare_world(whatif), 0)
    assert _key(b) <= _key(s)
    early_b = sum(c.t_s < 2 * 3600 for c in b)
    early_s = sum(c.t_s < 2 * 3600 - 1800 for c in s)
    assert early_b > 3
    assert early_s > sum(c.t_s < 2 * 3600 - 1800 for c in b)
    assert len(s) > len(b)


def test_a_major_incident_is_one_call_per_casualty() -> None:
    tiny = load_scenario(FIXTURES / "tiny.yaml")
    scenario = Scenario.model_validate(
        {
            **tiny.model_dump(),
            "changes": [
                {"major_incident": {"point": "3582", "at_h": 1, "code": "NL_A1", "casualties": 5}}
            ],
        }
    )
    calls = [c for c in generate_calls(prepare_world(scenario), 0) if c.t_s == 3600.0]
    assert len(calls) == 5
    assert [c.casualties for c in calls].count(5) == 1


# -- replay of real logs ----------------------------------------------------------------------


def test_seattle_log_replays_through_a_column_mapping() -> None:
    replay = Replay(
        file="regions/seattle/dispatch_log_2017-06.tsv.gz",
        start=datetime(2017, 6, 2),
        columns={"time": "timestamp", "type": "incident_type", "lat": None, "lon": None},
        codes={"Aid Response": "EMS_LOW", "Medic Response": "EMS_HIGH"},
    )
    calls = read_log(get_settings().data_dir / replay.file, replay, duration_s=24 * 3600.0)
    assert 100 < len(calls) < 1000
    assert set(calls["code"]) == {"EMS_LOW", "EMS_HIGH"}
    assert calls["t_s"].between(0, 24 * 3600).all()


def test_montgomery_prefix_codes_match_titles() -> None:
    replay = Replay(
        file="incidents/montgomery_county_pa_911_2015-2016.csv.gz",
        start=datetime(2016, 1, 4),
        codes={"EMS:*": "EMS_HIGH"},
    )
    calls = read_log(get_settings().data_dir / replay.file, replay, duration_s=86400.0)
    assert len(calls) > 100
    assert set(calls["code"]) == {"EMS_HIGH"}


# -- changes that would silently do nothing ---------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"surge": {"from_h": 30, "to_h": 31, "factor": 2}}, "changes.0.surge.from_h"),
        (
            {"major_incident": {"point": "3582", "at_h": 4, "code": "NL_A1"}},
            "changes.0.major_incident.at_h",
        ),
        (
            {"road_closure": {"id": "x", "lat": 52, "lon": 5, "radius_m": 5, "from_h": 9}},
            "changes.0.road_closure.from_h",
        ),
    ],
)
def test_changes_after_the_horizon_are_refused(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    import yaml

    doc = yaml.safe_load((FIXTURES / "tiny.yaml").read_text())
    doc["codes"] = str(SCENARIOS / "codes" / "ems-literature.yaml")
    doc["changes"] = [change]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError, match=r"after the 3\.0 h horizon") as err:
        load_scenario(tmp_path / "s.yaml")
    assert err.value.field == field


def test_a_road_closure_nowhere_near_a_road_is_refused() -> None:
    base = load_scenario(SCENARIOS / "harrisburg-demo.yaml")
    scenario = Scenario.model_validate(
        {
            **base.model_dump(),
            "changes": [
                {"road_closure": {"id": "sea", "lat": 40.0, "lon": -70.0, "radius_m": 100}}
            ],
        }
    )
    with pytest.raises(InputError, match=r"'sea'.*touches no road") as err:
        prepare_world(scenario)
    assert err.value.field == "road_closure.sea"


# -- reports ----------------------------------------------------------------------------------


def test_reports_state_assumptions_compliance_changes_and_coordinates(tmp_path: Path) -> None:
    import pandas as pd

    from planner.sim.report import write_comparison_report, write_simulation_report
    from planner.sim.simulator import simulate

    base = load_scenario(FIXTURES / "tiny.yaml")
    whatif = load_scenario(FIXTURES / "tiny-whatif.yaml")
    runs = simulate(base, policies=["closest_idle"], replications=1, workers=1)
    summary = write_simulation_report(base, runs, tmp_path / "one")
    report = (tmp_path / "one" / "report.md").read_text()
    assert "## Assumptions" in report
    assert "Compliance by code" in report
    assert "warning: 1 replication" in report
    assert (tmp_path / "one" / "compliance_by_zone.png").stat().st_size > 0
    saved = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert saved["policies"]["closest_idle"]["by_priority"]["1"]["ci95_fraction_late"] == [
        None,
        None,
    ]
    assert summary["compliance"]["closest_idle"]["NL_A1"]["standard"] == "per_call"
    calls = pd.read_csv(tmp_path / "one" / "incidents.csv")
    world = prepare_world(base)
    for node, lat, lon in calls[["node", "lat", "lon"]].itertuples(index=False):
        assert (lat, lon) == pytest.approx(world.lonlat(int(node)))
    more = simulate(whatif, policies=["closest_idle"], replications=2, workers=1)
    less = simulate(base, policies=["closest_idle"], replications=2, workers=1)
    write_comparison_report(base, whatif, less, more, tmp_path / "cmp")
    comparison = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "## Changes" in comparison and "## Calls" in comparison
    assert "station B3812 closed all day: A2 (ALS); in the base run they served P1:" in comparison
    assert (tmp_path / "cmp" / "differences.png").stat().st_size > 0

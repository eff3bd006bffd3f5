"""Utilisation by hour, hospital turnaround with hand-over queues and diversion, coverage through
the day, weekly rosters and the speed of drives to a base: hand-built calls on the tiny Utrecht
scenario, with expected values worked out from the published travel-time matrix (read here with
pandas, not through the planner)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from planner.settings import get_settings
from planner.sim.deployment import on_shift
from planner.sim.metrics import utilisation_by_hour
from planner.sim.scenario import Hospital, Scenario, Shift, Speeds, load_scenario
from planner.sim.simulator import Call, Simulation, prepare_world, simulate_one
from planner.sim.world import World

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"
FRIDAY = datetime(2026, 1, 9)


@cache
def _minutes() -> pd.DataFrame:
    """The Utrecht siren matrix in minutes, rows from, columns to (postcodes as str)."""
    path = get_settings().data_dir / "regions" / "utrecht" / "siren_driving_matrix_2022.csv"
    m = pd.read_csv(path, index_col=0)
    m.index = m.index.astype(str)
    m.columns = m.columns.astype(str)
    return m


def drive_s(a: str, b: str) -> float:
    return float(_minutes().loc[a, b]) * 60.0


def _tiny(**update: object) -> Scenario:
    return load_scenario(FIXTURES / "tiny.yaml").model_copy(update=update)


def _call(world: World, k: int, t_s: float, point: str, **kw: object) -> Call:
    node = world.region.point_index(point)  # type: ignore[attr-defined]
    fields: dict[str, object] = {
        "delay_s": 60.0,
        "on_scene_s": 600.0,
        "transport": False,
        "handover_s": 0.0,
    }
    fields.update(kw)
    return Call(index=k, t_s=t_s, node=node, code="NL_A1", priority=1, **fields)  # type: ignore[arg-type]


def _run(world: World, calls: list[Call], policy: str = "closest_idle"):  # type: ignore[no-untyped-def]
    return Simulation(world, calls, policy=policy, replication=0).run()


# -- utilisation by hour of day ---------------------------------------------------------------


def test_busy_and_on_duty_time_fall_into_their_clock_hours() -> None:
    world = prepare_world(_tiny())
    # At A1's own station: no drive; ready 1860 s, on scene one hour, free at 5460 s.
    result = _run(world, [_call(world, 0, 1800.0, "3582", on_scene_s=3600.0)])
    units = {u.unit: u for u in result.units}
    assert units["A1"].busy_by_hour[:3] == pytest.approx((1740.0, 1860.0, 0.0))
    assert sum(units["A1"].busy_by_hour) == pytest.approx(units["A1"].busy_s) == 3600.0
    assert sum(units["A2"].busy_by_hour) == 0.0
    for u in units.values():
        assert u.kind == "ALS"
        assert u.on_duty_by_hour[:3] == (3600.0, 3600.0, 3600.0)
        assert sum(u.on_duty_by_hour) == pytest.approx(u.on_duty_s) == 3 * 3600.0
    by_hour = utilisation_by_hour([result])["ALS"]
    assert by_hour["0"]["utilisation"] == pytest.approx(1740.0 / 7200.0, abs=1e-4)
    assert by_hour["1"]["utilisation"] == pytest.approx(1860.0 / 7200.0, abs=1e-4)
    assert by_hour["2"]["utilisation"] == 0.0


# -- hospital hand-over queues and diversion --------------------------------------------------


def _two_transports(bays: int | None) -> list[tuple[str, float, float, float]]:
    world = prepare_world(_tiny(hospitals=[Hospital(id="H3584", point="3584", bays=bays)]))
    calls = [_call(world, k, float(k), "3584", transport=True, handover_s=900.0) for k in range(2)]
    visits = _run(world, calls).hospitals
    return [(v.unit, v.arrived_s, v.handover_start_s, v.left_s) for v in visits]


def test_a_full_hospital_makes_the_next_crew_wait_for_the_bay() -> None:
    """Both calls at the hospital itself: the nearer unit (A1, from 3582) takes call 0 (ready
    at 60 s), A2 from 3812 call 1 (ready at 61 s); each spends 600 s on scene, the transport
    takes no time and the hand-over 900 s."""
    d1, d2 = drive_s("3582", "3584"), drive_s("3812", "3584")
    assert d1 < d2
    a1_at, a2_at = 60.0 + d1 + 600.0, 61.0 + d2 + 600.0
    assert a2_at < a1_at + 900.0  # so the second crew arrives while the bay is taken
    one_bay = _two_transports(bays=1)
    assert one_bay[0] == (
        "A1",
        pytest.approx(a1_at),
        pytest.approx(a1_at),
        pytest.approx(a1_at + 900),
    )
    assert one_bay[1] == (
        "A2",
        pytest.approx(a2_at),
        pytest.approx(a1_at + 900.0),
        pytest.approx(a1_at + 1800.0),
    )
    unlimited = _two_transports(bays=None)
    assert unlimited[1][2:] == (pytest.approx(a2_at), pytest.approx(a2_at + 900.0))
    assert _two_transports(bays=2) == unlimited


def test_hospitals_without_bays_leave_results_unchanged() -> None:
    base = _tiny(duration_h=6.0)
    roomy = base.model_copy(
        update={"hospitals": [h.model_copy(update={"bays": 50}) for h in base.hospitals]}
    )
    a = simulate_one(prepare_world(base), policy="closest_idle", replication=0)
    b = simulate_one(prepare_world(roomy), policy="closest_idle", replication=0)
    assert a.incidents == b.incidents
    assert a.hospitals == b.hospitals and len(a.hospitals) > 0
    assert all(v.wait_s == 0.0 for v in a.hospitals)


def test_a_long_queue_diverts_the_patient_to_the_next_nearest_hospital() -> None:
    """Three crews take patients from beside H3584 (one bay, hand-over 1 h): the first takes
    the bay, the second queues, the third sees a queue of 1 (the threshold) and drives on to
    H3812."""
    scenario = _tiny(
        hospitals=[
            Hospital(id="H3584", point="3584", bays=1),
            Hospital(id="H3812", point="3812"),
        ],
    )
    scenario = Scenario.model_validate(
        {
            **scenario.model_dump(),
            "units": [
                {"id": "A1", "station": "B3582", "capabilities": ["ALS"]},
                {"id": "A2", "station": "B3812", "capabilities": ["ALS"]},
                {"id": "A3", "station": "B3582", "capabilities": ["ALS"]},
            ],
            "service": {**scenario.service.model_dump(), "divert_at_queue": 1},
        }
    )
    world = prepare_world(scenario)
    calls = [_call(world, k, float(k), "3584", transport=True, handover_s=3600.0) for k in range(3)]
    result = _run(world, calls)
    cleared = sorted(result.incidents, key=lambda i: i.arrived_s)
    last = cleared[-1]
    diverted = [v for v in result.hospitals if v.diverted]
    assert len(diverted) == 1
    assert diverted[0].hospital == "H3812"
    assert diverted[0].call == last.call
    assert diverted[0].arrived_s == pytest.approx(last.arrived_s + 600.0 + drive_s("3584", "3812"))
    assert diverted[0].wait_s == 0.0
    at_h1 = sorted(
        (v for v in result.hospitals if v.hospital == "H3584"), key=lambda v: v.arrived_s
    )
    assert [v.wait_s > 0 for v in at_h1] == [False, True]


# -- coverage through the day -----------------------------------------------------------------


def _covered_share(stations: list[str], budget_s: float) -> float:
    """Population share of the Utrecht points within ``budget_s`` of one of ``stations``."""
    nodes = pd.read_csv(get_settings().data_dir / "regions" / "utrecht" / "nodes_Utrecht_2021.csv")
    nodes["postal code"] = nodes["postal code"].astype(str)
    m = _minutes() * 60.0
    reach = m.loc[stations, nodes["postal code"]].min(axis=0).to_numpy()
    weights = nodes["inhabitants"].to_numpy()
    return float(weights[reach <= budget_s].sum() / weights.sum())


def test_coverage_at_the_start_is_the_population_within_the_cover_time() -> None:
    """At 00:00 both units wait at their stations: covered = the population within 900 s
    (NL_A1's target) less the 60 s dispatcher delay; at half speed (hour factor 0.5 at
    midnight) only within 420 s of driving."""
    expected = _covered_share(["3582", "3812"], 840.0)
    world = prepare_world(_tiny())
    first = _run(world, []).coverage[0]
    assert (first.t_s, first.hour, first.free_units) == (0.0, 0, 2)
    assert first.fraction == pytest.approx(expected, abs=1e-9)
    slow = prepare_world(_tiny(speeds=Speeds(hour_factor={0: 0.5})))
    at_half = _run(slow, []).coverage
    assert at_half[0].fraction == pytest.approx(_covered_share(["3582", "3812"], 420.0), abs=1e-9)
    assert at_half[1].fraction == pytest.approx(expected, abs=1e-9)  # 01:00, full speed
    assert [c.hour for c in at_half] == [0, 1, 2]


def test_reports_show_utilisation_by_hour_turnaround_and_coverage(tmp_path: Path) -> None:
    from planner.sim.report import write_simulation_report
    from planner.sim.simulator import simulate

    scenario = _tiny(hospitals=[Hospital(id="H3584", point="3584", bays=1)])
    runs = simulate(scenario, policies=["closest_idle"], replications=2, workers=1)
    summary = write_simulation_report(scenario, runs, tmp_path)
    report = (tmp_path / "report.md").read_text()
    for heading in (
        "Utilisation by hour of day",
        "Hospital turnaround",
        "Coverage through the day",
    ):
        assert f"## {heading}" in report
    for png in ("utilisation_by_hour", "hospital_turnaround", "coverage_by_hour", "coverage_map"):
        assert (tmp_path / f"{png}.png").stat().st_size > 0
    doc = summary["policies"]["closest_idle"]
    visits = pd.read_csv(tmp_path / "hospitals.csv")
    assert doc["hospital_turnaround"]["H3584"]["visits"] == len(visits) > 0
    assert doc["hospital_turnaround"]["H3584"]["mean_turnaround_s"] == pytest.approx(
        visits["turnaround_s"].mean(), abs=0.1
    )
    assert set(doc["coverage_by_hour"]) == {"0", "1", "2"}


# -- weekly rosters ---------------------------------------------------------------------------


def test_weekly_shifts_start_on_their_days_and_run_past_midnight() -> None:
    day = Shift(start_h=8, end_h=20, days=["fri"])
    night = Shift(start_h=20, end_h=8, days=["fri"])
    fri, sat = 4, 5
    assert on_shift(day, 10, fri) and not on_shift(day, 10, sat) and not on_shift(day, 20, fri)
    assert on_shift(night, 23, fri) and on_shift(night, 3, sat)
    assert not on_shift(night, 3, fri) and not on_shift(night, 23, sat)
    assert on_shift(Shift(start_h=20, end_h=8), 3, fri)  # no days: every day


def test_a_weekly_roster_puts_units_on_duty_only_on_their_days() -> None:
    """Friday 00:00 for 48 h: A1 works Friday 08–20, A2 the Friday night 20–08."""
    scenario = Scenario.model_validate(
        {
            **_tiny().model_dump(),
            "start": FRIDAY,
            "duration_h": 48.0,
            "units": [
                {"id": "A1", "station": "B3582", "capabilities": ["ALS"],
                 "shifts": [{"start_h": 8, "end_h": 20, "days": ["fri"]}]},
                {"id": "A2", "station": "B3812", "capabilities": ["ALS"],
                 "shifts": [{"start_h": 20, "end_h": 8, "days": ["fri"]}]},
            ],
        }
    )  # fmt: skip
    units = {u.unit: u for u in _run(prepare_world(scenario), []).units}
    assert units["A1"].on_duty_s == units["A2"].on_duty_s == 12 * 3600.0
    assert [h for h in range(24) if units["A1"].on_duty_by_hour[h]] == list(range(8, 20))
    assert [h for h in range(24) if units["A2"].on_duty_by_hour[h]] == [*range(8), *range(20, 24)]


def test_an_unknown_weekday_is_refused() -> None:
    with pytest.raises(ValueError, match="days"):
        Shift(start_h=8, end_h=20, days=["friday"])  # type: ignore[list-item]


# -- drives to a base use the hour's speed ----------------------------------------------------


def test_drives_to_a_base_take_the_hour_factor() -> None:
    """Relocation, move-up and return drives all go through one speed model: at 00:00 with
    hour factor 0.5 the drive from B3582 to B3812 takes twice the matrix time."""
    world = prepare_world(_tiny(speeds=Speeds(hour_factor={0: 0.5})))
    sim = Simulation(world, [], policy="closest_idle+dmexclp", replication=0)
    sim._setup()
    node = world.station_node["B3582"]
    raw = drive_s("3582", "3812")
    assert sim._drive_to_base_s(node, "B3812") == pytest.approx(2 * raw)
    sim._send("A1", "B3812", freed=False)
    home = [t for t, _, kind, args in sim.heap if kind == "home" and args[0] == "A1"]
    assert home == [pytest.approx(2 * raw)]
    sim.now = 3600.0
    assert sim._drive_to_base_s(node, "B3812") == pytest.approx(raw)


def test_imported_hospitals_take_the_import_bays_and_the_report_says_so() -> None:
    from planner.settings import PROJECT_ROOT
    from planner.sim.deployment import apply_changes
    from planner.sim.report import assumptions

    scenario = load_scenario(PROJECT_ROOT / "scenarios" / "manhattan-ems.yaml")
    imports = [s.model_copy(update={"hospital_bays": 2}) for s in scenario.imports]
    service = scenario.service.model_copy(update={"divert_at_queue": 3})
    bayed = scenario.model_copy(update={"imports": imports, "service": service})
    hospitals = apply_changes(bayed).hospitals
    assert len(hospitals) > 5 and {h.bays for h in hospitals} == {2}
    text = " ".join(assumptions(bayed))
    assert "imported (jemss) 2" in text and "3 or more crews queue" in text
    assert "no bay limits" in " ".join(assumptions(scenario))

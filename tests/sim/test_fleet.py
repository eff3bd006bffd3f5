"""Fleet files: the Harrisburg fleet is valid and on the map; bad files name the field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from planner.centre.codes import CodeTable
from planner.errors import InputError
from planner.network.loader import load_region
from planner.settings import SCENARIOS_DIR
from planner.sim.fleet import load_fleet

HARRISBURG_FLEET = SCENARIOS_DIR / "harrisburg" / "fleet.yaml"


def test_harrisburg_fleet_is_on_the_road_network_with_known_capabilities() -> None:
    fleet = load_fleet(HARRISBURG_FLEET)
    region = load_region("harrisburg")
    for station in fleet.stations:
        assert region.snap(station.lat, station.lon, max_snap_m=500).distance_m <= 500
    capabilities = {c for u in fleet.units for c in u.capabilities}
    assert capabilities <= CodeTable.load().capabilities
    assert {"ALS", "BLS", "ENGINE", "LADDER", "POLICE", "GAS_CREW"} <= capabilities
    events = fleet.registration_events(at=datetime(2026, 3, 14, tzinfo=UTC))
    assert [e.unit_id for e in events] == [u.id for u in fleet.units]
    assert events[0].home.lat == fleet.stations[0].lat


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("stations: []\nunits: [{id: M1, capabilities: [ALS], station: nowhere}]", "fleet"),
        ("stations: [{id: s, name: S, lat: 95, lon: 0}]\nunits: []", "stations.0.lat"),
        ("stations: []\nunits: [{id: M1, capabilities: [], station: s}]", "units.0.capabilities"),
        ("stations: [\n", "fleet"),
        ("stations: []\nunits: []\nunits: []\n", "units"),
    ],
)
def test_bad_fleet_files_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_fleet(path)
    assert info.value.field == field

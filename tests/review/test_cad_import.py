"""External CAD exports imported into review-only logs and reviewed with the same report."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.review.cad_import import import_cad, load_mapping, seattle_mapping
from planner.review.performance import build_review, review_markdown
from planner.settings import get_settings

SEATTLE = get_settings().data_dir / "regions" / "seattle"

CAD = """\
call_no,nature,unit,received,answered,entered,dispatched,enroute,onscene,cleared,ct,disp,lat,lon
24-001,Chest pain,M7,2024-05-02 08:00:00,2024-05-02 08:00:12,2024-05-02 08:01:12,\
2024-05-02 08:01:42,2024-05-02 08:02:42,2024-05-02 08:09:42,2024-05-02 08:39:42,ann,dee,\
52.09,5.12
24-001,Chest pain,E3,2024-05-02 08:00:00,2024-05-02 08:00:12,2024-05-02 08:01:12,\
2024-05-02 08:02:12,2024-05-02 08:04:12,,2024-05-02 08:20:00,ann,dee,52.09,5.12
24-002,Fall,A1,2024-05-02 09:00:00,2024-05-02 09:00:30,2024-05-02 09:02:30,\
2024-05-02 09:05:30,,,,ann,eve,52.10,5.11
"""

MAPPING = """\
time_zone: Europe/Amsterdam
columns:
  incident: call_no
  type: nature
  units: unit
  received: received
  answered: answered
  opened: entered
  dispatched: dispatched
  en_route: enroute
  arrived: onscene
  cleared: cleared
  calltaker: ct
  dispatcher: disp
  lat: lat
  lon: lon
"""


@pytest.fixture
def mapped(tmp_path: Path) -> str:
    (tmp_path / "cad.csv").write_text(CAD)
    (tmp_path / "map.yaml").write_text(MAPPING)
    url = f"sqlite:///{tmp_path / 'review.sqlite'}"
    summary = import_cad(tmp_path / "cad.csv", url, load_mapping(tmp_path / "map.yaml"))
    assert (summary.rows, summary.incidents) == (3, 2)
    return url


def test_a_mapped_export_is_split_into_owned_segments(mapped: str) -> None:
    review = build_review(mapped, tz="Europe/Amsterdam")
    assert review["imported"] == {
        "source_times": sorted(
            ["received", "answered", "opened", "dispatched", "en_route", "arrived", "cleared"]
        )
    }
    ann = review["dispatchers"]["ann"]
    # Answered 12 s and 30 s after the call; handled 60 s and 120 s after answering.
    assert (ann["answer"]["mean_s"], ann["call_handling"]["mean_s"]) == (21.0, 90.0)
    assert ann["contacts_handled"] == 2 and ann["dispatches"] == 0
    # dee: entered 08:01:12, first unit 08:01:42; eve: 09:02:30 → 09:05:30.
    assert review["dispatchers"]["dee"]["dispatch"]["mean_s"] == 30.0
    assert review["dispatchers"]["eve"]["dispatch"]["mean_s"] == 180.0
    units = review["units"]
    assert units["M7"]["turnout"]["mean_s"] == 60.0
    assert units["M7"]["travel"]["mean_s"] == 420.0
    assert units["M7"]["on_scene"]["mean_s"] == 1800.0
    assert units["E3"]["travel"]["n"] == 0  # never arrived
    assert review["incidents"]["24-001"]["response_s"] == 582.0  # 08:00:00 → 08:09:42
    (missing,) = review["incidents_without_arrival"]
    assert missing["incident"] == "24-002" and "sent A1, acknowledged none" in missing["why"]
    assert review["period"]["first_event"] == "2024-05-02T08:00:00+02:00"
    assert review["refused_events"] == 0
    assert "Imported, review-only log" in review_markdown(review)


def test_the_seattle_log_imports_and_reviews(tmp_path: Path) -> None:
    lines = gzip.decompress((SEATTLE / "dispatch_log_2017-06.tsv.gz").read_bytes()).splitlines()
    sample = tmp_path / "seattle.tsv"
    sample.write_bytes(b"\n".join(lines[:301]) + b"\n")
    url = f"sqlite:///{tmp_path / 'seattle.sqlite'}"
    summary = import_cad(sample, url, seattle_mapping(SEATTLE))
    assert summary.rows == 300 and summary.source_times == ("dispatched",)
    review = build_review(url, tz="America/Los_Angeles")
    # One time per row: no segment can be measured, none is read as zero.
    assert all(st["n"] == 0 for st in review["centre"]["segments"].values())
    assert review["centre"]["incidents"] == summary.incidents
    assert sum(u["dispatches"] for u in review["units"].values()) == sum(
        len(line.split(b"\t")[3].split()) for line in lines[1:301]
    )
    # F170054023: "6/1/2017 11:43:36 PM" Pacific time.
    opened = review["incidents"]["F170054023"]["timeline"][0]
    assert opened["at"] == "2017-06-01T23:43:36-07:00" and opened["code"] == "CAR_FIRE"
    why = {i["why"] for i in review["incidents_without_arrival"]}
    assert why == {"the imported source gives no arrival times"}
    text = review_markdown(review, timelines=2)
    assert f"- {summary.incidents} incidents: the imported source gives no arrival times" in text
    assert f"The first 2 of {summary.incidents} incidents (all in JSON)." in text


def test_a_bad_mapping_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("columns:\n  incident: a\n  type: b\n  units: c\n")
    with pytest.raises(InputError, match="required column missing") as info:
        load_mapping(path)
    assert info.value.field == "mapping.columns.dispatched"
    path.write_text("columns: {incident: a, type: b, units: c, dispatched: d, speed: e}\n")
    with pytest.raises(InputError) as info:
        load_mapping(path)
    assert info.value.field == "mapping.columns.speed"


def test_an_import_refuses_a_log_that_is_not_empty(mapped: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="new, empty log") as info:
        import_cad(tmp_path / "cad.csv", mapped, load_mapping(tmp_path / "map.yaml"))
    assert info.value.field == "--db"

"""The fleet of a scenario once its data is imported and its ``changes`` applied.

Stations, units and hospitals come from published data (JEMSS tables for Manhattan, the ELASPY
allocation for Utrecht, the project's fleet files) and the scenario's own lists; then each
change is applied in order, with errors that name the change's field.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from planner.errors import DataMissingError, InputError
from planner.settings import get_settings
from planner.sim.scenario import (
    WEEKDAYS,
    Change,
    CloseStation,
    Hospital,
    Import,
    MajorIncident,
    RoadClosure,
    Scenario,
    SetShifts,
    Shift,
    Station,
    SurgeSpec,
    UnitSpec,
)

# --------------------------------------------------------------------------------------------
# Published data imports


def imported_fleet(
    scenario: Scenario,
) -> tuple[list[Station], list[UnitSpec], list[Hospital]]:
    """Stations, units and hospitals of the scenario: imported ones first, then inline ones."""
    stations: list[Station] = []
    units: list[UnitSpec] = []
    hospitals: list[Hospital] = []
    for i, spec in enumerate(scenario.imports):
        if spec.format == "jemss":
            s, u, h = _import_jemss(spec, field=f"imports.{i}")
        elif spec.format == "fleet":
            s, u, h = _import_fleet(spec, field=f"imports.{i}")
        else:
            s, u, h = _import_elaspy(spec, field=f"imports.{i}")
        stations += s
        units += u
        hospitals += h
    return (
        stations + list(scenario.stations),
        units + list(scenario.units),
        hospitals + list(scenario.hospitals),
    )


def _data_file(rel: str | None, *, field: str) -> Path:
    if rel is None:
        raise InputError("missing file name", field=field)
    path = get_settings().data_dir / rel
    if not path.exists():
        raise DataMissingError(
            f"{path} not found; set PLANNER_DATA_DIR to the shared data folder", field=field
        )
    return path


def _csv_rows(path: Path, *, skip: int) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        lines = fh.read().splitlines()[skip:]
    return list(csv.DictReader(lines))


def _import_jemss(
    spec: Import, *, field: str
) -> tuple[list[Station], list[UnitSpec], list[Hospital]]:
    """Stations (with capacity), ambulances and hospitals (with names) of a JEMSS folder."""
    from planner.sim.jemss import read_jemss

    model = read_jemss(_data_file(spec.dir, field=f"{field}.dir"))
    stations = [
        Station(id=f"S{s.index}", name=s.name, lat=s.lat, lon=s.lon, capacity=s.capacity)
        for s in model.stations
    ]
    units = [
        UnitSpec(id=f"A{a.index}", station=f"S{a.station}", capabilities=spec.capabilities)
        for a in model.ambulances
    ]
    hospitals = [
        Hospital(id=f"H{h.index}", name=h.name, lat=h.lat, lon=h.lon, bays=spec.hospital_bays)
        for h in model.hospitals
    ]
    return stations, units, hospitals


def _import_fleet(
    spec: Import, *, field: str
) -> tuple[list[Station], list[UnitSpec], list[Hospital]]:
    from planner.sim.fleet import load_fleet

    if spec.file is None:
        raise InputError("a fleet import needs a file", field=f"{field}.file")
    fleet = load_fleet(Path(spec.file))
    keep = set(spec.only or [])
    units = [
        UnitSpec(id=u.id, station=u.station, capabilities=list(u.capabilities))
        for u in fleet.units
        if not keep or keep & set(u.capabilities)
    ]
    used = {u.station for u in units}
    stations = [
        Station(id=s.id, name=s.name, lat=s.lat, lon=s.lon) for s in fleet.stations if s.id in used
    ]
    return stations, units, []


def _import_elaspy(
    spec: Import, *, field: str
) -> tuple[list[Station], list[UnitSpec], list[Hospital]]:
    """ELASPY allocation: one row per ambulance with its base postcode."""
    rows = _csv_rows(_data_file(spec.allocation, field=f"{field}.allocation"), skip=0)
    bases = sorted({r["Base"] for r in rows})
    stations = [Station(id=f"B{b}", point=b) for b in bases]
    units = [
        UnitSpec(id=f"A{r['Ambulance']}", station=f"B{r['Base']}", capabilities=spec.capabilities)
        for r in rows
    ]
    hospitals = []
    if spec.hospitals is not None:
        h_rows = _csv_rows(_data_file(spec.hospitals, field=f"{field}.hospitals"), skip=0)
        hospitals = [
            Hospital(id=f"H{r['Hospital']}", point=r["Hospital"], bays=spec.hospital_bays)
            for r in h_rows
        ]
    return stations, units, hospitals


# --------------------------------------------------------------------------------------------
# Changes applied


@dataclass(frozen=True, slots=True)
class Deployment:
    """The fleet and timed events of a scenario once its ``changes`` are applied."""

    stations: dict[str, Station]
    units: list[UnitSpec]
    """One entry per unit (``count`` expanded), with the shifts after ``set_shifts``."""
    hospitals: list[Hospital]
    station_closures: list[CloseStation]
    road_closures: list[RoadClosure]
    surges: list[SurgeSpec]
    major_incidents: list[MajorIncident]

    def station_at(self, unit: UnitSpec, hour: float, weekday: int | None = None) -> str | None:
        """Where ``unit`` is based at ``hour`` of the day (of ``weekday``, Monday 0, for weekly
        rosters); ``None``: off duty."""
        if unit.shifts and not any(on_shift(s, hour, weekday) for s in unit.shifts):
            return None
        station = unit.station
        for closure in self.station_closures:
            if closure.station != station:
                continue
            if (
                closure.from_h is None
                or closure.to_h is None
                or in_window(hour, closure.from_h, closure.to_h)
            ):
                if closure.relocate_to is None:
                    return None
                station = closure.relocate_to
        return station

    def open_stations(self, hour: float) -> list[str]:
        """Stations not closed at ``hour`` of the day, sorted: the bases move-up may use."""
        closed = {
            c.station
            for c in self.station_closures
            if c.from_h is None or c.to_h is None or in_window(hour, c.from_h, c.to_h)
        }
        return sorted(s for s in self.stations if s not in closed)


def in_window(hour: float, start: float, end: float) -> bool:
    """Whether ``hour`` (of the day) falls in the daily window ``start``–``end`` (wrapping)."""
    hour %= 24.0
    if start == end:
        return True
    return start <= hour < end if start < end else hour >= start or hour < end


def on_shift(shift: Shift, hour: float, weekday: int | None) -> bool:
    """Whether ``shift`` is on at ``hour`` of ``weekday`` (Monday 0). A shift with ``days``
    starts only on those days and runs to ``end_h`` (the next day when it wraps); without
    ``days`` it is a daily window (``weekday`` is then not needed)."""
    if shift.days is None:
        return in_window(hour, shift.start_h, shift.end_h)
    if weekday is None:
        raise ValueError("a weekly shift needs the weekday")
    days = {WEEKDAYS.index(d) for d in shift.days}
    hour %= 24.0
    if shift.start_h < shift.end_h:
        return weekday in days and shift.start_h <= hour < shift.end_h
    started_today = weekday in days and hour >= shift.start_h
    started_yesterday = (weekday - 1) % 7 in days and hour < shift.end_h
    return started_today or started_yesterday


def apply_changes(scenario: Scenario) -> Deployment:
    """Expand units and apply every change in order; errors name the change's field."""
    stations, unit_specs, hospitals = imported_fleet(scenario)
    draft = _Draft({s.id: s for s in stations}, [u for spec in unit_specs for u in _expand(spec)])
    for i, change in enumerate(scenario.changes):
        draft.apply(change, field=f"changes.{i}")
    _check_fleet(draft.stations, draft.units)
    return Deployment(
        draft.stations,
        draft.units,
        hospitals,
        draft.closures,
        draft.roads,
        draft.surges,
        draft.majors,
    )


@dataclass(slots=True)
class _Draft:
    """The fleet while the changes are applied, one at a time, each checked on its own."""

    stations: dict[str, Station]
    units: list[UnitSpec]
    closures: list[CloseStation] = dataclasses.field(default_factory=list)
    roads: list[RoadClosure] = dataclasses.field(default_factory=list)
    surges: list[SurgeSpec] = dataclasses.field(default_factory=list)
    majors: list[MajorIncident] = dataclasses.field(default_factory=list)

    def apply(self, change: Change, *, field: str) -> None:
        """The change's one kind (the scenario model allows exactly one per change)."""
        if change.close_station is not None:
            self.close_station(change.close_station, field=f"{field}.close_station")
        elif change.open_station is not None:
            self.open_station(change.open_station, field=f"{field}.open_station.id")
        elif change.add_units is not None:
            self.add_units(change.add_units, field=f"{field}.add_units")
        elif change.remove_units is not None:
            self.remove_units(change.remove_units, field=f"{field}.remove_units")
        elif change.set_shifts is not None:
            self.set_shifts(change.set_shifts, field=f"{field}.set_shifts.units")
        elif change.road_closure is not None:
            self.roads.append(change.road_closure)
        elif change.surge is not None:
            self.surges.append(change.surge)
        elif change.major_incident is not None:
            self.majors.append(change.major_incident)

    def close_station(self, closure: CloseStation, *, field: str) -> None:
        _need_station(self.stations, closure.station, field=f"{field}.station")
        if closure.relocate_to is not None:
            _need_station(self.stations, closure.relocate_to, field=f"{field}.relocate_to")
        self.closures.append(closure)

    def open_station(self, station: Station, *, field: str) -> None:
        if station.id in self.stations:
            raise InputError(f"station {station.id!r} already exists", field=field)
        self.stations[station.id] = station

    def add_units(self, specs: list[UnitSpec], *, field: str) -> None:
        for j, spec in enumerate(specs):
            _need_station(self.stations, spec.station, field=f"{field}.{j}.station")
            self.units += _expand(spec)

    def remove_units(self, ids: list[str], *, field: str) -> None:
        gone = self._known(ids, field=field)
        self.units = [u for u in self.units if u.id not in gone]

    def set_shifts(self, change: SetShifts, *, field: str) -> None:
        chosen = self._known(change.units, field=field)
        self.units = [
            u.model_copy(update={"shifts": change.shifts}) if u.id in chosen else u
            for u in self.units
        ]

    def _known(self, ids: list[str], *, field: str) -> set[str]:
        """``ids`` as a set, once each is known to be a unit of the fleet as it is now."""
        known = {u.id for u in self.units}
        for j, uid in enumerate(ids):
            if uid not in known:
                raise InputError(f"unknown unit {uid!r}", field=f"{field}.{j}")
        return set(ids)


def _check_fleet(stations: dict[str, Station], units: list[UnitSpec]) -> None:
    """The fleet after all changes: unique ids, known stations within capacity, not empty."""
    ids = [u.id for u in units]
    duplicates = sorted({x for x in ids if ids.count(x) > 1 and x is not None})
    if duplicates:
        raise InputError(f"duplicate unit ids: {', '.join(duplicates)}", field="units")
    for j, unit in enumerate(units):
        _need_station(stations, unit.station, field=f"units.{j}.station")
    for sid, station in stations.items():
        based = sum(1 for u in units if u.station == sid)
        if station.capacity is not None and based > station.capacity:
            raise InputError(
                f"station {sid} holds {station.capacity} units but {based} are based there",
                field=f"stations.{sid}.capacity",
            )
    if not units:
        raise InputError("the scenario has no units", field="units")


def _expand(spec: UnitSpec) -> list[UnitSpec]:
    if spec.count is None:
        return [spec]
    return [
        spec.model_copy(update={"id": f"{spec.prefix}{k}", "count": None, "prefix": None})
        for k in range(1, spec.count + 1)
    ]


def _need_station(stations: dict[str, Station], station: str, *, field: str) -> None:
    if station not in stations:
        raise InputError(f"unknown station {station!r}", field=field)

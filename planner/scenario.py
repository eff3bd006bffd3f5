"""Simulation scenarios: a validated YAML description of a region, a fleet, demand and changes.

A scenario names its region and shared data through ``get_settings().data_dir`` (never copies).
A what-if scenario starts from ``base: other.yaml`` and lists ``changes``: close or open a
station, add or remove units, change shifts, road closures, a demand surge, a major incident.
Every key is checked (unknown keys are refused) and errors name the offending field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.codes import DEFAULT_CODES_PATH, CodeTable
from planner.engine_config import SolverConfig
from planner.errors import DataMissingError, InputError
from planner.settings import get_settings

Hours = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Place(_Model):
    """A location: ``lat``/``lon``, or ``point`` (a matrix region's point id, e.g. a postcode)."""

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    point: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Place:
        has_ll = self.lat is not None and self.lon is not None
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon")
        if has_ll == (self.point is not None):
            raise ValueError("give either lat+lon or point")
        return self


class Station(Place):
    id: str = Field(min_length=1)
    name: str | None = None


class Hospital(Place):
    id: str = Field(min_length=1)
    name: str | None = None


class Shift(_Model):
    """Daily on-duty hours; ``end_h < start_h`` wraps past midnight (e.g. 20 → 8)."""

    start_h: float = Field(ge=0, le=24)
    end_h: float = Field(ge=0, le=24)


class UnitSpec(_Model):
    """One unit (``id``) or ``count`` units named ``prefix1..prefixN`` at a station."""

    id: str | None = None
    count: int | None = Field(default=None, ge=1)
    prefix: str | None = None
    station: str
    capabilities: list[str] = Field(min_length=1)
    shifts: list[Shift] = Field(default_factory=list)
    """Empty: on duty around the clock."""

    @model_validator(mode="after")
    def _named(self) -> UnitSpec:
        if (self.id is None) == (self.count is None):
            raise ValueError("give either id or count (+ prefix)")
        if self.count is not None and not self.prefix:
            raise ValueError("count needs a prefix for the unit ids")
        return self


class Import(_Model):
    """Stations, units and hospitals read from published data (relative to the data dir).

    ``jemss``: ``dir`` with JEMSS ``stations.csv``, ``ambulances.csv``, ``hospitals.csv``.
    ``elaspy``: ``allocation`` (ambulance → base postcode) and ``hospitals`` (postcodes).
    ``fleet``: ``file``, the stations and units of a project fleet file (``only`` filters).
    """

    format: Literal["jemss", "elaspy", "fleet"]
    dir: str | None = None
    file: str | None = None
    """``fleet``: a project fleet YAML (``planner.fleet``), relative to the scenario file."""
    only: list[str] | None = None
    """``fleet``: keep only units with one of these capabilities."""
    allocation: str | None = None
    hospitals: str | None = None
    capabilities: list[str] = Field(default_factory=lambda: ["ALS"], min_length=1)


class Distribution(_Model):
    """A duration in seconds: ``constant`` (mean), ``exponential`` (mean), ``lognormal``."""

    dist: Literal["constant", "exponential", "lognormal"]
    mean: float = Field(ge=0)
    sd: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _sd(self) -> Distribution:
        if (self.dist == "lognormal") != (self.sd is not None):
            raise ValueError("sd is required for lognormal and only allowed there")
        return self


class Service(_Model):
    """What happens after a call: dispatcher delay, time on scene, transport, hand-over."""

    dispatch_delay_s: Distribution = Distribution(dist="constant", mean=60.0)
    on_scene_s: Distribution = Distribution(dist="exponential", mean=900.0)
    transport_probability: float = Field(default=0.7, ge=0, le=1)
    handover_s: Distribution = Distribution(dist="exponential", mean=900.0)
    return_to: Literal["station", "where_they_are"] = "station"


class MixEntry(_Model):
    code: str
    share: Positive
    priority: int | None = Field(default=None, ge=1, le=5)
    """Simulated priority; default: the code's default priority."""


class Replay(_Model):
    """Replay the timestamps and types of a real call log (Montgomery County format)."""

    file: str
    start: datetime
    """First moment of the log to replay; it maps to the scenario's ``start``."""
    services: dict[str, str] = Field(min_length=1)
    """Log service (``EMS``, ``Fire``, ``Traffic``) → code; other services are skipped."""
    locations: Literal["log", "model"] = "model"
    """``log``: snap the log's coordinates; ``model``: draw from the spatial model."""


class Spatial(_Model):
    """Where calls happen: over all region nodes, by population, or near the stations."""

    kind: Literal["uniform", "population"] = "uniform"
    max_s_from_station: float | None = Field(default=None, gt=0)
    """Keep only nodes a station reaches within this many seconds (clips network edges)."""


class Demand(_Model):
    rate_per_h: Positive
    """Mean calls per hour; the profile's multipliers (mean 1) shape it by hour and weekday."""
    profile: Literal["flat", "all", "EMS", "Fire", "Traffic"] = "flat"
    spatial: Spatial = Spatial()
    mix: list[MixEntry] = Field(min_length=1)
    replay: Replay | None = None


class CloseStation(_Model):
    station: str
    from_h: float | None = Field(default=None, ge=0, le=24)
    to_h: float | None = Field(default=None, ge=0, le=24)
    """Daily closed hours (wrapping past midnight); none: closed all the time."""
    relocate_to: str | None = None
    """Move its units there while closed; otherwise they are off duty."""

    @model_validator(mode="after")
    def _window(self) -> CloseStation:
        if (self.from_h is None) != (self.to_h is None):
            raise ValueError("give both from_h and to_h, or neither")
        return self


class SetShifts(_Model):
    units: list[str] = Field(min_length=1)
    shifts: list[Shift]


class RoadClosure(_Model):
    id: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: Positive
    from_h: Hours = 0.0
    to_h: Hours | None = None
    factor: float | None = Field(default=None, gt=1)
    """``None``: closed; above 1: a slow-down by this factor."""


class SurgeSpec(_Model):
    from_h: Hours
    to_h: Hours
    factor: Positive

    @model_validator(mode="after")
    def _order(self) -> SurgeSpec:
        if self.to_h <= self.from_h:
            raise ValueError("to_h must be after from_h")
        return self


class MajorIncident(Place):
    at_h: Hours
    code: str
    level: int = Field(default=1, ge=1)
    casualties: int = Field(default=0, ge=0)


class Change(_Model):
    """Exactly one change per list entry."""

    close_station: CloseStation | None = None
    open_station: Station | None = None
    add_units: list[UnitSpec] | None = None
    remove_units: list[str] | None = None
    set_shifts: SetShifts | None = None
    road_closure: RoadClosure | None = None
    surge: SurgeSpec | None = None
    major_incident: MajorIncident | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Change:
        given = [k for k, v in self.__dict__.items() if v is not None]
        if len(given) != 1:
            raise ValueError(
                "each change needs exactly one of: " + ", ".join(type(self).model_fields)
            )
        return self


class SimOptions(_Model):
    coverage_weight_s: float = Field(default=1800.0, ge=0)
    """Weighted seconds charged for losing *all* expected cover (coverage policy)."""
    busy_fraction: float | None = Field(default=None, gt=0, lt=1)
    """MEXCLP busy probability q; default: estimated from the offered load."""
    escalation: bool = False
    """Run the engine's escalation rules (they only inform command unless levels rise)."""


class Scenario(_Model):
    """A whole simulation scenario (after ``base`` is merged and ``changes`` validated)."""

    name: str = Field(min_length=1)
    description: str = ""
    region: str
    """A region name (``harrisburg``, ``manhattan``, ``utrecht``) or path for ``load_region``."""
    codes: str | None = None
    """Code table YAML, relative to the scenario file; default: the project's table."""
    start: datetime = datetime(2026, 1, 5)
    duration_h: Positive = 24.0
    drain_h: Hours = 6.0
    """After the horizon no calls arrive; open calls get this long to be served."""
    seed: int = 1
    replications: int = Field(default=5, ge=1)
    policies: list[str] = Field(default_factory=lambda: ["closest_idle", "optimal", "coverage"])
    imports: list[Import] = Field(default_factory=list)
    stations: list[Station] = Field(default_factory=list)
    units: list[UnitSpec] = Field(default_factory=list)
    hospitals: list[Hospital] = Field(default_factory=list)
    demand: Demand
    service: Service = Service()
    targets_s: dict[int, Positive] = Field(default_factory=dict)
    """Response targets by priority for the report; default: each code's ``target_s``."""
    solver: SolverConfig = SolverConfig()
    options: SimOptions = SimOptions()
    changes: list[Change] = Field(default_factory=list)
    source: str = ""
    """The file it was read from (set by :func:`load_scenario`)."""


def load_scenario(path: Path | str) -> Scenario:
    """Read, merge (``base``) and validate a scenario file; errors name the field and file."""
    path = Path(path)
    raw = _read_raw(path, seen=())
    try:
        scenario = Scenario.model_validate({**raw, "source": str(path)})
    except ValidationError as exc:
        raise _input_error(exc, source=path.name) from None
    _check_references(scenario)
    return scenario


def scenario_from_dict(data: dict[str, Any], *, source: str = "<dict>") -> Scenario:
    """Validate a scenario given as a dict (no ``base``)."""
    try:
        scenario = Scenario.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise _input_error(exc, source=source) from None
    _check_references(scenario)
    return scenario


def _read_raw(path: Path, *, seen: tuple[Path, ...]) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"scenario file {path} not found", field="scenario")
    if path.resolve() in seen:
        raise InputError(f"{path.name}: base chain loops back to itself", field="base")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"{path.name}: not valid YAML ({exc})", field="scenario") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path.name}: a scenario is a mapping of keys", field="scenario")
    base = raw.pop("base", None)
    if raw.get("codes") is not None:
        raw["codes"] = str((path.parent / str(raw["codes"])).resolve())
    for spec in raw.get("imports") or []:
        if isinstance(spec, dict) and spec.get("format") == "fleet" and spec.get("file"):
            spec["file"] = str((path.parent / str(spec["file"])).resolve())
    if base is None:
        return raw
    parent = _read_raw(path.parent / str(base), seen=(*seen, path.resolve()))
    changes = [*parent.get("changes", []), *raw.pop("changes", [])]
    return {**parent, **raw, "changes": changes}


def _input_error(exc: ValidationError, *, source: str) -> InputError:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    return InputError(f"{source}: {message}", field=loc or "scenario")


def _check_references(scenario: Scenario) -> None:
    """Checks that need no data files; fleet references are checked by :func:`apply_changes`."""
    if scenario.codes is not None and not Path(scenario.codes).is_file():
        raise InputError(f"code table {scenario.codes} not found", field="codes")
    if not scenario.policies:
        raise InputError("give at least one policy", field="policies")
    if len(set(scenario.policies)) != len(scenario.policies):
        raise InputError("policies are listed more than once", field="policies")


def code_table(scenario: Scenario) -> CodeTable:
    """The scenario's code table (its own file, or the project's default table)."""
    return CodeTable.load(Path(scenario.codes) if scenario.codes else DEFAULT_CODES_PATH)


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
    """JEMSS tables have a title row before the header row."""
    folder = _data_file(spec.dir, field=f"{field}.dir")
    stations = [
        Station(
            id=f"S{r['index']}", name=r.get("address") or None, lat=float(r["y"]), lon=float(r["x"])
        )
        for r in _csv_rows(folder / "stations.csv", skip=1)
    ]
    units = [
        UnitSpec(
            id=f"A{r['index']}", station=f"S{r['stationIndex']}", capabilities=spec.capabilities
        )
        for r in _csv_rows(folder / "ambulances.csv", skip=1)
    ]
    hospitals = [
        Hospital(
            id=f"H{r['index']}", name=r.get("Name") or None, lat=float(r["y"]), lon=float(r["x"])
        )
        for r in _csv_rows(folder / "hospitals.csv", skip=1)
    ]
    return stations, units, hospitals


def _import_fleet(
    spec: Import, *, field: str
) -> tuple[list[Station], list[UnitSpec], list[Hospital]]:
    from planner.fleet import load_fleet

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
        hospitals = [Hospital(id=f"H{r['Hospital']}", point=r["Hospital"]) for r in h_rows]
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

    def station_at(self, unit: UnitSpec, hour: float) -> str | None:
        """Where ``unit`` is based at ``hour`` of the day; ``None``: off duty."""
        if unit.shifts and not any(_in_window(hour, s.start_h, s.end_h) for s in unit.shifts):
            return None
        station = unit.station
        for closure in self.station_closures:
            if closure.station != station:
                continue
            if (
                closure.from_h is None
                or closure.to_h is None
                or _in_window(hour, closure.from_h, closure.to_h)
            ):
                if closure.relocate_to is None:
                    return None
                station = closure.relocate_to
        return station


def _in_window(hour: float, start: float, end: float) -> bool:
    hour %= 24.0
    if start == end:
        return True
    return start <= hour < end if start < end else hour >= start or hour < end


def apply_changes(scenario: Scenario) -> Deployment:
    """Expand units and apply every change in order; errors name the change's field."""
    stations_l, unit_specs, hospitals = imported_fleet(scenario)
    stations = {s.id: s for s in stations_l}
    units: list[UnitSpec] = []
    for spec in unit_specs:
        units += _expand(spec)
    closures: list[CloseStation] = []
    roads: list[RoadClosure] = []
    surges: list[SurgeSpec] = []
    majors: list[MajorIncident] = []
    for i, change in enumerate(scenario.changes):
        field = f"changes.{i}"
        if change.close_station is not None:
            c = change.close_station
            _need_station(stations, c.station, field=f"{field}.close_station.station")
            if c.relocate_to is not None:
                _need_station(stations, c.relocate_to, field=f"{field}.close_station.relocate_to")
            closures.append(c)
        elif change.open_station is not None:
            if change.open_station.id in stations:
                raise InputError(
                    f"station {change.open_station.id!r} already exists",
                    field=f"{field}.open_station.id",
                )
            stations[change.open_station.id] = change.open_station
        elif change.add_units is not None:
            for j, spec in enumerate(change.add_units):
                _need_station(stations, spec.station, field=f"{field}.add_units.{j}.station")
                units += _expand(spec)
        elif change.remove_units is not None:
            known = {u.id for u in units}
            for j, uid in enumerate(change.remove_units):
                if uid not in known:
                    raise InputError(f"unknown unit {uid!r}", field=f"{field}.remove_units.{j}")
            units = [u for u in units if u.id not in set(change.remove_units)]
        elif change.set_shifts is not None:
            known = {u.id for u in units}
            for j, uid in enumerate(change.set_shifts.units):
                if uid not in known:
                    raise InputError(f"unknown unit {uid!r}", field=f"{field}.set_shifts.units.{j}")
            chosen = set(change.set_shifts.units)
            units = [
                u.model_copy(update={"shifts": change.set_shifts.shifts}) if u.id in chosen else u
                for u in units
            ]
        elif change.road_closure is not None:
            roads.append(change.road_closure)
        elif change.surge is not None:
            surges.append(change.surge)
        elif change.major_incident is not None:
            majors.append(change.major_incident)
    ids = [u.id for u in units]
    duplicates = sorted({x for x in ids if ids.count(x) > 1 and x is not None})
    if duplicates:
        raise InputError(f"duplicate unit ids: {', '.join(duplicates)}", field="units")
    for j, unit in enumerate(units):
        _need_station(stations, unit.station, field=f"units.{j}.station")
    if not units:
        raise InputError("the scenario has no units", field="units")
    return Deployment(stations, units, hospitals, closures, roads, surges, majors)


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

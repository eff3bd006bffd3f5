"""Simulation scenarios: a validated YAML description of a region, a fleet, demand and changes.

A scenario names its region and shared data through ``get_settings().data_dir`` (never copies).
A what-if scenario starts from ``base: other.yaml`` and lists ``changes``: close or open a
station, add or remove units, change shifts, road closures, a demand surge, a major incident.
Every key is checked (unknown keys are refused) and errors name the offending field.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.centre.codes import DEFAULT_CODES_PATH, CodeTable
from planner.centre.config import SolverConfig
from planner.dispatch.moveup import MoveUpConfig
from planner.errors import InputError
from planner.yaml_io import load_yaml

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
    capacity: int | None = Field(default=None, ge=0)
    """Most units based here (JEMSS ``capacity``); ``None``: no limit."""


class Hospital(Place):
    id: str = Field(min_length=1)
    name: str | None = None
    bays: int | None = Field(default=None, ge=1)
    """Hand-over bays: ambulances beyond this many wait in a queue (first come, first
    served) until one frees; ``None``: no limit (every crew hands over at once)."""


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Shift(_Model):
    """On-duty hours; ``end_h < start_h`` wraps past midnight (e.g. 20 → 8), ``end_h ==
    start_h`` is 24 hours from ``start_h``. ``days`` (a weekly roster) lists the weekdays the
    shift *starts* on (a Friday night shift 20 → 8 runs into Saturday); none: every day."""

    start_h: float = Field(ge=0, le=24)
    end_h: float = Field(ge=0, le=24)
    days: list[Weekday] | None = Field(default=None, min_length=1)


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

    ``jemss``: ``dir``, a JEMSS model folder (published layout or flat, see
    :mod:`planner.sim.jemss`): stations with capacity, ambulances, hospitals with names.
    ``elaspy``: ``allocation`` (ambulance → base postcode) and ``hospitals`` (postcodes).
    ``fleet``: ``file``, the stations and units of a project fleet file (``only`` filters).
    """

    format: Literal["jemss", "elaspy", "fleet"]
    dir: str | None = None
    file: str | None = None
    """``fleet``: a project fleet YAML (``planner.sim.fleet``), relative to the scenario file."""
    only: list[str] | None = None
    """``fleet``: keep only units with one of these capabilities."""
    allocation: str | None = None
    hospitals: str | None = None
    capabilities: list[str] = Field(default_factory=lambda: ["ALS"], min_length=1)
    hospital_bays: int | None = Field(default=None, ge=1)
    """Hand-over bays of every imported hospital (``Hospital.bays``); ``None``: no limit."""


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
    turnout_s: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    """Seconds from accepting a dispatch to rolling, by unit capability (``ALS``, ``engine``);
    a unit takes the first of its capabilities listed here, else ``default`` (else 0)."""
    divert_at_queue: int | None = Field(default=None, ge=1)
    """Diversion: when this many ambulances already wait at the nearest hospital's hand-over
    queue (``hospitals[].bays``), the patient goes to the next nearest hospital whose queue is
    shorter (every hospital counts as suitable: the model has no specialties); ``None``: never
    divert."""
    return_to: Literal["station", "station_available", "where_they_are"] = "station"
    """``station``: busy until back at base; ``station_available``: drives back to base but
    can be dispatched on the way, from where it has got to (position reports every quarter of
    the drive, at least two minutes apart); ``where_they_are``: available on the spot."""


class MixEntry(_Model):
    code: str
    share: Positive
    priority: int | None = Field(default=None, ge=1, le=5)
    """Simulated priority; default: the code's default priority."""


class ReplayColumns(_Model):
    """Which log columns hold what: ``time`` is required; ``lat``/``lon`` for ``locations:
    log``; ``type`` for the ``codes`` mapping; ``priority`` overrides the code's priority."""

    time: str = "timeStamp"
    lat: str | None = "lat"
    lon: str | None = "lng"
    type: str = "title"
    priority: str | None = None


class Replay(_Model):
    """Replay the timestamps, types (and places) of a real call log (CSV/TSV, gzip ok).

    ``codes`` maps the log's ``type`` values to codes of ``demand.mix``; a key ending in ``*``
    matches by prefix (``"EMS:*"``). ``services`` is the older Montgomery form (the part of
    ``title`` before ``:``). Calls whose type matches nothing are skipped.
    """

    file: str
    start: datetime
    """First moment of the log to replay; it maps to the scenario's ``start``."""
    columns: ReplayColumns = ReplayColumns()
    codes: dict[str, str] = Field(default_factory=dict)
    services: dict[str, str] = Field(default_factory=dict)
    """Montgomery County form: log service (``EMS``, ``Fire``, ``Traffic``) → code."""
    locations: Literal["log", "model"] = "model"
    """``log``: snap the log's coordinates; ``model``: draw from the spatial model."""

    @model_validator(mode="after")
    def _mapped(self) -> Replay:
        if not self.codes and not self.services:
            raise ValueError("give codes (log type -> code) or services")
        if self.locations == "log" and (self.columns.lat is None or self.columns.lon is None):
            raise ValueError("locations: log needs columns.lat and columns.lon")
        return self


class Spatial(_Model):
    """Where calls happen: over all region nodes, by population, or at weighted points.

    ``points``: a CSV (relative to the scenario file) with ``lat``, ``lon`` and ``weight``
    columns; each point is snapped to the network and its weight added to that node.
    """

    kind: Literal["uniform", "population", "points"] = "uniform"
    points: str | None = None
    max_s_from_station: float | None = Field(default=None, gt=0)
    """Keep only nodes a station reaches within this many seconds (clips network edges)."""

    @model_validator(mode="after")
    def _points(self) -> Spatial:
        if (self.kind == "points") != (self.points is not None):
            raise ValueError("points (a CSV file) is required for kind: points and only there")
        return self


class ServiceArea(_Model):
    """The area calls come from: a GeoJSON file (relative to the scenario file) with one
    (Multi)Polygon, or an inline ``polygon`` ring of ``[lon, lat]`` pairs (GeoJSON order)."""

    file: str | None = None
    polygon: list[tuple[float, float]] | None = Field(default=None, min_length=3)

    @model_validator(mode="after")
    def _one(self) -> ServiceArea:
        if (self.file is None) == (self.polygon is None):
            raise ValueError("give either file or polygon")
        return self


class Speeds(_Model):
    """How fast units drive, on top of the region's emergency profile.

    ``kph`` sets the speed of every edge of an OSM road class (as JEMSS and ELASPY do; unlisted
    classes keep the built speeds); ``priority_factor`` multiplies speeds for calls of a
    priority (e.g. 0.75 for low priority without siren); ``hour_factor`` multiplies speeds by
    hour of day (24 values, or ``{hour: factor}``). Factors change the simulated drives to a
    call; the engine still ranks units on the region's (class) travel times.
    """

    kph: dict[str, Positive] = Field(default_factory=dict)
    priority_factor: dict[int, Positive] = Field(default_factory=dict)
    hour_factor: dict[int, Positive] | list[Positive] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _hours(self) -> Speeds:
        hours = (
            list(self.hour_factor)
            if isinstance(self.hour_factor, dict)
            else list(range(len(self.hour_factor)))
        )
        if isinstance(self.hour_factor, list) and self.hour_factor and len(hours) != 24:
            raise ValueError("hour_factor as a list needs 24 values")
        if any(not 0 <= h <= 23 for h in hours):
            raise ValueError("hour_factor hours are 0..23")
        return self

    def factor(self, *, priority: int, hour: int) -> float:
        """Speed multiplier for a drive to a call of ``priority`` starting in ``hour``."""
        by_hour = self.hour_factor
        h = by_hour.get(hour, 1.0) if isinstance(by_hour, dict) else (by_hour or [1.0] * 24)[hour]
        return self.priority_factor.get(priority, 1.0) * h


class Demand(_Model):
    rate_per_h: Positive | None = None
    """Mean calls per hour; the profile's multipliers (mean 1) shape it by hour and weekday.
    Required unless calls are replayed."""
    profile: Literal["flat", "all", "EMS", "Fire", "Traffic"] = "flat"
    spatial: Spatial = Spatial()
    mix: list[MixEntry] = Field(min_length=1)
    replay: Replay | None = None

    @model_validator(mode="after")
    def _rate(self) -> Demand:
        if self.rate_per_h is None and self.replay is None:
            raise ValueError("rate_per_h is required unless calls are replayed")
        return self


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
    daily: bool = False
    """Repeat every day of the horizon (``from_h``/``to_h`` are then hours of the day)."""


class SurgeSpec(_Model):
    """Call rate × ``factor`` from ``from_h`` to ``to_h`` (hours from the start; with ``daily``
    hours of the day, repeated every day). Applies to replayed calls too."""

    from_h: Hours
    to_h: Hours
    factor: Positive
    daily: bool = False

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
    busy_fraction: float | None = Field(default=None, gt=0, lt=1)
    """MEXCLP busy probability q; default: estimated from the offered load."""
    escalation: bool = False
    """Run the engine's escalation rules (they only inform command unless levels rise)."""
    moveup: MoveUpConfig = MoveUpConfig()
    """Limits of the ``+mip`` move-up (moves per decision, drive per move, moves per unit)."""


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
    warmup_h: Hours = 0.0
    """Calls in the first hours of the horizon are simulated but left out of the statistics
    (the fleet starts all at base, which is not a typical moment)."""
    service_area: ServiceArea | None = None
    """Calls only come from inside this area (demand points outside it are dropped)."""
    speeds: Speeds = Speeds()
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


def _read_raw(path: Path, *, seen: tuple[Path, ...]) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"scenario file {path} not found", field="scenario")
    if path.resolve() in seen:
        raise InputError(f"{path.name}: base chain loops back to itself", field="base")
    raw = load_yaml(path.read_text(), source=path.name, field="scenario")
    if not isinstance(raw, dict):
        raise InputError(f"{path.name}: a scenario is a mapping of keys", field="scenario")
    base = raw.pop("base", None)
    if raw.get("codes") is not None:
        raw["codes"] = str((path.parent / str(raw["codes"])).resolve())
    area = raw.get("service_area")
    if isinstance(area, dict) and area.get("file"):
        area["file"] = str((path.parent / str(area["file"])).resolve())
    spatial = (
        (raw.get("demand") or {}).get("spatial") if isinstance(raw.get("demand"), dict) else None
    )
    if isinstance(spatial, dict) and spatial.get("points"):
        spatial["points"] = str((path.parent / str(spatial["points"])).resolve())
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
    """Checks that need no data files; fleet references are checked by
    :func:`planner.sim.deployment.apply_changes`."""
    if scenario.codes is not None and not Path(scenario.codes).is_file():
        raise InputError(f"code table {scenario.codes} not found", field="codes")
    if not scenario.policies:
        raise InputError("give at least one policy", field="policies")
    if len(set(scenario.policies)) != len(scenario.policies):
        raise InputError("policies are listed more than once", field="policies")
    if scenario.warmup_h >= scenario.duration_h:
        raise InputError("warm-up must end before the horizon does", field="warmup_h")
    area = scenario.service_area
    if area is not None and area.file is not None and not Path(area.file).is_file():
        raise InputError(
            f"service area file {area.file} not found",
            field="service_area.file",
        )
    _check_horizon(scenario)


def _check_horizon(scenario: Scenario) -> None:
    """Timed changes must happen inside the horizon, or they would silently do nothing."""
    horizon = scenario.duration_h
    for i, change in enumerate(scenario.changes):
        timed: list[tuple[str, float, bool]] = []
        if change.surge is not None:
            timed.append(("surge.from_h", change.surge.from_h, change.surge.daily))
        if change.road_closure is not None:
            road = change.road_closure
            timed.append(("road_closure.from_h", road.from_h, road.daily))
        if change.major_incident is not None:
            timed.append(("major_incident.at_h", change.major_incident.at_h, False))
        for name, at_h, daily in timed:
            if daily and at_h >= 24:
                raise InputError(
                    f"a daily change gives hours of the day (0-24), got {at_h}",
                    field=f"changes.{i}.{name}",
                )
            if not daily and at_h >= horizon:
                raise InputError(
                    f"at {at_h} h this change starts after the {horizon} h horizon",
                    field=f"changes.{i}.{name}",
                )


def code_table(scenario: Scenario) -> CodeTable:
    """The scenario's code table (its own file, or the project's default table)."""
    return CodeTable.load(Path(scenario.codes) if scenario.codes else DEFAULT_CODES_PATH)

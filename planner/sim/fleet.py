"""A fleet file: stations and the units based at them, turned into ``unit_registered`` events.

The format is deliberately small (``scenarios/harrisburg/fleet.yaml``)::

    stations: [{id, name, lat, lon}]
    units: [{id, call_sign, capabilities: [...], station}]
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.centre.events import Id, Position, UnitRegistered
from planner.errors import InputError
from planner.yaml_io import load_yaml


class Station(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    name: str = Field(min_length=1, max_length=120)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class FleetUnit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    call_sign: str | None = None
    capabilities: list[Id] = Field(min_length=1)
    station: Id


class Fleet(BaseModel):
    """Stations and units; every unit's station must be listed and every id unique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stations: list[Station]
    units: list[FleetUnit]

    @model_validator(mode="after")
    def _consistent(self) -> Fleet:
        station_ids = [s.id for s in self.stations]
        for kind, ids in (("station", station_ids), ("unit", [u.id for u in self.units])):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind} ids: {', '.join(dupes)}")
        for unit in self.units:
            if unit.station not in station_ids:
                raise ValueError(f"unit {unit.id} names unknown station {unit.station!r}")
        return self

    def registration_events(self, *, at: datetime, actor: str = "system") -> list[UnitRegistered]:
        """One ``unit_registered`` per unit, at home at its station."""
        stations = {s.id: s for s in self.stations}
        return [
            UnitRegistered(
                at=at,
                actor=actor,
                unit_id=u.id,
                call_sign=u.call_sign,
                capabilities=u.capabilities,
                station=u.station,
                home=Position(lat=stations[u.station].lat, lon=stations[u.station].lon),
            )
            for u in self.units
        ]


def load_fleet(path: Path) -> Fleet:
    """Read and validate a fleet YAML file; errors name the file and the field."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read fleet file {path}: {exc.strerror}", field="fleet") from None
    raw = load_yaml(text, source=str(path), field="fleet")
    try:
        return Fleet.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "fleet"
        raise InputError(f"{path}: {err['msg']}", field=where) from None

"""Import an external CAD export into a review-only incident log (criterion 21 on real logs).

A column mapping says which column holds what; one row is one dispatch of one or more units.
Times the source gives become events (contact received/answered, incident opened, dispatched,
en route, arrived, cleared); segments whose ends the source lacks are not measured rather than
read as zero. The log starts with a ``centre_configured`` whose reason marks it review-only and
lists the source's times, so the review skips the live state machine (a CAD export does not
follow this centre's recommendations) and never invents figures.

The Seattle Fire Department dispatch log (``regions/seattle``) is built in: one time per row
(the dispatch), units separated by spaces, and incidents placed at the home station of the
first unit sent (the export has addresses but no coordinates; the review needs no more).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from planner.centre.events import parse_event, split_personal
from planner.errors import InputError
from planner.log.incident_log import IncidentLog, NewEntry
from planner.review.performance import time_zone
from planner.review.records import REVIEW_ONLY, TIME_COLUMNS
from planner.yaml_io import load_yaml

SEATTLE_MAPPING: dict[str, Any] = {
    "delimiter": "\t",
    "time_format": "%m/%d/%Y %I:%M:%S %p",
    "time_zone": "America/Los_Angeles",
    "units_separator": " ",
    "columns": {
        "incident": "incident_number",
        "type": "incident_type",
        "units": "units",
        "dispatched": "timestamp",
        "address": "location",
    },
}
REQUIRED = ("incident", "type", "units", "dispatched")
OPTIONAL = ("calltaker", "dispatcher", "address", "lat", "lon", *TIME_COLUMNS)


@dataclass(slots=True)
class ColumnMapping:
    columns: dict[str, str]
    delimiter: str = ","
    time_format: str | None = None
    time_zone: str = "UTC"
    units_separator: str = " "
    location: tuple[float, float] | None = None
    stations: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Unit id → home station position, to place incidents when rows have no coordinates."""


def load_mapping(path: Path) -> ColumnMapping:
    """A column mapping from YAML (see the README); errors name the field."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", field="mapping") from None
    raw = load_yaml(text, source=str(path), field="mapping")
    if not isinstance(raw, dict):
        raise InputError("a mapping is a YAML object with 'columns'", field="mapping")
    return _mapping(raw)


def _mapping(raw: Mapping[str, Any]) -> ColumnMapping:
    columns = raw.get("columns")
    if not isinstance(columns, dict):
        raise InputError("give 'columns: {field: column name}'", field="mapping.columns")
    for key in REQUIRED:
        if not isinstance(columns.get(key), str):
            raise InputError("required column missing", field=f"mapping.columns.{key}")
    unknown = set(columns) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise InputError(
            f"unknown field; expected some of {', '.join(REQUIRED + OPTIONAL)}",
            field=f"mapping.columns.{sorted(unknown)[0]}",
        )
    location = raw.get("location")
    where: tuple[float, float] | None = None
    if location is not None:
        if not isinstance(location, dict) or not {"lat", "lon"} <= set(location):
            raise InputError("give {lat, lon}", field="mapping.location")
        where = (float(location["lat"]), float(location["lon"]))
    zone = str(raw.get("time_zone", "UTC"))
    time_zone(zone)
    return ColumnMapping(
        columns={str(k): str(v) for k, v in columns.items()},
        delimiter=str(raw.get("delimiter", ",")),
        time_format=raw.get("time_format"),
        time_zone=zone,
        units_separator=str(raw.get("units_separator", " ")),
        location=where,
    )


def seattle_mapping(region_dir: Path) -> ColumnMapping:
    """The built-in mapping of the Seattle dispatch log, with its units' home stations."""
    mapping = _mapping(SEATTLE_MAPPING)
    stations: dict[str, tuple[float, float]] = {}
    with (region_dir / "stations-geocoded.csv").open() as f:
        for row in csv.DictReader(f):
            stations[row["station"]] = (float(row["lat"]), float(row["lon"]))
    with (region_dir / "apparatus-locations.csv").open() as f:
        for row in csv.DictReader(f):
            if row["station"] in stations:
                mapping.stations[row["apparatus"]] = stations[row["station"]]
    mapping.location = stations.get("HQ")
    return mapping


@dataclass(frozen=True, slots=True)
class ImportSummary:
    rows: int
    incidents: int
    events: int
    source_times: tuple[str, ...]


def import_cad(source: Path, url: str, mapping: ColumnMapping) -> ImportSummary:
    """Write ``source`` (CSV/TSV, optionally gzipped) as a review-only log at ``url``."""
    rows = list(_rows(source, mapping))
    times = tuple(t for t in TIME_COLUMNS if t in mapping.columns)
    events = _events(rows, mapping)
    events.sort(key=lambda e: e["at"])
    first = events[0]["at"] if events else datetime.now(time_zone(mapping.time_zone))
    header = {
        "type": "centre_configured",
        "at": first.isoformat(),
        "actor": "system:import",
        "reason": f"{REVIEW_ONLY} from {source.name}; source times: {', '.join(times)}",
    }
    with IncidentLog(url) as log:
        if log.head() > 0:
            raise InputError("import into a new, empty log", field="--db")
        entries = []
        for data in (header, *events):
            event = parse_event({**data, "at": _iso(data["at"])})
            payload, private = split_personal(event)
            entries.append(
                NewEntry(
                    kind=event.type,
                    payload=payload,
                    personal=private,
                    incident=getattr(event, "incident_id", None),
                    actor=event.actor,
                )
            )
        log.append_many(entries)
    incidents = len({r["incident"] for r in rows})
    return ImportSummary(len(rows), incidents, len(events) + 1, times)


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _rows(source: Path, mapping: ColumnMapping) -> Iterator[dict[str, Any]]:
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror}", field="source") from None
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=mapping.delimiter)
    missing = [c for c in mapping.columns.values() if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"no column {missing[0]!r} in {source.name}", field="mapping.columns")
    zone = time_zone(mapping.time_zone)
    for number, row in enumerate(reader, start=2):
        out: dict[str, Any] = {}
        for key, column in mapping.columns.items():
            value = (row.get(column) or "").strip()
            if key in TIME_COLUMNS:
                out[key] = _time(value, mapping.time_format, zone, f"{source.name}:{number}")
            else:
                out[key] = value or None
        if out["incident"] and out["dispatched"] is not None:
            yield out


def _time(value: str, fmt: str | None, zone: Any, where: str) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.strptime(value, fmt) if fmt else datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{where}: not a time: {value!r}", field="time_format") from None
    return t if t.tzinfo else t.replace(tzinfo=zone)


def _code(kind: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", kind).strip("_").upper()[:80] or "UNKNOWN"


def _safe_id(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._:/-]+", "-", value).strip("-")[:80] or "X"


def _events(rows: list[dict[str, Any]], mapping: ColumnMapping) -> list[dict[str, Any]]:
    by_incident: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_incident[row["incident"]].append(row)
    events: list[dict[str, Any]] = []
    for raw_id, group in by_incident.items():
        group.sort(key=lambda r: r["dispatched"])
        first = group[0]
        incident = _safe_id(raw_id)
        units = [
            _safe_id(u)
            for r in group
            for u in (r["units"] or "").split(mapping.units_separator)
            if u
        ]
        taker = f"calltaker:{first['calltaker']}" if first.get("calltaker") else "system:import"
        contact = None
        if first.get("received") is not None:
            contact = f"{incident}-C"
            events.append(
                {
                    "type": "contact_received",
                    "at": first["received"],
                    "actor": taker,
                    "contact_id": contact,
                    "channel": "phone",
                    "answered_at": _iso(first["answered"]) if first.get("answered") else None,
                }
            )
        opened = first.get("opened") or first.get("received") or first["dispatched"]
        events.append(
            {
                "type": "incident_opened",
                "at": opened,
                "actor": taker,
                "incident_id": incident,
                "contact_id": contact,
                "code": _code(first["type"] or "unknown"),
                "location": _where(first, units, mapping),
                "address": first.get("address"),
            }
        )
        for row in group:
            sent = [_safe_id(u) for u in (row["units"] or "").split(mapping.units_separator) if u]
            if not sent:
                continue
            who = f"dispatcher:{row['dispatcher']}" if row.get("dispatcher") else "system:import"
            events.append(
                {
                    "type": "dispatch_accepted",
                    "at": row["dispatched"],
                    "actor": who,
                    "incident_id": incident,
                    "units": sent,
                }
            )
            for unit in sent:
                for key, kind in (("en_route", "unit_acknowledged"), ("arrived", "unit_arrived")):
                    if row.get(key) is not None:
                        events.append(
                            {"type": kind, "at": row[key], "actor": f"unit:{unit}", "unit_id": unit}
                        )
                if row.get("cleared") is not None:
                    events.append(
                        {
                            "type": "unit_status_changed",
                            "at": row["cleared"],
                            "actor": f"unit:{unit}",
                            "unit_id": unit,
                            "status": "available",
                        }
                    )
    return events


def _where(row: dict[str, Any], units: list[str], mapping: ColumnMapping) -> dict[str, float]:
    if row.get("lat") and row.get("lon"):
        try:
            return {"lat": float(row["lat"]), "lon": float(row["lon"])}
        except ValueError:
            raise InputError(f"not a coordinate: {row['lat']!r}", field="lat") from None
    for unit in units:
        if unit in mapping.stations:
            lat, lon = mapping.stations[unit]
            return {"lat": lat, "lon": lon}
    if mapping.location is None:
        raise InputError(
            "rows have no coordinates: map lat/lon or give location", field="mapping.location"
        )
    return {"lat": mapping.location[0], "lon": mapping.location[1]}

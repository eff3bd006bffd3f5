"""Reading a JEMSS model folder (JEMSS.jl, the Julia EMS simulator) as published.

Two layouts are accepted: the published one (``stations/stations_1.csv``,
``ambulances/ambulances_1.csv``, ``hospitals/hospitals_1.csv``, ``misc/call priorities/*.csv``,
``calls/**/gen_config.xml``, ``demand/demand_*.csv``, ``travel/travel/travel_*.csv``) and the
flat copy in the shared data (``stations.csv``, ``ambulances.csv``, ``hospitals.csv``,
``call_priorities.csv``, ``call_generator.xml``). Every JEMSS table has a title row before its
header row; times are in days. Each missing or malformed file is an error naming the file and
the field.
"""

from __future__ import annotations

import ast
import csv
import operator
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from planner.errors import DataMissingError, InputError

DAY_S = 86400.0

TABLES: dict[str, tuple[str, ...]] = {
    "stations": ("stations.csv", "stations/*.csv"),
    "ambulances": ("ambulances.csv", "ambulances/*.csv"),
    "hospitals": ("hospitals.csv", "hospitals/*.csv"),
    "priorities": ("call_priorities.csv", "misc/call priorities/*.csv"),
    "calls": ("call_generator.xml", "calls/**/gen_config.xml", "calls/*.xml"),
    "demand": ("demand.csv", "demand/demand_*.csv"),
    "travel": ("travel.csv", "travel/travel/*.csv", "travel/*.csv"),
}
"""Where each table may be, flat layout first; the first match in name order is used."""

REQUIRED = ("stations", "ambulances", "hospitals")


@dataclass(frozen=True, slots=True)
class JemssStation:
    index: str
    lat: float
    lon: float
    capacity: int | None
    name: str | None


@dataclass(frozen=True, slots=True)
class JemssAmbulance:
    index: str
    station: str
    ambulance_class: str


@dataclass(frozen=True, slots=True)
class JemssHospital:
    index: str
    lat: float
    lon: float
    name: str | None


@dataclass(frozen=True, slots=True)
class JemssCalls:
    """Call generation settings (``gen_config.xml``), converted to hours and seconds."""

    rate_per_h: float
    priority_shares: tuple[float, ...]
    dispatch_delay_s: tuple[str, float]
    on_scene_s: tuple[str, float]
    transport_probability: float
    handover_s: tuple[str, float]


@dataclass(frozen=True, slots=True)
class JemssModel:
    folder: Path
    files: dict[str, Path]
    stations: list[JemssStation]
    ambulances: list[JemssAmbulance]
    hospitals: list[JemssHospital]
    priorities: dict[int, tuple[str, float]] = field(default_factory=dict)
    """Priority → (name, target seconds)."""
    calls: JemssCalls | None = None
    speed_by_priority: dict[int, float] = field(default_factory=dict)
    """Priority → speed factor relative to the fastest travel mode (``travel`` table)."""


def find_tables(folder: Path) -> dict[str, Path]:
    """The files of the tables present in ``folder`` (either layout)."""
    if not folder.is_dir():
        raise DataMissingError(f"JEMSS folder {folder} not found", field="dir")
    found: dict[str, Path] = {}
    for table, patterns in TABLES.items():
        for pattern in patterns:
            matches = sorted(folder.glob(pattern))
            if matches:
                found[table] = matches[0]
                break
    for table in REQUIRED:
        if table not in found:
            raise InputError(
                f"{folder}: no {table} table (looked for {' or '.join(TABLES[table])})",
                field=table,
            )
    return found


def read_jemss(folder: Path) -> JemssModel:
    """Every table of a JEMSS model folder the planner can use."""
    files = find_tables(folder)
    stations = [
        JemssStation(
            index=_get(r, "index", files["stations"], k),
            lon=_float(r, "x", files["stations"], k),
            lat=_float(r, "y", files["stations"], k),
            capacity=int(_float(r, "capacity", files["stations"], k))
            if (r.get("capacity") or "").strip()
            else None,
            name=(r.get("address") or "").strip() or None,
        )
        for k, r in enumerate(_table(files["stations"]))
    ]
    ambulances = [
        JemssAmbulance(
            index=_get(r, "index", files["ambulances"], k),
            station=_get(r, "stationIndex", files["ambulances"], k),
            ambulance_class=(r.get("class") or "1").strip() or "1",
        )
        for k, r in enumerate(_table(files["ambulances"]))
    ]
    hospitals = [
        JemssHospital(
            index=_get(r, "index", files["hospitals"], k),
            lon=_float(r, "x", files["hospitals"], k),
            lat=_float(r, "y", files["hospitals"], k),
            name=(r.get("Name") or r.get("name") or "").strip() or None,
        )
        for k, r in enumerate(_table(files["hospitals"]))
    ]
    known = {s.index for s in stations}
    for amb in ambulances:
        if amb.station not in known:
            raise InputError(
                f"{files['ambulances'].name}: ambulance {amb.index} names unknown station "
                f"{amb.station}",
                field="stationIndex",
            )
    priorities = {}
    if "priorities" in files:
        for k, r in enumerate(_table(files["priorities"])):
            p = int(_float(r, "priority", files["priorities"], k))
            target = _float(r, "targetResponseTime", files["priorities"], k) * DAY_S
            priorities[p] = ((r.get("name") or f"priority{p}").strip(), round(target, 1))
    calls = _read_calls(files["calls"]) if "calls" in files else None
    speeds = _read_travel(files["travel"], priorities) if "travel" in files else {}
    return JemssModel(folder, files, stations, ambulances, hospitals, priorities, calls, speeds)


def _table(path: Path) -> list[dict[str, str]]:
    """Rows of a JEMSS table: a title row, a header row, rows up to the first blank row."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}", field=path.name) from None
    if len(lines) < 2:
        raise InputError(f"{path.name}: expected a title row and a header row", field=path.name)
    rows = []
    for row in csv.DictReader(lines[1:]):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            break
        rows.append({(k or "").strip(): v for k, v in row.items() if isinstance(v, str)})
    return rows


def _get(row: dict[str, str], key: str, path: Path, k: int) -> str:
    value = (row.get(key) or "").strip()
    if not value:
        raise InputError(f"{path.name} row {k + 1}: missing {key}", field=key)
    return value


def _float(row: dict[str, str], key: str, path: Path, k: int) -> float:
    text = _get(row, key, path, k)
    try:
        return float(text)
    except ValueError:
        raise InputError(
            f"{path.name} row {k + 1}: {key} {text!r} is not a number", field=key
        ) from None


_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _arith(text: str, *, path: Path, what: str) -> float:
    """Evaluate JEMSS's numeric expressions (``1/(18.8*24)``): numbers and + - * / only."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](ev(node.left), ev(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        raise ValueError(text)

    try:
        return ev(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        raise InputError(f"{path.name}: {what} {text!r} is not arithmetic", field=what) from None


_DIST = re.compile(r"^\s*(\w+)\((.*)\)\s*$", re.S)


def _dist(text: str, *, path: Path, what: str) -> tuple[str, list[str]]:
    match = _DIST.match(text or "")
    if match is None:
        raise InputError(f"{path.name}: {what} {text!r} is not Name(args)", field=what)
    name, args = match.group(1), match.group(2)
    if name == "Categorical":
        return name, [a for a in args.strip().strip("[]").split(",") if a.strip()]
    depth, parts, current = 0, [], ""
    for ch in args:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return name, [*parts, current]


def _duration(text: str, *, path: Path, what: str) -> tuple[str, float]:
    """A JEMSS duration in days → (planner distribution, mean seconds)."""
    name, args = _dist(text, path=path, what=what)
    mean = _arith(args[0], path=path, what=what) * DAY_S
    if name == "Exponential":
        return "exponential", mean
    if name == "Normal" and len(args) > 1 and _arith(args[1], path=path, what=what) == 0:
        return "constant", mean
    if name == "Normal":
        raise InputError(f"{path.name}: {what}: only Normal(mean, 0) is supported", field=what)
    raise InputError(f"{path.name}: {what}: unsupported distribution {name}", field=what)


def _read_calls(path: Path) -> JemssCalls:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"cannot read {path}: {exc}", field=path.name) from None
    dists = root.find("sim/callDistributions")
    if dists is None:
        raise InputError(f"{path.name}: no sim/callDistributions", field="callDistributions")

    def text(tag: str) -> str:
        node = dists.find(tag)
        if node is None or not (node.text or "").strip():
            raise InputError(f"{path.name}: missing {tag}", field=tag)
        return node.text or ""

    name, args = _dist(text("interarrivalTime"), path=path, what="interarrivalTime")
    if name != "Exponential":
        raise InputError(f"{path.name}: interarrivalTime must be Exponential", field=name)
    mean_days = _arith(args[0], path=path, what="interarrivalTime")
    _, shares = _dist(text("priority"), path=path, what="priority")
    _, transport = _dist(text("transport"), path=path, what="transport")
    return JemssCalls(
        rate_per_h=1.0 / (mean_days * 24.0),
        priority_shares=tuple(_arith(s, path=path, what="priority") for s in shares),
        dispatch_delay_s=_duration(text("dispatchDelay"), path=path, what="dispatchDelay"),
        on_scene_s=_duration(text("onSceneDuration"), path=path, what="onSceneDuration"),
        transport_probability=_arith(transport[0], path=path, what="transport"),
        handover_s=_duration(text("handoverDuration"), path=path, what="handoverDuration"),
    )


def _read_travel(path: Path, priorities: dict[int, tuple[str, float]]) -> dict[int, float]:
    """Speed factor per priority: its travel mode's off-road speed over the fastest mode's."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    modes: dict[str, float] = {}
    sets: dict[str, str] = {}
    section = ""
    for line in lines:
        cells = [c.strip() for c in next(csv.reader([line]))] if line.strip() else []
        if not cells or not any(cells):
            section = ""
            continue
        if cells[0] in ("travelModes", "travelSets", "travelSetsTiming"):
            section = cells[0]
            continue
        if cells[0] in ("travelModeIndex", "travelSetIndex", "startTime"):
            continue
        if section == "travelModes" and len(cells) > 1:
            modes[cells[0]] = _arith(cells[1], path=path, what="offRoadSpeed")
        elif section == "travelSets" and len(cells) > 2 and cells[0] == "1":
            sets[cells[1]] = cells[2]
    if not modes:
        raise InputError(f"{path.name}: no travelModes rows", field="travelModes")
    fastest = max(modes.values())
    by_name = {name: p for p, (name, _) in priorities.items()}
    return {
        by_name[name]: round(modes[mode] / fastest, 4)
        for name, mode in sets.items()
        if name in by_name and mode in modes and modes[mode] < fastest
    }


def scenario_documents(
    model: JemssModel, *, name: str, region: str, codes_file: str
) -> tuple[dict[str, object], dict[str, object]]:
    """An editable scenario (stations, units, hospitals, demand, service, speeds inline) and
    its code table (one ambulance code per JEMSS priority, with its target).

    JEMSS ambulance classes become capabilities ``ALS`` (class 1) or ``CLASS<n>``. Demand is
    uniform over the region's nodes: JEMSS's population rasters are not read.
    """
    classes = sorted({a.ambulance_class for a in model.ambulances})
    capability = {c: "ALS" if c == "1" else f"CLASS{c}" for c in classes}
    priorities = model.priorities or {1: ("priority1", 480.0)}
    codes = {
        f"JEMSS_{re.sub(r'[^A-Za-z0-9]+', '_', label).upper()}": {
            "label": f"JEMSS {label} (priority {p})",
            "service": "ambulance",
            "default_priority": p,
            "target_s": target,
            "levels": [{capability[classes[0]]: 1}],
            "advice": ["Stay with the patient; the ambulance is on its way."],
        }
        for p, (label, target) in sorted(priorities.items())
    }
    code_of = {doc["default_priority"]: code for code, doc in codes.items()}
    calls = model.calls
    if calls is not None:
        shares = {
            p: calls.priority_shares[p - 1] for p in priorities if p <= len(calls.priority_shares)
        }
    else:
        shares = {p: 1.0 for p in priorities}
    mix = [{"code": code_of[p], "share": share} for p, share in sorted(shares.items()) if share > 0]
    scenario: dict[str, object] = {
        "name": name,
        "description": f"Imported from the JEMSS model {model.folder}",
        "region": region,
        "codes": codes_file,
        "stations": [
            {
                "id": f"S{s.index}",
                **({"name": s.name} if s.name else {}),
                "lat": s.lat,
                "lon": s.lon,
                **({"capacity": s.capacity} if s.capacity is not None else {}),
            }
            for s in model.stations
        ],
        "units": [
            {
                "id": f"A{a.index}",
                "station": f"S{a.station}",
                "capabilities": [capability[a.ambulance_class]],
            }
            for a in model.ambulances
        ],
        "hospitals": [
            {
                "id": f"H{h.index}",
                **({"name": h.name} if h.name else {}),
                "lat": h.lat,
                "lon": h.lon,
            }
            for h in model.hospitals
        ],
        "demand": {
            "rate_per_h": round(calls.rate_per_h, 6) if calls else 1.0,
            "profile": "flat",
            "spatial": {"kind": "uniform"},
            "mix": mix,
        },
    }
    if calls is not None:
        scenario["service"] = {
            "dispatch_delay_s": {
                "dist": calls.dispatch_delay_s[0],
                "mean": round(calls.dispatch_delay_s[1], 3),
            },
            "on_scene_s": {"dist": calls.on_scene_s[0], "mean": round(calls.on_scene_s[1], 3)},
            "transport_probability": calls.transport_probability,
            "handover_s": {"dist": calls.handover_s[0], "mean": round(calls.handover_s[1], 3)},
            "return_to": "station_available",
        }
    if model.speed_by_priority:
        scenario["speeds"] = {"priority_factor": dict(sorted(model.speed_by_priority.items()))}
    table: dict[str, object] = {
        "version": 1,
        "capabilities": {cap: f"JEMSS ambulance class {c}" for c, cap in capability.items()},
        "codes": codes,
    }
    return scenario, table

"""Fire run cards derived from the units Seattle Fire Department actually sent (June 2017).

The shipped fire codes in ``data/codes.yaml`` are shaped by this derivation, and a test re-runs
it on the real dispatch log and checks that the table still agrees. Run it with
``python -m planner.centre.codes_from_seattle`` to print the figures.

Method. The log has one row per dispatch message (several per incident, in no usable order, and
its ``level`` column is 1 or empty throughout), so an incident's response is the set of distinct
unit ids over all its rows. A unit's apparatus type is the letter prefix of its id (``E17`` →
engine, ``M44`` → medic). For each Seattle incident type the run card takes, per capability,
the median count over its incidents (rounded half up). Each shipped code lists the sources of
its levels: the median of the type itself at level 1, then either a larger Seattle type it
escalates into (an automatic alarm into ``AFA4 - Auto Alarm 2 + 1 + 1``, a single-family fire
into ``Fire in Building``) or the 90th centile of the same type (what the busiest tenth of those
incidents got). Cumulative totals never shrink, so the additive levels are the differences.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from planner.errors import DataMissingError
from planner.settings import get_settings

Statistic = Literal["median", "p90"]

APPARATUS_CAPABILITY: Mapping[str, str] = {
    "E": "ENGINE",
    "L": "LADDER",
    "M": "ALS",
    "A": "BLS",
    "B": "BATTALION_CHIEF",
    "DEP": "DEPUTY_CHIEF",
    "SAFT": "SAFETY",
    "AIR": "AIR",
    "STAF": "COMMAND_STAFF",
    "REHAB": "REHAB",
    "R": "HEAVY_RESCUE",
    "HAZ": "HAZMAT",
    "DECON": "HAZMAT",
    "MCI": "MCI_UNIT",
    "FB": "FIREBOAT",
    "FRB": "RESCUE_BOAT",
}
"""Seattle unit-id prefix → the capability it provides. Units sent after the fact rather than by
the run card (fire marshal ``MAR``, public information ``PIO``, chaplain, fleet) are left out,
and so is the bare ``FIREBOAT`` token the log adds beside the numbered boat (``FB4``) it names."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where one level's cumulative total comes from: a Seattle incident type and a statistic."""

    incident_type: str
    statistic: Statistic = "median"


RUN_CARD_SOURCES: Mapping[str, Sequence[Source]] = {
    "FIRE_IN_BUILDING": (Source("Fire in Building"), Source("Fire in Building", "p90")),
    "FIRE_IN_RESIDENCE": (
        Source("Fire in Single Family Res"),
        Source("Fire in Building"),
        Source("Fire in Building", "p90"),
    ),
    "AUTO_FIRE_ALARM": (
        Source("Auto Fire Alarm"),
        Source("AFA4 - Auto Alarm 2 + 1 + 1"),
        Source("Fire in Building"),
    ),
    "AUTO_FIRE_ALARM_RESIDENTIAL": (
        Source("Automatic Fire Alarm Resd"),
        Source("Fire in Single Family Res"),
    ),
    "CAR_FIRE": (Source("Car Fire"), Source("Car Fire Freeway")),
    "BRUSH_FIRE": (Source("Brush Fire"), Source("Brush Fire", "p90")),
    "RUBBISH_FIRE": (Source("Rubbish Fire"),),
    "AID_RESPONSE": (Source("Aid Response"), Source("Aid Response", "p90")),
    "MEDIC_RESPONSE": (Source("Medic Response"), Source("Medic Response, 7 per Rule", "p90")),
    "MOTOR_VEHICLE_INCIDENT": (
        Source("MVI - Motor Vehicle Incident"),
        Source("Rescue Automobile"),
    ),
    "RESCUE_HEAVY": (Source("Rescue Heavy"), Source("Rescue Heavy", "p90")),
    "RESCUE_ELEVATOR": (Source("Rescue Elevator"),),
    "WATER_RESCUE": (Source("Water Rescue Response"), Source("Water Rescue Response", "p90")),
    "NATURAL_GAS_ODOR": (Source("Natural Gas Odor"), Source("Natural Gas Leak")),
    "CO_ALARM": (Source("Activated CO Detector"),),
    "WIRES_DOWN": (Source("Wires Down"),),
}
"""Shipped fire code → the Seattle incident type (and statistic) behind each of its levels."""


@dataclass(frozen=True, slots=True)
class TypeProfile:
    """What Seattle sent to one incident type: incident count and per-capability statistics."""

    incident_type: str
    incidents: int
    median: Mapping[str, int]
    p90: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class RunCard:
    """A derived run card: the additive levels and the Seattle profiles behind them."""

    code: str
    levels: tuple[Mapping[str, int], ...]
    sources: tuple[Source, ...]

    def requirements(self, level: int) -> dict[str, int]:
        total: dict[str, int] = {}
        for step in self.levels[:level]:
            for capability, count in step.items():
                total[capability] = total.get(capability, 0) + count
        return total


def default_log_path() -> Path:
    return get_settings().data_dir / "regions" / "seattle" / "dispatch_log_2017-06.tsv.gz"


def read_incidents(path: Path | None = None) -> pd.DataFrame:
    """One row per incident: its type and the distinct unit ids sent over all its messages."""
    path = default_log_path() if path is None else path
    if not path.is_file():
        raise DataMissingError(
            f"Seattle dispatch log not found at {path}; set PLANNER_DATA_DIR to the shared data",
            field="data_dir",
        )
    log = pd.read_csv(path, sep="\t", dtype=str)
    log["unit_list"] = log["units"].fillna("").str.replace(",", " ").str.split()
    grouped = log.groupby("incident_number", sort=False)
    return pd.DataFrame(
        {
            "incident_type": grouped["incident_type"].first(),
            "units": grouped["unit_list"].agg(lambda rows: sorted({u for r in rows for u in r})),
        }
    )


def unit_prefix(unit_id: str) -> str:
    """The apparatus type of a Seattle unit id: its leading letters (``AIR9`` → ``AIR``)."""
    match = re.match(r"[A-Z/]+", unit_id.upper())
    return match.group(0) if match else unit_id


def capability_counts(units: Sequence[str]) -> dict[str, int]:
    """How many units of each capability an incident got (unmapped apparatus left out)."""
    counts: dict[str, int] = {}
    for unit in units:
        capability = APPARATUS_CAPABILITY.get(unit_prefix(unit))
        if capability is not None:
            counts[capability] = counts.get(capability, 0) + 1
    return counts


def profile(incidents: pd.DataFrame, incident_type: str) -> TypeProfile:
    """Median and 90th-centile count of each capability over the incidents of one type."""
    units = incidents.loc[incidents["incident_type"] == incident_type, "units"]
    if units.empty:
        raise DataMissingError(f"no incidents of type {incident_type!r} in the Seattle log")
    counts = pd.DataFrame([capability_counts(u) for u in units]).fillna(0)
    order = list(dict.fromkeys(APPARATUS_CAPABILITY.values()))
    counts = counts[sorted(counts.columns, key=lambda c: order.index(str(c)))]
    median = {c: _half_up(float(np.median(counts[c]))) for c in counts.columns}
    p90 = {c: int(np.percentile(counts[c], 90, method="higher")) for c in counts.columns}
    return TypeProfile(
        incident_type=incident_type,
        incidents=len(units),
        median={c: n for c, n in median.items() if n > 0},
        p90={c: n for c, n in p90.items() if n > 0},
    )


def _half_up(x: float) -> int:
    return math.floor(x + 0.5)


def derive_run_cards(
    incidents: pd.DataFrame,
    sources: Mapping[str, Sequence[Source]] = RUN_CARD_SOURCES,
) -> dict[str, RunCard]:
    """Additive run cards for each code from the Seattle profiles its levels name."""
    cache: dict[str, TypeProfile] = {}
    cards: dict[str, RunCard] = {}
    for code, code_sources in sources.items():
        total: dict[str, int] = {}
        levels: list[dict[str, int]] = []
        for source in code_sources:
            if source.incident_type not in cache:
                cache[source.incident_type] = profile(incidents, source.incident_type)
            stats = cache[source.incident_type]
            target = stats.median if source.statistic == "median" else stats.p90
            step = {c: n - total.get(c, 0) for c, n in target.items() if n > total.get(c, 0)}
            for c, n in step.items():
                total[c] = total.get(c, 0) + n
            if step:
                levels.append(step)
        cards[code] = RunCard(code=code, levels=tuple(levels), sources=tuple(code_sources))
    return cards


_PUBLISHED_PART = re.compile(r"(\d+)\s+(ENGINE|LADDER|CHIEF)S?")
_PUBLISHED_CAPABILITY = {"ENGINE": "ENGINE", "LADDER": "LADDER", "CHIEF": "BATTALION_CHIEF"}


def published_run_cards(path: Path | None = None) -> dict[str, dict[str, int]]:
    """The response codes whose description spells out a response (``4RED - 2 ENGINES, ...``)."""
    if path is None:
        path = get_settings().data_dir / "regions" / "seattle" / "response-codes.tsv"
    table = pd.read_csv(path, sep="\t", dtype=str).fillna("")
    cards: dict[str, dict[str, int]] = {}
    for code, description in zip(table["code"], table["description"], strict=True):
        parts = _PUBLISHED_PART.findall(description.upper())
        if parts:
            cards[code] = {_PUBLISHED_CAPABILITY[kind]: int(n) for n, kind in parts}
    return cards


def check_published(incidents: pd.DataFrame) -> list[tuple[str, str, dict[str, int], TypeProfile]]:
    """Each published response next to the median the log shows for its incident type."""
    rows = []
    types = incidents["incident_type"].unique()
    for code, published in published_run_cards().items():
        matching = [str(t) for t in types if str(t).upper().startswith(code)]
        if matching:
            rows.append((code, matching[0], published, profile(incidents, matching[0])))
    return rows


def profiles_for(incidents: pd.DataFrame, *, top: int = 30) -> list[TypeProfile]:
    """Profiles of the ``top`` most frequent incident types, most frequent first."""
    types = incidents["incident_type"].value_counts().head(top).index
    return [profile(incidents, str(t)) for t in types]


def _fmt(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{c} {n}" for c, n in counts.items()) or "-"


def main(argv: Sequence[str] | None = None) -> None:
    """Print the Seattle profiles and the run cards derived from them."""
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else None
    incidents = read_incidents(path)
    print(f"{len(incidents)} incidents")
    print("\nMost frequent incident types: median | 90th centile of units sent")
    for p in profiles_for(incidents, top=25):
        print(f"  {p.incident_type:32s} n={p.incidents:5d}  {_fmt(p.median)} | {_fmt(p.p90)}")
    print("\nPublished responses (response-codes.tsv) against the log's medians")
    for code, incident_type, published, p in check_published(incidents):
        print(
            f"  {code:6s} published {_fmt(published)}; log {incident_type!r} n={p.incidents}: "
            f"{_fmt(p.median)}"
        )
    print("\nDerived run cards (additive levels)")
    for card in derive_run_cards(incidents).values():
        steps = "  /  ".join(f"L{n}: {_fmt(s)}" for n, s in enumerate(card.levels, start=1))
        print(f"  {card.code:28s} {steps}")


if __name__ == "__main__":
    main()

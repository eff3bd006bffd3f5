"""Demand models: when calls arrive, where, and what they are.

Arrivals are a non-homogeneous Poisson process whose rate is piecewise constant per hour: a
base rate (calls per hour) times an hour-of-day × day-of-week multiplier fitted from the real
Montgomery County 911 calls, times any surge factor. Piecewise-constant generation is exact:
each segment of constant rate gets ``Poisson(rate × length)`` calls placed uniformly in it.

Locations are drawn from weighted demand points (road nodes or matrix points); the mix of codes
is categorical. A real call log can be replayed instead (timestamps and types from the log).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from planner.arrays import BoolArray, FloatArray, IntArray
from planner.errors import DataMissingError, InputError
from planner.settings import PROJECT_DATA_DIR
from planner.sim.scenario import Replay, ServiceArea, SurgeSpec

MONTGOMERY_CALLS = "incidents/montgomery_county_pa_911_2015-2016.csv.gz"
"""The real call log, relative to ``get_settings().data_dir``."""

PROFILE_PATH = PROJECT_DATA_DIR / "demand" / "montgomery_profile.json"
"""The committed hour-of-day × day-of-week profile fitted by :func:`fit_profile`."""

SERVICES = ("all", "EMS", "Fire", "Traffic")


@dataclass(frozen=True, slots=True)
class RateProfile:
    """Relative call rate by weekday (Monday = 0) and hour: ``multiplier`` has mean 1."""

    multiplier: FloatArray
    """``(7, 24)`` multipliers of the mean hourly rate."""
    mean_rate_per_h: float
    """Mean calls per hour in the source log (for information; scenarios set their own)."""

    def rate_at(self, when: datetime) -> float:
        """Multiplier for the hour containing ``when``."""
        return float(self.multiplier[when.weekday(), when.hour])


@dataclass(frozen=True, slots=True)
class CallMixEntry:
    """One kind of call in the mix: code, the priority it is simulated with, its share."""

    code: str
    priority: int
    share: float


@dataclass(frozen=True, slots=True)
class Surge:
    """Rate × ``factor`` between ``start_s`` and ``end_s`` (seconds from the start)."""

    start_s: float
    end_s: float
    factor: float


def surge_windows(
    surges: Sequence[SurgeSpec], *, start: datetime, duration_s: float
) -> list[Surge]:
    """Surges as windows in seconds from ``start``; ``daily`` ones repeated every day (their
    hours are clock hours), clipped to the horizon."""
    out: list[Surge] = []
    midnight = -float(start.hour * 3600 + start.minute * 60 + start.second)
    for s in surges:
        if not s.daily:
            out.append(Surge(s.from_h * 3600.0, min(s.to_h * 3600.0, duration_s), s.factor))
            continue
        for day in range(-1, math.ceil(duration_s / 86400.0) + 1):
            a = midnight + 86400.0 * day + s.from_h * 3600.0
            b = midnight + 86400.0 * day + s.to_h * 3600.0
            if b > 0 and a < duration_s:
                out.append(Surge(max(a, 0.0), min(b, duration_s), s.factor))
    return out


def surge_factor(times: FloatArray, surges: Sequence[Surge]) -> FloatArray:
    """The rate factor at each time: the product of the surges covering it (1 elsewhere)."""
    factor = np.ones(len(times))
    for s in surges:
        factor[(times >= s.start_s) & (times < s.end_s)] *= s.factor
    return factor


def load_service_area(area: ServiceArea) -> shapely.Geometry:
    """The service area as a shapely (Multi)Polygon in lon/lat."""
    if area.polygon is not None:
        geometry: shapely.Geometry = shapely.Polygon(area.polygon)
    else:
        assert area.file is not None
        try:
            doc = json.loads(Path(area.file).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(
                f"cannot read service area {area.file}: {exc}", field="service_area.file"
            ) from None
        if doc.get("type") == "FeatureCollection":
            geoms = [f.get("geometry") for f in doc.get("features", [])]
        elif doc.get("type") == "Feature":
            geoms = [doc.get("geometry")]
        else:
            geoms = [doc]
        try:
            geometry = shapely.union_all([shapely.geometry.shape(g) for g in geoms if g])
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{area.file} holds no GeoJSON polygon: {exc}", field="service_area.file"
            ) from None
    if geometry.is_empty or geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError("the service area must be a polygon", field="service_area")
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    shapely.prepare(geometry)
    return geometry


def inside_area(area: shapely.Geometry, lonlat: FloatArray) -> BoolArray:
    """Which ``(n, 2)`` lon/lat points lie inside (or on the border of) ``area``."""
    inside: BoolArray = shapely.intersects_xy(area, lonlat[:, 0], lonlat[:, 1])
    return inside


def read_demand_points(file: str) -> pd.DataFrame:
    """A CSV of demand points: ``lat``, ``lon``, ``weight`` (positive, any scale)."""
    path = Path(file)
    if not path.is_file():
        raise InputError(f"demand points file {file} not found", field="demand.spatial.points")
    frame = pd.read_csv(path)
    missing = {"lat", "lon", "weight"} - set(frame.columns)
    if missing:
        raise InputError(
            f"{path.name} lacks column(s) {', '.join(sorted(missing))}",
            field="demand.spatial.points",
        )
    values: pd.DataFrame = frame[["lat", "lon", "weight"]].apply(pd.to_numeric, errors="coerce")
    bad = values.isna().any(axis=1) | (values["weight"] < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise InputError(
            f"{path.name} line {row}: lat, lon and weight must be numbers (weight >= 0)",
            field="demand.spatial.points",
        )
    return values


def read_log(path: Path, replay: Replay, *, duration_s: float) -> pd.DataFrame:
    """The calls of a log from ``replay.start`` for ``duration_s`` with their codes.

    Returns ``t_s`` (seconds from ``replay.start``), ``code``, ``lat``, ``lon`` and ``priority``
    (``nan`` where the log gives none), sorted by time.
    Columns are named by ``replay.columns``; the separator is a tab for ``.tsv``; types map to
    codes through ``replay.codes`` (``*`` suffix: prefix match) or ``replay.services``.
    """
    if not path.is_file():
        raise DataMissingError(
            f"call log {path} not found; set PLANNER_DATA_DIR to the shared data folder",
            field="demand.replay.file",
        )
    cols = replay.columns
    sep = "\t" if ".tsv" in path.name.lower() else ","
    frame = pd.read_csv(path, sep=sep)
    wanted = {"time": cols.time, "type": cols.type}
    if cols.priority is not None:
        wanted["priority"] = cols.priority
    if replay.locations == "log":
        wanted |= {"lat": cols.lat or "", "lon": cols.lon or ""}
    for key, column in wanted.items():
        if column not in frame.columns:
            known = ", ".join(map(str, frame.columns))
            raise InputError(
                f"{path.name} has no column {column!r} (known: {known})",
                field=f"demand.replay.columns.{key}",
            )
    stamps = pd.to_datetime(frame[cols.time], errors="coerce", format="mixed")
    begin = pd.Timestamp(replay.start)
    end = begin + pd.Timedelta(seconds=duration_s)
    inside = (stamps >= begin) & (stamps < end)
    frame, stamps = frame[inside], stamps[inside]
    codes = [_code_for(str(t), replay) for t in frame[cols.type]]
    mapped = np.array([c is not None for c in codes], dtype=bool)
    if not mapped.any():
        raise InputError(
            f"{path.name} has no mapped calls between {begin} and {end}",
            field="demand.replay.start",
        )
    out = pd.DataFrame(
        {
            "t_s": (stamps - begin).dt.total_seconds().to_numpy()[mapped],
            "code": [c for c in codes if c is not None],
            "lat": pd.to_numeric(frame[cols.lat], errors="coerce").to_numpy()[mapped]
            if cols.lat in frame.columns
            else np.nan,
            "lon": pd.to_numeric(frame[cols.lon], errors="coerce").to_numpy()[mapped]
            if cols.lon in frame.columns
            else np.nan,
            "priority": pd.to_numeric(frame[cols.priority], errors="coerce").to_numpy()[mapped]
            if cols.priority in frame.columns
            else np.nan,
        }
    )
    return out.sort_values("t_s", kind="stable").reset_index(drop=True)


def _code_for(kind: str, replay: Replay) -> str | None:
    if kind in replay.codes:
        return replay.codes[kind]
    for key, code in replay.codes.items():
        if key.endswith("*") and kind.startswith(key[:-1]):
            return code
    service = kind.split(":")[0].strip()
    return replay.services.get(service)


def read_call_log(path: Path) -> pd.DataFrame:
    """Read the Montgomery-style call log: ``timeStamp``, ``title``, ``lat``, ``lng``."""
    if not path.is_file():
        raise DataMissingError(
            f"call log {path} not found; set PLANNER_DATA_DIR to the shared data folder",
            field="demand.file",
        )
    df = pd.read_csv(path, usecols=["lat", "lng", "title", "timeStamp"])
    df["timeStamp"] = pd.to_datetime(df["timeStamp"])
    df["service"] = df["title"].str.split(":").str[0].str.strip()
    return df.sort_values("timeStamp", kind="stable").reset_index(drop=True)


def fit_profile(calls: pd.DataFrame) -> RateProfile:
    """Fit calls per hour by weekday × hour: counts divided by the hours of exposure.

    Exposure counts how many times each (weekday, hour) slot occurs between the first and the
    last whole hour of the log, so a partially observed week does not bias the profile.
    """
    if calls.empty:
        raise InputError("no calls to fit a profile from", field="calls")
    stamps = pd.DatetimeIndex(calls["timeStamp"])
    first = stamps.min().floor("h")
    last = stamps.max().floor("h")
    hours = pd.date_range(first, last, freq="h")
    exposure = np.zeros((7, 24))
    np.add.at(exposure, (hours.day_of_week.to_numpy(), hours.hour.to_numpy()), 1.0)
    counts = np.zeros((7, 24))
    np.add.at(counts, (stamps.day_of_week.to_numpy(), stamps.hour.to_numpy()), 1.0)
    rate = counts / np.maximum(exposure, 1.0)
    mean_rate = float(counts.sum() / exposure.sum())
    return RateProfile(multiplier=rate / mean_rate, mean_rate_per_h=mean_rate)


def fit_montgomery_profiles(path: Path) -> dict[str, RateProfile]:
    """Profiles for all calls and per service (EMS, Fire, Traffic) of the Montgomery log."""
    calls = read_call_log(path)
    profiles = {"all": fit_profile(calls)}
    for service in SERVICES[1:]:
        profiles[service] = fit_profile(calls[calls["service"] == service])
    return profiles


def load_profile(service: str = "EMS", *, path: Path = PROFILE_PATH) -> RateProfile:
    """The committed fitted profile for ``service`` (``all``, ``EMS``, ``Fire``, ``Traffic``)."""
    doc = json.loads(path.read_text())
    if service not in doc["profiles"]:
        raise InputError(
            f"unknown profile {service!r}; known: {', '.join(doc['profiles'])}",
            field="demand.profile",
        )
    entry = doc["profiles"][service]
    return RateProfile(
        multiplier=np.asarray(entry["multiplier"], dtype=np.float64),
        mean_rate_per_h=float(entry["mean_rate_per_h"]),
    )


def flat_profile() -> RateProfile:
    """A constant rate (as in the published Manhattan experiments)."""
    return RateProfile(multiplier=np.ones((7, 24)), mean_rate_per_h=1.0)


def arrival_times(
    rng: np.random.Generator,
    *,
    start: datetime,
    duration_s: float,
    rate_per_h: float,
    profile: RateProfile,
    surges: Sequence[Surge] = (),
) -> FloatArray:
    """Sorted arrival times (seconds from ``start``) of the piecewise-constant Poisson process.

    Segment boundaries are the clock hours and the surge edges; the rate is constant inside.
    """
    cuts = {0.0, duration_s}
    first_hour = 3600.0 - (start.minute * 60 + start.second + start.microsecond / 1e6)
    cuts.update(np.arange(first_hour % 3600.0, duration_s, 3600.0).tolist())
    for s in surges:
        cuts.update(t for t in (s.start_s, s.end_s) if 0.0 < t < duration_s)
    edges = np.array(sorted(cuts))
    times: list[FloatArray] = []
    for a, b in itertools.pairwise(edges.tolist()):
        if b <= a:
            continue
        rate = rate_per_h * profile.rate_at(start + timedelta(seconds=a))
        for s in surges:
            if s.start_s <= a < s.end_s:
                rate *= s.factor
        n = rng.poisson(rate * (b - a) / 3600.0)
        times.append(np.sort(rng.uniform(a, b, size=n)))
    return np.concatenate(times) if times else np.zeros(0)


def draw_points(rng: np.random.Generator, weights: FloatArray, n: int) -> IntArray:
    """``n`` demand-point indices drawn with probability proportional to ``weights``."""
    total = float(weights.sum())
    if n and (total <= 0 or not np.isfinite(total)):
        raise InputError("demand weights must be positive and finite", field="demand.spatial")
    return rng.choice(len(weights), size=n, p=weights / total).astype(np.int64)


def draw_mix(rng: np.random.Generator, mix: Sequence[CallMixEntry], n: int) -> IntArray:
    """``n`` indices into ``mix`` drawn by share."""
    shares = np.array([m.share for m in mix], dtype=np.float64)
    return rng.choice(len(mix), size=n, p=shares / shares.sum()).astype(np.int64)


def replay_calls(calls: pd.DataFrame, *, duration_s: float, log_from: datetime) -> pd.DataFrame:
    """Calls of a log from ``log_from`` for ``duration_s``, as offsets from ``log_from``.

    Returns ``t_s`` (seconds from ``log_from``), ``service``, ``title``, ``lat``, ``lon``.
    """
    begin = pd.Timestamp(log_from)
    end = begin + pd.Timedelta(seconds=duration_s)
    window = calls[(calls["timeStamp"] >= begin) & (calls["timeStamp"] < end)]
    if window.empty:
        raise InputError(
            f"the call log has no calls between {begin} and {end}", field="demand.replay_from"
        )
    return pd.DataFrame(
        {
            "t_s": (window["timeStamp"] - begin).dt.total_seconds().to_numpy(),
            "service": window["service"].to_numpy(),
            "title": window["title"].to_numpy(),
            "lat": window["lat"].to_numpy(),
            "lon": window["lng"].to_numpy(),
        }
    )

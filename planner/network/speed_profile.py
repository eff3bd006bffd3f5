"""Emergency speed profile: how fast a unit with lights and siren drives on each road class.

OSM gives a posted ``maxspeed`` on some roads only. Where it is missing we use a fallback speed
per ``highway`` class (typical urban limits, as osmnx's documentation suggests supplying), then
multiply by an *emergency factor* per class: emergency vehicles may exceed the limit, and gain
most on low-class roads where normal traffic drives well below the limit. The default factors are
assumptions in the range reported for ambulance driving with siren (roughly +10 % on motorways to
+30-40 % on residential streets; cf. the Dutch RIVM/ELASPY siren-speed model and
Westgate et al. 2016, "Large-network travel time distribution estimation for ambulances"),
not values fitted to data. Change them per region with :class:`SpeedProfile`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_FALLBACK_KPH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 100.0,
        "motorway_link": 60.0,
        "trunk": 80.0,
        "trunk_link": 50.0,
        "primary": 60.0,
        "primary_link": 40.0,
        "secondary": 50.0,
        "secondary_link": 40.0,
        "tertiary": 40.0,
        "tertiary_link": 30.0,
        "unclassified": 40.0,
        "residential": 30.0,
        "living_street": 10.0,
        "service": 20.0,
        "road": 30.0,
    }
)
"""Typical speeds (km/h) where OSM has no ``maxspeed``: urban limits in the EU/US range."""

DEFAULT_EMERGENCY_FACTOR: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 1.1,
        "motorway_link": 1.1,
        "trunk": 1.15,
        "trunk_link": 1.15,
        "primary": 1.2,
        "primary_link": 1.2,
        "secondary": 1.25,
        "secondary_link": 1.25,
        "tertiary": 1.25,
        "tertiary_link": 1.25,
        "unclassified": 1.3,
        "residential": 1.3,
        "living_street": 1.3,
        "service": 1.2,
    }
)
"""Multiplier on the (posted or fallback) speed per class; assumed, see the module docstring."""


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """Speeds that turn road lengths into emergency travel times.

    ``fallback_kph`` applies where ``maxspeed`` is missing (classes not listed get the mean of
    that class's posted speeds, else ``default_kph``); the result is multiplied by
    ``emergency_factor`` (``default_factor`` for unlisted classes) and capped at ``max_kph``.
    """

    fallback_kph: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FALLBACK_KPH))
    emergency_factor: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_EMERGENCY_FACTOR)
    )
    default_kph: float = 30.0
    default_factor: float = 1.2
    max_kph: float = 130.0

    def __post_init__(self) -> None:
        for name, value in (*self.fallback_kph.items(), ("default_kph", self.default_kph)):
            if not value > 0:
                raise ValueError(f"fallback speed for {name!r} must be positive, got {value}")
        for name, value in (*self.emergency_factor.items(), ("default", self.default_factor)):
            if not value > 0:
                raise ValueError(f"emergency factor for {name!r} must be positive, got {value}")

    def factor(self, highway: str | list[str] | None) -> float:
        """Emergency factor of a road class (osmnx may give a list after simplification)."""
        if isinstance(highway, list):
            highway = highway[0] if highway else None
        if highway is None:
            return self.default_factor
        return self.emergency_factor.get(highway, self.default_factor)

    def emergency_kph(self, highway: str | list[str] | None, base_kph: float) -> float:
        """Emergency speed on a road whose posted or fallback speed is ``base_kph``."""
        return min(base_kph * self.factor(highway), self.max_kph)

    def fingerprint(self) -> str:
        """Stable short hash: part of the cache key of a prepared region."""
        payload = json.dumps(
            {
                "fallback": sorted(self.fallback_kph.items()),
                "factor": sorted(self.emergency_factor.items()),
                "default_kph": self.default_kph,
                "default_factor": self.default_factor,
                "max_kph": self.max_kph,
            }
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


JEMSS_MANHATTAN_REGULAR_KPH = (72.0, 35.0, 25.0, 22.0, 11.0, 11.0)
"""JEMSS Manhattan "regular" speeds of its classes 1-6 (motorway … unclassified/residential)."""

_JEMSS_CLASSES = (
    ("motorway", "motorway_link"),
    ("trunk", "trunk_link"),
    ("primary", "primary_link"),
    ("secondary", "secondary_link"),
    ("tertiary", "tertiary_link"),
    ("unclassified", "residential", "living_street", "service", "road"),
)

JEMSS_MANHATTAN_KPH: Mapping[str, float] = MappingProxyType(
    {
        road_class: kph * 4.0 / 3.0
        for names, kph in zip(_JEMSS_CLASSES, JEMSS_MANHATTAN_REGULAR_KPH, strict=True)
        for road_class in names
    }
)
"""Lights-and-sirens speeds (km/h) by OSM class of the published JEMSS Manhattan model
(``models/1/travel/roads/run.jl``: regular ``[72, 35, 25, 22, 11, 11]`` for motorway, trunk,
primary, secondary, tertiary, unclassified/residential; lights and sirens × 4/3). Links take
their parent class; service roads and living streets (not in JEMSS's network) the lowest."""

CALIBRATED_CLASS_KPH: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {"manhattan": JEMSS_MANHATTAN_KPH}
)
"""Shipped regions whose default emergency speeds are a published model's class speeds."""

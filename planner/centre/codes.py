"""Uniform incident codes and their response plans, read from a user-editable YAML table.

Each code carries its label, service, default priority, target response time, the response plan
per escalation level (additive, like fire services' run cards and alarm levels: level 2 *adds*
to level 1) and the approved advice a call handler may give. The table is validated once at
load; inside, codes are plain frozen dataclasses the engine can read without re-checking.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from planner.errors import InputError
from planner.settings import PROJECT_DATA_DIR
from planner.yaml_io import load_yaml

DEFAULT_CODES_PATH = PROJECT_DATA_DIR / "codes.yaml"

Service = Literal["ambulance", "fire", "police", "utility"]
SERVICES: tuple[Service, ...] = ("ambulance", "fire", "police", "utility")

CommandLevel = Literal["bronze", "silver", "gold"]
COMMAND_LEVELS: tuple[CommandLevel, ...] = ("bronze", "silver", "gold")
"""Operational, tactical, strategic: the order in which command is raised."""

_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_COMMAND_KEY = "command_level"


class UnknownCodeError(InputError, KeyError):
    """An incident code that is not in the table (also a ``KeyError`` for mapping idioms)."""


# --------------------------------------------------------------------------------------------
# Schema of the file (pydantic, at the edge)


class _Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    casualties_level2: Annotated[StrictInt, Field(ge=1)] | None = None
    casualties_level3: Annotated[StrictInt, Field(ge=1)] | None = None
    major_incident_casualties: Annotated[StrictInt, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> _Escalation:
        thresholds = (
            self.casualties_level2,
            self.casualties_level3,
            self.major_incident_casualties,
        )
        steps = [v for v in thresholds if v is not None]
        if steps != sorted(steps):
            raise ValueError(
                "casualty thresholds must not decrease: "
                "casualties_level2 <= casualties_level3 <= major_incident_casualties"
            )
        return self


class _Code(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: Annotated[str, Field(min_length=1)]
    service: Service
    default_priority: Annotated[StrictInt, Field(ge=1, le=5)]
    target_s: Annotated[float, Field(gt=0)]
    target_p90_s: Annotated[float, Field(gt=0)] | None = None
    target_fraction: Annotated[float, Field(gt=0, le=1)] | None = None
    levels: Annotated[list[dict[str, Any]], Field(min_length=1)]
    advice: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    escalation: _Escalation | None = None

    @model_validator(mode="after")
    def _check_targets(self) -> _Code:
        if self.target_p90_s is not None and self.target_fraction is not None:
            raise ValueError("give either target_p90_s or target_fraction, not both")
        if self.target_p90_s is not None and self.target_p90_s < self.target_s:
            raise ValueError(
                f"target_p90_s ({self.target_p90_s:g}) is below target_s ({self.target_s:g})"
            )
        esc = self.escalation
        if esc is not None:
            if esc.casualties_level2 is not None and len(self.levels) < 2:
                raise ValueError("escalation.casualties_level2 set but the code has one level")
            if esc.casualties_level3 is not None and len(self.levels) < 3:
                raise ValueError("escalation.casualties_level3 set but the code has < 3 levels")
        return self


def _check_level(level: dict[str, Any], *, declared: Mapping[str, str]) -> str | None:
    """What is wrong with one level of a plan, or ``None``."""
    units = {k: v for k, v in level.items() if k != _COMMAND_KEY}
    if not units:
        return "sends no units: give at least one CAPABILITY: count"
    for key, count in units.items():
        if not isinstance(key, str) or not _NAME.match(key):
            return (
                f"unknown key {key!r} (capabilities are UPPER_CASE names; "
                f"the only other key is {_COMMAND_KEY!r})"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            return f"{key} count must be a whole number >= 1, got {count!r}"
        if key not in declared:
            close = difflib.get_close_matches(key, list(declared), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            return f"capability {key!r} is not declared under 'capabilities'{hint}"
    command = level.get(_COMMAND_KEY)
    if command is not None and command not in COMMAND_LEVELS:
        return f"{_COMMAND_KEY} must be one of {', '.join(COMMAND_LEVELS)}, got {command!r}"
    return None


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    capabilities: Annotated[dict[str, Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    codes: Annotated[dict[str, _Code], Field(min_length=1)]

    @field_validator("capabilities", "codes")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not an UPPER_CASE name (A-Z, 0-9, _)")
        return value


# --------------------------------------------------------------------------------------------
# The validated table


@dataclass(frozen=True, slots=True)
class Escalation:
    """Casualty thresholds at which a code's response escalates (``None``: no threshold)."""

    casualties_level2: int | None = None
    casualties_level3: int | None = None
    major_incident_casualties: int | None = None


@dataclass(frozen=True, slots=True)
class IncidentCode:
    """One incident code: who goes at each level, how fast, and what to tell the caller."""

    code: str
    label: str
    service: Service
    default_priority: int
    target_s: float
    """Per-incident response target in seconds (ARP Cat 1/2: the mean; Cat 3/4: the centile)."""
    levels: tuple[Mapping[str, int], ...]
    """The *additional* units each level sends, as written in the table."""
    command_levels: tuple[CommandLevel | None, ...]
    """The command level to inform as each level is reached, where the table names one."""
    advice: tuple[str, ...]
    target_p90_s: float | None = None
    """A 90th-centile standard held alongside a mean ``target_s`` (ARP Cat 1/2)."""
    target_fraction: float | None = None
    """The share of incidents to be reached within ``target_s`` when it is a centile bound."""
    escalation: Escalation | None = None

    @property
    def max_level(self) -> int:
        return len(self.levels)

    def requirements(self, level: int = 1) -> dict[str, int]:
        """The total response at ``level``: levels 1..level summed (beyond the last: the last)."""
        if isinstance(level, bool) or not isinstance(level, int) or level < 1:
            raise InputError(
                f"escalation level must be a whole number >= 1, got {level!r}", field="level"
            )
        total: dict[str, int] = {}
        for step in self.levels[: min(level, self.max_level)]:
            for capability, count in step.items():
                total[capability] = total.get(capability, 0) + count
        return total

    def command_level(self, level: int) -> CommandLevel | None:
        """The highest command level named for levels 1..level (command is never lowered)."""
        named = [c for c in self.command_levels[: max(level, 0)] if c is not None]
        return max(named, key=COMMAND_LEVELS.index) if named else None

    def level_for_casualties(self, casualties: int) -> int:
        """The escalation level the table's casualty thresholds call for (1 without any)."""
        esc = self.escalation
        if esc is None:
            return 1
        if esc.casualties_level3 is not None and casualties >= esc.casualties_level3:
            return 3
        if esc.casualties_level2 is not None and casualties >= esc.casualties_level2:
            return 2
        return 1

    def is_major_incident(self, casualties: int) -> bool:
        """Whether ``casualties`` reaches the table's major-incident threshold for this code."""
        esc = self.escalation
        return bool(
            esc
            and esc.major_incident_casualties is not None
            and casualties >= esc.major_incident_casualties
        )

    @property
    def standard(self) -> str:
        """The response standard in words, e.g. ``mean 7 min, 90th centile 15 min``."""
        if self.target_fraction is not None:
            return f"{self.target_fraction:.0%} within {_minutes(self.target_s)}"
        if self.target_p90_s is not None:
            return f"mean {_minutes(self.target_s)}, 90th centile {_minutes(self.target_p90_s)}"
        return f"within {_minutes(self.target_s)}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view: the additive levels as written and the cumulative totals."""
        return {
            "code": self.code,
            "label": self.label,
            "service": self.service,
            "default_priority": self.default_priority,
            "target_s": self.target_s,
            "target_p90_s": self.target_p90_s,
            "target_fraction": self.target_fraction,
            "standard": self.standard,
            "levels": [
                {
                    "level": n,
                    "adds": dict(step),
                    "total": self.requirements(n),
                    "command_level": self.command_level(n),
                }
                for n, step in enumerate(self.levels, start=1)
            ],
            "advice": list(self.advice),
            "escalation": None
            if self.escalation is None
            else {
                "casualties_level2": self.escalation.casualties_level2,
                "casualties_level3": self.escalation.casualties_level3,
                "major_incident_casualties": self.escalation.major_incident_casualties,
            },
        }


def _minutes(seconds: float) -> str:
    """``420`` → ``7 min``; a target that is not whole minutes stays in seconds (``320 s``)."""
    return f"{seconds / 60:g} min" if seconds % 60 == 0 else f"{seconds:g} s"


class CodeTable:
    """All incident codes of a control room, in file order; look codes up with ``table[code]``."""

    def __init__(
        self,
        codes: Mapping[str, IncidentCode],
        capabilities: Mapping[str, str],
        *,
        source: str = "<memory>",
    ) -> None:
        self._codes = MappingProxyType(dict(codes))
        self._capabilities = MappingProxyType(dict(capabilities))
        self.source = source

    @classmethod
    def load(cls, path: Path | None = None) -> CodeTable:
        """Read and validate a code table (default ``data/codes.yaml``); errors name the field."""
        path = DEFAULT_CODES_PATH if path is None else Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                f"cannot read code table {path}: {exc.strerror}", field="codes"
            ) from None
        return cls.from_yaml(text, source=str(path))

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<string>") -> CodeTable:
        """Validate a code table given as YAML text."""
        return cls.from_data(load_yaml(text, source=source), source=source)

    @classmethod
    def from_data(cls, raw: object, *, source: str = "<data>") -> CodeTable:
        """Validate a code table given as parsed data: the file's schema, or :meth:`to_data`'s
        (``codes`` as a list of entries each naming its ``code``)."""
        if not isinstance(raw, dict):
            raise InputError(f"expected a mapping with 'capabilities' and 'codes' ({source})")
        if isinstance(raw.get("codes"), list):
            raw = {**raw, "codes": _codes_by_name(raw["codes"], source=source)}
        try:
            table = _Table.model_validate(raw)
        except ValidationError as exc:
            raise _input_error(exc, source=source) from None
        _check_levels(table, source=source)
        codes = {name: _to_code(name, c) for name, c in table.codes.items()}
        return cls(codes, table.capabilities, source=source)

    def __getitem__(self, code: str) -> IncidentCode:
        try:
            return self._codes[code]
        except KeyError:
            close = difflib.get_close_matches(str(code).upper(), list(self._codes), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownCodeError(f"unknown incident code {code!r}{hint}", field="code") from None

    def get(self, code: str) -> IncidentCode | None:
        return self._codes.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def __iter__(self) -> Iterator[IncidentCode]:
        """Iterate over the codes themselves (not their names), in file order."""
        return iter(self._codes.values())

    def __len__(self) -> int:
        return len(self._codes)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._codes)

    @property
    def capabilities(self) -> frozenset[str]:
        """Every capability name the table declares (a superset of those its plans use)."""
        return frozenset(self._capabilities)

    def for_service(self, service: Service) -> tuple[IncidentCode, ...]:
        return tuple(c for c in self if c.service == service)

    def to_data(self) -> dict[str, Any]:
        """The table as plain JSON data in the file's schema, for the incident log.

        ``codes`` is a list (each entry names its ``code``) so the file order survives the
        log's sorted-key JSON; :meth:`from_data` reads it back to an equal table.
        """
        return copy.deepcopy(self._data)

    @cached_property
    def _data(self) -> dict[str, Any]:
        return {
            "version": 1,
            "capabilities": dict(self._capabilities),
            "codes": [_code_data(c) for c in self],
        }

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the table's content (:meth:`to_data` as sorted-key compact JSON):
        equal for equal tables whatever the file's comments, layout or path."""
        text = json.dumps(self._data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The whole table as JSON-ready data, for the API's read-only endpoint."""
        return {
            "version": 1,
            "capabilities": dict(self._capabilities),
            "codes": [c.to_json() for c in self],
        }


def _to_code(name: str, c: _Code) -> IncidentCode:
    levels = tuple(
        MappingProxyType({k: int(v) for k, v in step.items() if k != _COMMAND_KEY})
        for step in c.levels
    )
    commands = tuple(step.get(_COMMAND_KEY) for step in c.levels)
    esc = None if c.escalation is None else Escalation(**c.escalation.model_dump())
    return IncidentCode(
        code=name,
        label=c.label,
        service=c.service,
        default_priority=c.default_priority,
        target_s=c.target_s,
        target_p90_s=c.target_p90_s,
        target_fraction=c.target_fraction,
        levels=levels,
        command_levels=commands,
        advice=tuple(c.advice),
        escalation=esc,
    )


def _code_data(code: IncidentCode) -> dict[str, Any]:
    """One code in the file's schema (optional fields only when set), named by ``code``."""
    levels = [
        {**step, _COMMAND_KEY: command} if command is not None else dict(step)
        for step, command in zip(code.levels, code.command_levels, strict=True)
    ]
    data: dict[str, Any] = {
        "code": code.code,
        "label": code.label,
        "service": code.service,
        "default_priority": code.default_priority,
        "target_s": code.target_s,
        "levels": levels,
        "advice": list(code.advice),
    }
    if code.target_p90_s is not None:
        data["target_p90_s"] = code.target_p90_s
    if code.target_fraction is not None:
        data["target_fraction"] = code.target_fraction
    if code.escalation is not None:
        esc = code.escalation
        data["escalation"] = {
            k: v
            for k, v in (
                ("casualties_level2", esc.casualties_level2),
                ("casualties_level3", esc.casualties_level3),
                ("major_incident_casualties", esc.major_incident_casualties),
            )
            if v is not None
        }
    return data


def _codes_by_name(entries: list[Any], *, source: str) -> dict[str, Any]:
    """:meth:`CodeTable.to_data`'s list of codes back to the file's mapping, in order."""
    codes: dict[str, Any] = {}
    for n, entry in enumerate(entries, start=1):
        name = entry.get("code") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise InputError(f"each code needs a 'code' name ({source})", field=f"codes[{n}].code")
        if name in codes:
            raise InputError(f"code {name!r} appears twice ({source})", field=f"codes[{n}].code")
        codes[name] = {k: v for k, v in entry.items() if k != "code"}
    return codes


def _check_levels(table: _Table, *, source: str) -> None:
    for name, code in table.codes.items():
        for n, level in enumerate(code.levels, start=1):
            problem = _check_level(level, declared=table.capabilities)
            if problem is not None:
                raise InputError(f"{problem} ({source})", field=f"codes.{name}.levels[{n}]")


def _input_error(exc: ValidationError, *, source: str) -> InputError:
    """One line naming each offending field (``codes.CAR_FIRE.default_priority``)."""
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = _field_path(err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append((loc, msg.removeprefix("Value error, ")))
    (field, first), rest = problems[0], problems[1:]
    text = "; ".join([first, *(f"{loc}: {msg}" for loc, msg in rest)])
    return InputError(f"{text} ({source})", field=field or None)


def _field_path(loc: tuple[int | str, ...]) -> str:
    """``('codes', 'X', 'levels', 0)`` → ``codes.X.levels[1]``: positions count from 1."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else str(part)
    return out

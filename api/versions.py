"""Per-resource versions: each incident, unit, contact and closure has its own.

A resource's version is the state version (log seq) of the last write that changed it, so an
AVL report for one unit leaves every other unit's and every incident's version as it was.
:class:`ResourceVersions` follows the engine (a subscriber): after each outcome it compares
every resource with the snapshot it last saw and moves the changed ones to the new version.
An incident's snapshot is its record plus the ids and statuses of the units committed to it
(not their positions, which change at AVL rate). Collections (the lists) are versioned by the
state version itself. After a restart every resource starts at the state version the server
started at: an ``If-Match`` from before the restart gets 412 and the client reads again.

The helpers below turn versions into ``ETag`` headers and apply ``If-None-Match`` (304) and
``If-Match`` (412).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Literal

from fastapi import Request
from fastapi.responses import Response

from api.errors import PreconditionFailed
from planner.centre.engine import Engine, Outcome
from planner.centre.state import CentreState
from planner.errors import InputError

Kind = Literal["incident", "unit", "contact", "closure"]
KINDS: tuple[Kind, ...] = ("incident", "unit", "contact", "closure")


def _sources(state: CentreState) -> dict[Kind, tuple[Mapping[str, Hashable], ...]]:
    """The state's mappings each kind's snapshot is made of. The engine's state is immutable
    and replaces a mapping only when something in it changes, so an unchanged mapping (the
    same object) means unchanged resources: a write then costs nothing per contact or closure
    however many the centre has accumulated."""
    return {
        "incident": (state.incidents, state.units),
        "unit": (state.units,),
        "contact": (state.contacts,),
        "closure": (state.closures,),
    }


def _incident_snapshots(state: CentreState) -> Mapping[str, Hashable]:
    """Each incident with the ids and statuses of the units committed to it."""
    committed: dict[str, list[tuple[str, str]]] = {}
    for unit in state.units.values():
        if unit.incident is not None:
            committed.setdefault(unit.incident, []).append((unit.id, unit.status.value))
    return {i: (inc, tuple(sorted(committed.get(i, ())))) for i, inc in state.incidents.items()}


class ResourceVersions:
    """The version of every live resource (and of resources removed while serving)."""

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._seen: dict[Kind, dict[str, tuple[Hashable, int]]] = {k: {} for k in KINDS}
        self._gone: dict[Kind, dict[str, int]] = {k: {} for k in KINDS}
        self._read: dict[Kind, tuple[Mapping[str, Hashable], ...]] = {}
        self._engine = engine
        self._unsubscribe = engine.subscribe(self._on_outcome)
        self._observe(engine.state, engine.version)

    def close(self) -> None:
        self._unsubscribe()

    def _on_outcome(self, outcome: Outcome) -> None:
        self._observe(self._engine.state, outcome.version)

    def _observe(self, state: CentreState, version: int) -> None:
        with self._lock:
            for kind, sources in _sources(state).items():
                read = self._read.get(kind)
                if read is not None and all(a is b for a, b in zip(read, sources, strict=True)):
                    continue
                self._read[kind] = sources
                now = _incident_snapshots(state) if kind == "incident" else sources[0]
                seen = self._seen[kind]
                for rid, snap in now.items():
                    old = seen.get(rid)
                    if old is None or (old[0] is not snap and old[0] != snap):
                        seen[rid] = (snap, version)
                        self._gone[kind].pop(rid, None)
                for rid in [r for r in seen if r not in now]:
                    del seen[rid]
                    self._gone[kind][rid] = version

    def version(self, kind: Kind, rid: str) -> int | None:
        """The resource's current version (None: it does not exist now)."""
        with self._lock:
            found = self._seen[kind].get(rid)
        return None if found is None else found[1]

    def removed_at(self, kind: Kind, rid: str) -> int | None:
        """The version at which a resource was removed (closed) while this process served."""
        with self._lock:
            return self._gone[kind].get(rid)


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


def not_modified(request: Request, version: int) -> Response | None:
    """A 304 when ``If-None-Match`` names ``version`` (or is ``*``), else None."""
    header = request.headers.get("if-none-match")
    if header is None:
        return None
    tags = _tags(header)
    if "*" in tags or etag(version) in tags:
        return Response(status_code=304, headers={"ETag": etag(version)})
    return None


def check_if_match(expected: int | None, current: int | None, *, what: str) -> None:
    """412 when ``If-Match`` named another version than the resource's current one."""
    if expected is None or current is None:
        return
    if expected != current:
        raise PreconditionFailed(
            f"{what} is at version {current}, not {expected}; read it again", field="If-Match"
        )


def parse_version(value: str, *, field: str) -> int:
    """A version from an entity tag (``"12"``, ``12``, ``W/"12"``)."""
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 18:
        raise InputError('must be a version, e.g. "12"', field=field)
    return int(text)

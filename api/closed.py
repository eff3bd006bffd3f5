"""Closed incidents: the engine's state keeps only their ids, integrators want to list them.

:class:`IncidentHistory` folds the incident events of the log (at start-up) and of every
outcome since (an engine subscriber) into one :class:`IncidentSummary` per incident: code,
priority, level, location, opening and closing times and outcome. One fold serves both, so
a restarted server lists the same closed incidents as before. The same fold numbers each
incident's CAP revisions (its opening and every change a CAP message carries).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from planner.centre.engine import Engine, Outcome
from planner.centre.exports import CapRevision
from planner.log.incident_log import IncidentLog
from planner.network.geo import Location

_KINDS = frozenset(
    {
        "incident_opened",
        "incident_updated",
        "incident_escalated",
        "incident_downgraded",
        "incident_closed",
    }
)
_CAP_KINDS = _KINDS | {"dispatch_accepted", "dispatch_overridden"}
"""Changes to what a CAP message of the incident carries: each one is a new CAP revision."""


class IncidentSummary(BaseModel):
    """An incident's operational summary (no personal data), open or closed."""

    id: str
    code: str
    priority: int | None
    level: int
    lat: float
    lon: float
    opened_at: datetime
    closed_at: datetime | None = None
    outcome: str | None = None
    revision: int
    """The log seq of the last incident event folded in."""

    @property
    def location(self) -> Location:
        return Location(self.lat, self.lon)


def _fold(
    summaries: dict[str, IncidentSummary],
    revisions: dict[str, list[CapRevision]],
    kind: str,
    payload: dict[str, Any],
    seq: int,
) -> None:
    rid = payload.get("incident_id")
    if kind not in _CAP_KINDS or not isinstance(rid, str):
        return
    at = payload.get("at")
    if kind == "incident_opened" or rid in revisions:
        numbered = revisions.setdefault(rid, [])
        when = datetime.fromisoformat(str(at)) if at else numbered[-1].at
        numbered.append(CapRevision(len(numbered) + 1, when))
    if kind not in _KINDS:
        return
    if kind == "incident_opened":
        loc = payload["location"]
        summaries[rid] = IncidentSummary(
            id=rid,
            code=payload["code"],
            priority=payload.get("priority"),
            level=1,
            lat=loc["lat"],
            lon=loc["lon"],
            opened_at=datetime.fromisoformat(str(at)),
            revision=seq,
        )
        return
    current = summaries.get(rid)
    if current is None:
        return
    changes: dict[str, Any] = {"revision": seq}
    if kind == "incident_updated":
        for name in ("code", "priority"):
            if payload.get(name) is not None:
                changes[name] = payload[name]
        if payload.get("location") is not None:
            changes["lat"], changes["lon"] = payload["location"]["lat"], payload["location"]["lon"]
    elif kind in {"incident_escalated", "incident_downgraded"}:
        changes["level"] = payload["level"]
    else:
        changes["closed_at"] = datetime.fromisoformat(str(at))
        changes["outcome"] = payload.get("outcome")
    summaries[rid] = current.model_copy(update=changes)


class IncidentHistory:
    """Every incident's summary, kept current by following the engine."""

    def __init__(self, log: IncidentLog, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._summaries: dict[str, IncidentSummary] = {}
        self._revisions: dict[str, list[CapRevision]] = {}
        with self._lock:
            for entry in log.entries():
                _fold(self._summaries, self._revisions, entry.kind, entry.payload, entry.seq)
        self._unsubscribe = engine.subscribe(self._on_outcome)

    def close(self) -> None:
        self._unsubscribe()

    def _on_outcome(self, outcome: Outcome) -> None:
        with self._lock:
            for n, event in enumerate((outcome.event, *outcome.derived)):
                payload = event.model_dump(mode="json")
                _fold(
                    self._summaries,
                    self._revisions,
                    event.type,
                    payload,
                    outcome.seq if n == 0 else outcome.version,
                )

    def closed(self) -> list[IncidentSummary]:
        with self._lock:
            return [s for s in self._summaries.values() if s.closed_at is not None]

    def get(self, incident_id: str) -> IncidentSummary | None:
        with self._lock:
            return self._summaries.get(incident_id)

    def revisions(self, incident_id: str) -> list[CapRevision]:
        """The incident's CAP revisions so far, oldest first (empty: unknown incident)."""
        with self._lock:
            return list(self._revisions.get(incident_id, ()))

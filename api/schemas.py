"""Response bodies shared by several routers (request bodies live beside their router)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from planner.centre.events import RecommendationIssued, RecommendedAssignment, RecommendedUnmet
from planner.centre.state import ClosureState, ContactState, IncidentState, UnitState
from planner.log.incident_log import LogEntry


class LogEntryOut(BaseModel):
    """One incident-log entry; ``personal`` only for roles allowed to read it, on request."""

    seq: int
    kind: str
    payload: dict[str, Any]
    incident: str | None
    actor: str | None
    recorded_at: datetime
    hash: str
    prev_hash: str
    has_personal: bool
    redacted: bool
    personal: dict[str, Any] | None = Field(
        default=None, description="Present only when asked for with ?personal=true (logged)."
    )

    @classmethod
    def of(cls, entry: LogEntry, *, personal: dict[str, Any] | None = None) -> LogEntryOut:
        return cls(
            seq=entry.seq,
            kind=entry.kind,
            payload=entry.payload,
            incident=entry.incident,
            actor=entry.actor,
            recorded_at=entry.recorded_at,
            hash=entry.hash,
            prev_hash=entry.prev_hash,
            has_personal=entry.has_personal,
            redacted=entry.redacted,
            personal=personal,
        )


class LogPage(BaseModel):
    """A page of the log; pass ``next_after`` as ``after`` to read the next page."""

    entries: list[LogEntryOut]
    next_after: int | None = Field(description="None when this page reached the head.")
    head: int


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str | None
    head_seq: int
    head_hash: str


class IncidentList(BaseModel):
    """The open incidents, with the state version they were read at."""

    version: int
    incidents: list[IncidentState]


class IncidentDetail(BaseModel):
    """One open incident, its committed units and what the recommendation adds."""

    version: int
    incident: IncidentState
    label: str
    units: list[UnitState] = Field(description="Units committed to it now.")
    recommended: list[RecommendedAssignment]
    unmet: list[RecommendedUnmet]


class UnitList(BaseModel):
    version: int
    units: list[UnitState]


class ContactList(BaseModel):
    version: int
    contacts: list[ContactState]


class ClosureList(BaseModel):
    version: int
    closures: list[ClosureState]


class RecommendationOut(BaseModel):
    """The current recommendation (None before the first solve) and its latest changes."""

    version: int
    recommendation: RecommendationIssued | None

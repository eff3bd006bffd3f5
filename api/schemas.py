"""Response bodies shared by several routers (request bodies live beside their router)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.closed import IncidentSummary
from planner.centre.events import (
    RecommendationIssued,
    RecommendedAssignment,
    RecommendedUnmet,
    RelocationMove,
    RelocationRecommended,
)
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
    """A page of open incidents (``incidents``) or of closed ones (``closed``, with
    ``?status=closed``), with the state version they were read at."""

    version: int
    incidents: list[IncidentState]
    closed: list[IncidentSummary] = Field(
        default_factory=list, description="Closed incidents (only with ?status=closed)."
    )
    next_cursor: str | None = Field(default=None, description="None on the last page.")
    addresses: dict[str, str] | None = Field(
        default=None,
        description="Only with ?address=: the matched address of each incident listed "
        "(personal data; each read is logged).",
    )


class IncidentDetail(BaseModel):
    """One open incident, its committed units and what the recommendation adds."""

    version: int = Field(description="The incident's own version (also its ETag).")
    incident: IncidentState
    label: str
    units: list[UnitState] = Field(description="Units committed to it now.")
    recommended: list[RecommendedAssignment]
    unmet: list[RecommendedUnmet]


class UnitList(BaseModel):
    """A page of units; pass ``next_cursor`` as ``cursor`` for the next page."""

    version: int
    units: list[UnitState]
    next_cursor: str | None = Field(default=None, description="None on the last page.")


class UnitOut(BaseModel):
    """One unit and its own version (also its ``ETag``)."""

    version: int
    unit: UnitState


class ContactList(BaseModel):
    """A page of contacts; pass ``next_cursor`` as ``cursor`` for the next page."""

    version: int
    contacts: list[ContactState]
    next_cursor: str | None = Field(default=None, description="None on the last page.")


class ContactOut(BaseModel):
    """One contact and its own version (also its ``ETag``)."""

    version: int
    contact: ContactState


class ClosureList(BaseModel):
    version: int
    closures: list[ClosureState]


class ClosureOut(BaseModel):
    """One road closure and its own version (also its ``ETag``)."""

    version: int
    closure: ClosureState


class RecommendationOut(BaseModel):
    """The current recommendation (None before the first solve) and its latest changes."""

    version: int
    recommendation: RecommendationIssued | None


class RelocationsOut(BaseModel):
    """The move-up recommendations still to be accepted or declined, and the latest advice."""

    version: int
    policy: str
    """The centre's policy; move-up runs only with a relocation part (``+dmexclp``, ``+mip``)."""
    moves: list[RelocationMove]
    """Pending moves, by unit."""
    recommendation: RelocationRecommended | None
    """The latest ``relocation_recommended`` (None before the first)."""

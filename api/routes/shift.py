"""Shift hand-over: a dispatcher leaves a note for the next one, who acknowledges it.

Both are engine events (``shift_handed_over``, ``handover_acknowledged``), so the hand-overs
are part of the append-only log and the supervisor's shift log reads them from there. The
engine refuses a second hand-over with the same id, an acknowledgement of an unknown one (404),
a second acknowledgement and one by the note's own author (409, nothing logged).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from api.bodies import body_model
from api.deps import EngineDep, Operator, Reader, ServicesDep
from api.writes import WRITE_RESPONSES, WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import ID_PATTERN, HandoverAcknowledged, ShiftHandedOver
from planner.centre.state import Handover

router = APIRouter(prefix="/v1/shift/handovers", tags=["shift"])

HandoverId = Path(min_length=1, max_length=80, pattern=ID_PATTERN)

if TYPE_CHECKING:
    HandoverIn = BaseModel
    HandoverAckIn = BaseModel
else:
    HandoverIn = body_model(ShiftHandedOver, name="HandoverIn")
    HandoverAckIn = body_model(HandoverAcknowledged, name="HandoverAckIn", omit=("handover_id",))


class HandoverOut(BaseModel):
    handover_id: str
    actor: str
    at: str
    note: str
    incidents: list[str]
    acknowledged_by: str | None
    acknowledged_at: str | None

    @classmethod
    def of(cls, h: Handover) -> HandoverOut:
        return cls(
            handover_id=h.id,
            actor=h.actor,
            at=h.at.isoformat(),
            note=h.note,
            incidents=list(h.incidents),
            acknowledged_by=h.acknowledged_by,
            acknowledged_at=None if h.acknowledged_at is None else h.acknowledged_at.isoformat(),
        )


class HandoverList(BaseModel):
    version: int
    handovers: list[HandoverOut]


@router.get(
    "", summary="Shift hand-over notes, newest first (any role)", response_model=HandoverList
)
def list_handovers(
    _key: Reader,
    engine: EngineDep,
    status: Annotated[
        Literal["open", "all"],
        Query(description="open (default): not yet acknowledged; all: every hand-over."),
    ] = "open",
) -> HandoverList:
    """The notes left at the end of a shift; ``open`` ones wait for the next dispatcher."""
    notes = [
        h for h in engine.state.handovers.values() if status == "all" or h.acknowledged_by is None
    ]
    return HandoverList(
        version=engine.version, handovers=[HandoverOut.of(h) for h in reversed(notes)]
    )


@router.post(
    "",
    summary="Hand over at the end of a shift (dispatcher, supervisor)",
    status_code=201,
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def hand_over(
    body: HandoverIn, key: Operator, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """Logged as ``shift_handed_over`` with the caller as actor; 409 if the id was used."""
    return submit_event(services, ShiftHandedOver, body, key=key, headers=headers, status_code=201)


@router.post(
    "/{handover_id}/acknowledge",
    summary="Acknowledge a hand-over note (dispatcher, supervisor)",
    status_code=201,
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def acknowledge_handover(
    body: HandoverAckIn,
    key: Operator,
    services: ServicesDep,
    headers: WriteHeadersDep,
    handover_id: str = HandoverId,
) -> Response:
    """Logged as ``handover_acknowledged``; 404 for an unknown hand-over, 409 if it was
    acknowledged already (the message says by whom) or the caller wrote it."""
    return submit_event(
        services, HandoverAcknowledged, body, key=key, headers=headers, status_code=201,
        handover_id=handover_id,
    )  # fmt: skip

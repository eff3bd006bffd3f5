"""Coaching records (criterion 20): a supervisor logs a session; reviews read it back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel

from api.bodies import body_model
from api.deps import RoleGuard, ServicesDep
from api.writes import WRITE_RESPONSES, WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import CoachingRecorded
from planner.log.api_keys import ApiKey, Role

router = APIRouter(prefix="/v1/coaching", tags=["coaching"])

Supervisor = Annotated[ApiKey, Depends(RoleGuard((Role.SUPERVISOR,)))]
"""Only supervisors record coaching."""

if TYPE_CHECKING:
    CoachingIn = BaseModel
else:
    CoachingIn = body_model(CoachingRecorded, name="CoachingIn")


@router.post(
    "",
    summary="Record a coaching session",
    status_code=201,
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def record_coaching(
    body: CoachingIn, key: Supervisor, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """Who coached whom, on what topic and figure, about which incidents, and when to follow
    up; ``notes`` are personal data. Reviews show whether the figure moved afterwards."""
    return submit_event(services, CoachingRecorded, body, key=key, headers=headers, status_code=201)

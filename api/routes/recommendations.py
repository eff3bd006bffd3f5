"""The current recommendation: which units the engine would send where, and what changed."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import EngineDep, Reader
from api.schemas import RecommendationOut

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])


@router.get("", summary="The current recommendation", response_model=RecommendationOut)
def current(_key: Reader, engine: EngineDep) -> RecommendationOut:
    """Assignments (with why), unmet requirements and the changes since the previous one.
    Accept or override it per incident with ``POST /v1/incidents/{id}/accept|override``."""
    version = engine.version
    return RecommendationOut(version=version, recommendation=engine.state.recommendation)

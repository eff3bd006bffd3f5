"""The code table, read-only: labels, priorities, targets, response plans and advice."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Reader, ServicesDep
from planner.centre.codes import UnknownCodeError
from planner.errors import NotFoundError

router = APIRouter(prefix="/v1/codes", tags=["codes"])


@router.get("", summary="The whole code table")
def all_codes(_key: Reader, services: ServicesDep) -> dict[str, Any]:
    """Every incident code with its response plan per escalation level (cumulative totals too)."""
    return services.codes.to_json()


@router.get("/{code}", summary="One incident code")
def one_code(code: str, _key: Reader, services: ServicesDep) -> dict[str, Any]:
    """One code; 404 naming ``code`` (with close matches) when it is not in the table."""
    try:
        return services.codes[code].to_json()
    except UnknownCodeError as exc:  # the resource in the path is not there, not bad input
        raise NotFoundError(exc.message, field="code") from None

"""The code table, read-only: labels, priorities, targets, response plans and advice."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Reader, ServicesDep

router = APIRouter(prefix="/v1/codes", tags=["codes"])


@router.get("", summary="The whole code table")
def all_codes(_key: Reader, services: ServicesDep) -> dict[str, Any]:
    """Every incident code with its response plan per escalation level (cumulative totals too)."""
    return services.codes.to_json()


@router.get("/{code}", summary="One incident code")
def one_code(code: str, _key: Reader, services: ServicesDep) -> dict[str, Any]:
    """One code; 422 naming ``code`` (with close matches) when it is not in the table."""
    return services.codes[code].to_json()

"""How planner errors and validation failures become HTTP responses.

Every ``PlannerError`` means "nothing was changed", so each maps to a 4xx:
``NotFoundError`` → 404 (the request names a unit, incident, contact or code that does not
exist), ``InputError``/``OutsideRegionError``/``DataMissingError`` → 422 (the request named
something wrong or absent, e.g. an unknown ``code`` in a body), ``InvalidTransitionError`` → 409
(well-formed, but the current state forbids it, e.g. a closed incident: retry after the state
changes), ``ConflictError`` → 409 (stale ``If-Match``), ``LogIntegrityError`` → 503 (the log
failed verification; writes must stop). The body always names the field where there is one.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from planner.errors import (
    ConflictError,
    InvalidTransitionError,
    LogIntegrityError,
    NotFoundError,
    PlannerError,
)


def status_for(exc: PlannerError) -> int:
    """The HTTP status of a planner error (see the module docstring)."""
    if isinstance(exc, NotFoundError):  # before its base, InvalidTransitionError
        return 404
    if isinstance(exc, ConflictError | InvalidTransitionError):
        return 409
    if isinstance(exc, LogIntegrityError):
        return 503
    return 422


def error_body(exc: PlannerError) -> dict[str, object]:
    """The JSON body of a planner error: its kind, message and the field it names."""
    return {"detail": exc.message, "error": type(exc).__name__, "field": exc.field}


async def _planner_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PlannerError)
    return JSONResponse(status_code=status_for(exc), content=error_body(exc))


def install_error_handlers(app: FastAPI) -> None:
    """Map every PlannerError raised by a route to its 4xx response."""
    app.add_exception_handler(PlannerError, _planner_error)

"""One error model for every 4xx and 5xx: RFC 9457 ``application/problem+json``.

Every error body is a :class:`Problem`: ``type`` (a URN naming the kind of problem), ``title``
(the status's reason phrase), ``status``, ``detail`` (one line for people) and ``field`` (the
body field, query parameter or header at fault, or null). A body never echoes the refused
input.

Every ``PlannerError`` means "nothing was changed", so each maps to a 4xx:
``NotFoundError`` → 404 (the request names a unit, incident, contact or code that does not
exist), ``InputError``/``OutsideRegionError``/``DataMissingError`` → 422 (the request named
something wrong or absent, e.g. an unknown ``code`` in a body), ``InvalidTransitionError`` → 409
(well-formed, but the current state forbids it, e.g. a closed incident: retry after the state
changes), ``ConflictError`` → 409, :class:`PreconditionFailed` → 412 (stale ``If-Match``),
``LogIntegrityError`` → 503 (the log failed verification; writes must stop).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from planner.errors import (
    ConflictError,
    InvalidTransitionError,
    LogIntegrityError,
    NotFoundError,
    PlannerError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:dispatch-planner:problem:"

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


class Problem(BaseModel):
    """An RFC 9457 problem detail: what went wrong, and where."""

    type: str = Field(description="A URN naming the kind of problem.")
    title: str = Field(description="The HTTP status's reason phrase.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, in one line (never echoes the input).")
    field: str | None = Field(
        description="The body field (dotted path), query parameter or header at fault."
    )


class PreconditionFailed(PlannerError):
    """``If-Match`` names another version than the resource's current one (412)."""


def problem(status: int, detail: str, *, field: str | None = None) -> dict[str, Any]:
    """The problem+json body for ``status``."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return {
        "type": TYPE_PREFIX + _SLUGS.get(status, str(status)),
        "title": title,
        "status": status,
        "detail": detail,
        "field": field,
    }


def problem_response(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response (``headers`` e.g. ``Retry-After``, ``WWW-Authenticate``)."""
    return Response(
        content=json.dumps(problem(status, detail, field=field)),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def status_for(exc: PlannerError) -> int:
    """The HTTP status of a planner error (see the module docstring)."""
    if isinstance(exc, NotFoundError):  # before its base, InvalidTransitionError
        return 404
    if isinstance(exc, PreconditionFailed):
        return 412
    if isinstance(exc, ConflictError | InvalidTransitionError):
        return 409
    if isinstance(exc, LogIntegrityError):
        return 503
    return 422


def error_body(exc: PlannerError) -> dict[str, Any]:
    """The problem+json body of a planner error, naming its field."""
    return problem(status_for(exc), exc.message, field=exc.field)


def field_of(loc: Sequence[int | str]) -> str | None:
    """A validation error's location as the name a caller knows: ``methane.casualties`` for
    a body field, the parameter or header name otherwise."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or None


async def _planner_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PlannerError)
    return problem_response(status_for(exc), exc.message, field=exc.field)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    """The first validation error, without the input it refused (it may be personal data)."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if not errors:
        return problem_response(422, "invalid request")
    first = errors[0]
    field = field_of(first.get("loc", ()))
    message = str(first.get("msg", "invalid value"))
    if first.get("type") == "json_invalid":
        message, field = "the body is not valid JSON", "body"
    elif first.get("type") == "missing" and field is None:
        message, field = "a JSON body is required", "body"
    return problem_response(422, message, field=field)


_HEADER_FIELDS = {401: "X-API-Key"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem_response(
        exc.status_code,
        detail,
        field=_HEADER_FIELDS.get(exc.status_code),
        headers=headers or None,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers for this path (GET implies HEAD), for ``Allow``."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    """Every error a route or the router raises becomes a problem+json response."""
    app.add_exception_handler(PlannerError, _planner_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

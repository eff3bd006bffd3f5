"""The OpenAPI document as the server behaves: every operation lists the error statuses it
can really answer, each with the one problem+json body (:class:`api.errors.Problem`).

FastAPI documents only 200 and its own 422 shape; the statuses added here follow from what an
operation depends on: a key (401, 429, and 403 when only some roles may call it), path ids
(404), a body (413, 422), the write path (409, 412, 503), caching validators (304 on GETs
that send an ``ETag``). 400 (a NUL byte in the URL) and 500 apply to every operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_MEDIA_TYPE, Problem
from planner.log.api_keys import Role

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_WRITE_METHODS = {"post", "patch", "put", "delete"}
_LIVE_PREFIXES = ("/v1/incidents", "/v1/units", "/v1/contacts", "/v1/closures", "/v1/webhooks")

_DESCRIPTIONS = {
    "400": "The URL contains a NUL byte.",
    "401": "Missing, unknown or revoked API key.",
    "403": "The key's role may not call this operation (or read this incident).",
    "404": "The resource named in the path does not exist.",
    "409": "The current state forbids this; nothing changed.",
    "412": "If-Match names another version than the resource's current one; nothing changed.",
    "413": "The request body is too large.",
    "422": "Invalid input (also NaN, Infinity, overflowing numbers, NUL characters); the body "
    "names the field.",
    "429": "Rate limit of this key exceeded; retry after Retry-After seconds.",
    "500": "Internal error; nothing was changed by it.",
    "503": "The log failed verification; writes are refused.",
}


def _problem(status: str) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if status == "429":
        headers["Retry-After"] = {
            "description": "Seconds until a request will be accepted again.",
            "schema": {"type": "integer"},
        }
    out: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
    }
    if headers:
        out["headers"] = headers
    return out


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    roles = operation.get("x-roles") or []
    has_path_ids = "{" in path
    has_body = "requestBody" in operation
    has_params = bool(operation.get("parameters")) or has_body
    codes = ["400", "500"]
    if roles:
        codes += ["401", "429"]
        if len(roles) < len(Role):
            codes.append("403")
    if path.endswith("/personal") or path.endswith("/timeline"):
        codes.append("403")
    if has_path_ids:
        codes.append("404")
    if has_params:
        codes.append("422")
    if has_body:
        codes.append("413")
    if method in _WRITE_METHODS and path.startswith(_LIVE_PREFIXES):
        codes += ["409", "412", "503"]
    return sorted(set(codes))


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the problem model on every operation (cached)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = Problem.model_json_schema()
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "patch", "put", "delete", "head"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, documented in responses.items():
                if status[0] in "45":
                    documented["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
            for status in _statuses(path, method, operation):
                responses[status] = _problem(status)
            if method == "get" and operation.get("x-etag"):
                responses["304"] = {
                    "description": "Not modified: If-None-Match names the current ETag."
                }
    app.openapi_schema = schema
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`build_openapi` as ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]

"""The OpenAPI document as the server behaves: every operation lists the error statuses it
can really answer, each with the one problem+json body (:class:`api.errors.Problem`).

FastAPI documents only 200 and its own 422 shape; the statuses added here follow from what an
operation depends on: a key (401, 429, and 403 when only some roles may call it), path ids
(404), a body (413, 422), the write path (409, 412, 503), caching validators (304 on GETs
that send an ``ETag``). 400 (a NUL byte in the URL) and 500 apply to every operation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_MEDIA_TYPE, Problem
from api.webhooks import AddressGuard, refused_url_pattern
from planner.centre.codes import CodeTable
from planner.centre.events import ID_PATTERN
from planner.log.api_keys import Role
from planner.settings import get_settings

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_WRITE_METHODS = {"post", "patch", "put", "delete"}
_LIVE_PREFIXES = ("/v1/incidents", "/v1/units", "/v1/contacts", "/v1/closures", "/v1/webhooks")
_BODY_REFERENCES = {("/v1/incidents", "post"): "The contact named by `contact_id` does not exist."}
"""Operations without ids in the path whose body names another resource (404 when unknown)."""
_PERSONAL_SEARCHES = {("/v1/incidents", "get"), ("/v1/incidents", "head")}
"""Lists that search personal data on request (``address``): 403 for roles that may not."""

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
    if path.endswith(("/personal", "/timeline")) or (path, method) in _PERSONAL_SEARCHES:
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


_CODE_FIELDS = {
    "api__bodies__IncidentIn": ("code",),
    "IncidentUpdateIn": ("code",),
    "IncidentPatchIn": ("code",),
}
_CAPABILITY_FIELDS = {"UnitIn": ("capabilities",)}


def _enumerate(schemas: dict[str, Any], codes: CodeTable) -> None:
    """Name the codes and capabilities of the table in force in the body schemas, so that
    the document says which values the server accepts (an unknown one is 422)."""
    for name, fields in _CODE_FIELDS.items():
        for field in fields:
            prop = schemas.get(name, {}).get("properties", {}).get(field)
            if prop is not None:
                _set_enum(prop, sorted(codes.names))
    for name, fields in _CAPABILITY_FIELDS.items():
        for field in fields:
            prop = schemas.get(name, {}).get("properties", {}).get(field)
            if prop is not None and "items" in prop:
                prop["items"] = {"type": "string", "enum": sorted(codes.capabilities)}


def _set_enum(prop: dict[str, Any], values: list[str]) -> None:
    if "anyOf" in prop:
        for option in prop["anyOf"]:
            if option.get("type") == "string":
                option.clear()
                option.update({"type": "string", "enum": values})
    else:
        prop.clear()
        prop.update({"type": "string", "enum": values})


def _not_null(param: dict[str, Any]) -> None:
    """An optional parameter is sent or not; it is never the JSON ``null`` (which would reach
    the server as the text ``null``), so its schema drops the null alternative."""
    schema = param.get("schema", {})
    options = schema.get("anyOf")
    if not options:
        return
    kept = [o for o in options if o.get("type") != "null"]
    if len(kept) == 1 and len(kept) < len(options):
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        param["schema"] = {**kept[0], **rest}


def _id_grammar(param: dict[str, Any]) -> None:
    """Path ids the engine checks against the id grammar say so (e.g. a console route that
    declares a plain string)."""
    schema = param.get("schema", {})
    if param.get("in") == "path" and param["name"].endswith("_id") and "pattern" not in schema:
        param["schema"] = {**schema, "type": "string", "pattern": ID_PATTERN, "maxLength": 80}


def _priority_keys(schemas: dict[str, Any]) -> None:
    """Priority-keyed maps (``priority_weights``) accept the keys ``1``..``5`` only."""
    for component in schemas.values():
        prop = component.get("properties", {}).get("priority_weights")
        if isinstance(prop, dict) and "additionalProperties" in prop:
            prop["propertyNames"] = {"pattern": "^[1-5]$"}


def _link_creates(paths: dict[str, Any]) -> None:
    """OpenAPI links from each create to the operations on what it created, so stateful
    clients (and schemathesis) can follow ``POST /v1/units`` to ``/v1/units/{unit_id}/…``."""
    for path, item in paths.items():
        create = item.get("post")
        if create is None or "{" in path:
            continue
        for target_path, target_item in paths.items():
            rest = target_path.removeprefix(path + "/")
            if rest == target_path or not rest.startswith("{"):
                continue
            param = rest[1 : rest.index("}")]
            if target_path.count("{") != 1:
                continue
            for method, target in target_item.items():
                op_id = target.get("operationId") if isinstance(target, dict) else None
                if op_id is None:
                    continue
                for status in ("200", "201"):
                    if status in create["responses"]:
                        links = create["responses"][status].setdefault("links", {})
                        links[f"{method}_{op_id}"[:120]] = {
                            "operationId": op_id,
                            "parameters": {param: f"$response.body#/event/{param}"},
                        }


def _webhook_url(schemas: dict[str, Any], guard: AddressGuard) -> None:
    """The webhook URL refuses internal addresses (see :mod:`api.webhooks`): say which
    dotted-quad and ``localhost`` hosts, so the document matches the server's refusals."""
    prop = schemas.get("WebhookIn", {}).get("properties", {}).get("url")
    if prop is not None:
        prop["not"] = {"pattern": refused_url_pattern(guard)}


def _plan_sources(schemas: dict[str, Any], regions: list[str]) -> None:
    """``POST /v1/plan`` computes travel times from ``travel_times_s`` or a named region (one
    of ``regions``): the body must carry one of them (not null)."""
    problem = schemas.get("ProblemIn")
    if problem is None:
        return
    props = problem.setdefault("properties", {})
    props["region"] = {"anyOf": [{"type": "string", "enum": regions}, {"type": "null"}]}
    seconds = {"type": "number", "minimum": 0}
    matrix = {"type": "object", "additionalProperties": seconds}
    props["travel_times_s"] = {
        "anyOf": [{"type": "object", "additionalProperties": matrix}, {"type": "null"}],
        "description": "Seconds from each unit id to each incident id (unknown ids: 422).",
    }
    problem["anyOf"] = [
        {"required": ["travel_times_s"], "properties": {"travel_times_s": {"type": "object"}}},
        {"required": ["region"], "properties": {"region": {"type": "string"}}},
    ]


@dataclass(frozen=True, slots=True)
class Served:
    """The live centre's region as the document states it: the bounding box of its road
    nodes and how far from a node a point may lie (``max_snap_m``)."""

    west: float
    south: float
    east: float
    north: float
    max_snap_m: float

    def box(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) grown by ``max_snap_m`` (and 1 % more, rounded outward),
        so that every point the server accepts lies inside."""
        margin = 1.01 * self.max_snap_m
        dlat = math.degrees(margin / _EARTH_RADIUS_M)
        widest = min(max(abs(self.south - dlat), abs(self.north + dlat)), 89.0)
        dlon = math.degrees(margin / (_EARTH_RADIUS_M * math.cos(math.radians(widest))))
        return (
            max(math.floor((self.west - dlon) * 1e4) / 1e4, -180.0),
            max(math.floor((self.south - dlat) * 1e4) / 1e4, -90.0),
            min(math.ceil((self.east + dlon) * 1e4) / 1e4, 180.0),
            min(math.ceil((self.north + dlat) * 1e4) / 1e4, 90.0),
        )


_EARTH_RADIUS_M = 6_371_008.8
_CHECKED_POINTS = ("location", "home")
"""Body fields of live-centre incidents and units that must lie near the region's roads."""
_ROADS_RULE = (
    " Also 422 when a `location` or `home` lies farther than {m:g} m from the region's roads "
    "(a rule JSON Schema cannot state; the schema states the region's bounding box)."
)
_PLAN_RULE = (
    " Also 422 when `travel_times_s` names a unit or incident id that is not in the body or "
    "misses one that is, or when, with `region`, a location lies farther than {m:g} m from "
    "that region's roads (rules JSON Schema cannot state)."
)


def _served_region(schema: dict[str, Any], served: Served) -> None:
    """Points of live-centre incidents and units must lie within ``max_snap_m`` of the
    region's roads (else 422): the schema says what it can, the region's bounding box grown by
    that distance (``RegionPosition``), and each such operation's 422 says the rest."""
    components = schema["components"]["schemas"]
    position = components.get("Position")
    if position is None:
        return
    west, south, east, north = served.box()
    components["RegionPosition"] = {
        **position,
        "title": "RegionPosition",
        "description": "A WGS84 point within the served region's bounding box (grown by "
        f"{served.max_snap_m:g} m) and within {served.max_snap_m:g} m of its roads.",
        "properties": {
            "lat": {**position["properties"]["lat"], "minimum": south, "maximum": north},
            "lon": {**position["properties"]["lon"], "minimum": west, "maximum": east},
        },
    }
    plain, bounded = "#/components/schemas/Position", "#/components/schemas/RegionPosition"
    for path, item in schema.get("paths", {}).items():
        if not path.startswith(("/v1/incidents", "/v1/units")):
            continue
        for operation in item.values():
            body = _body_component(operation, components)
            props = {} if body is None else body.get("properties", {})
            points = [props[name] for name in _CHECKED_POINTS if name in props]
            if not points:
                continue
            for prop in points:
                _replace_ref(prop, plain, bounded)
            rule = _ROADS_RULE.format(m=served.max_snap_m)
            operation["responses"]["422"]["description"] += rule


def _body_component(operation: Any, components: dict[str, Any]) -> dict[str, Any] | None:
    """The component schema of an operation's JSON body (None: no body, or not a reference)."""
    if not isinstance(operation, dict):
        return None
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref", "")
    found: dict[str, Any] | None = components.get(ref.removeprefix("#/components/schemas/"))
    return found


def _replace_ref(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        if node.get("$ref") == old:
            node["$ref"] = new
        for value in node.values():
            _replace_ref(value, old, new)
    elif isinstance(node, list):
        for value in node:
            _replace_ref(value, old, new)


def _plan_rules(schema: dict[str, Any], max_snap_m: float) -> None:
    """``POST /v1/plan``'s 422 names its cross-field rules."""
    operation = schema.get("paths", {}).get("/v1/plan", {}).get("post")
    if operation is not None:
        operation["responses"]["422"]["description"] += _PLAN_RULE.format(m=max_snap_m)


def build_openapi(
    app: FastAPI,
    codes: CodeTable | None = None,
    guard: AddressGuard | None = None,
    regions: list[str] | None = None,
    served: Served | None = None,
) -> dict[str, Any]:
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
            for param in operation.get("parameters", []):
                _not_null(param)
                _id_grammar(param)
            responses = operation.setdefault("responses", {})
            for status, documented in responses.items():
                if status[0] in "45":
                    documented["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
            for status in _statuses(path, method, operation):
                responses[status] = _problem(status)
            if (referenced := _BODY_REFERENCES.get((path, method))) is not None:
                responses["404"] = {**_problem("404"), "description": referenced}
            if method == "get" and operation.get("x-etag"):
                responses["304"] = {
                    "description": "Not modified: If-None-Match names the current ETag."
                }
    if codes is not None:
        _enumerate(components, codes)
    _priority_keys(components)
    _webhook_url(components, guard if guard is not None else AddressGuard())
    if regions is not None:
        _plan_sources(components, regions)
    if served is not None:
        _served_region(schema, served)
    _plan_rules(schema, get_settings().max_snap_m)
    _link_creates(schema.get("paths", {}))
    app.openapi_schema = schema
    return schema


def install_openapi(
    app: FastAPI,
    codes: CodeTable,
    guard: AddressGuard,
    regions: list[str],
    served: Served | None,
) -> None:
    """Serve :func:`build_openapi` as ``/openapi.json`` (with the code table, webhook guard,
    plan regions and served region in force)."""

    def openapi() -> dict[str, Any]:
        return build_openapi(app, codes, guard, regions, served)

    app.openapi = openapi  # type: ignore[method-assign]

"""What an integrator builds on: strict ids, one error model, per-resource versions, merge
patch, lists with cursors, unit removal (issue 14, findings 1, 2, 4, 6, 9 and 11)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app, services_of
from api.settings import ApiSettings
from planner.centre.events import UnitRegistered
from planner.log.api_keys import Role

Keys = dict[Role, dict[str, str]]

INCIDENT = {
    "incident_id": "I1",
    "code": "CARDIAC_ARREST",
    "location": {"lat": 40.275, "lon": -76.875},
}
PROBLEM_KEYS = {"type", "title", "status", "detail", "field"}


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"].startswith("urn:dispatch-planner:problem:")
    if field is not None:
        assert body["field"] == field
    return body


# -- finding 1: ids ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["I2/../../units", "a/b", "/x", "I%2F2"])
def test_ids_with_a_slash_are_refused_and_nothing_is_logged(
    fleet: TestClient, keys: Keys, app: FastAPI, bad: str
) -> None:
    head = services_of(app).log.head()
    response = fleet.post(
        "/v1/incidents", json={**INCIDENT, "incident_id": bad}, headers=keys[Role.DISPATCHER]
    )
    assert_problem(response, 422, "incident_id")
    unit = {"unit_id": bad, "capabilities": ["ALS"], "home": {"lat": 40.27, "lon": -76.88}}
    assert_problem(
        fleet.post("/v1/units", json=unit, headers=keys[Role.SUPERVISOR]), 422, "unit_id"
    )
    assert services_of(app).log.head() == head


def test_the_documented_id_grammar_has_no_slash(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = spec["paths"]["/v1/incidents/{incident_id}"]["get"]["parameters"]
    pattern = next(p["schema"]["pattern"] for p in params if p["name"] == "incident_id")
    assert "/" not in pattern
    assert (
        spec["components"]["schemas"]["api__bodies__IncidentIn"]["properties"]["incident_id"][
            "pattern"
        ]
        == pattern
    )


def test_a_log_with_slash_ids_from_before_stays_readable(tmp_path: Path) -> None:
    """Logs written under the old grammar replay, list and page as before."""
    settings = ApiSettings(db_url=f"sqlite:///{tmp_path / 'old.sqlite'}", tick_s=0)
    app = create_app(settings)
    services = services_of(app)
    old = UnitRegistered.model_construct(  # as an older server wrote it, unvalidated
        unit_id="OLD/1",
        call_sign=None,
        capabilities=["ALS"],
        station=None,
        home=UnitRegistered.model_fields["home"].annotation.model_validate(  # type: ignore[union-attr]
            {"lat": 40.27, "lon": -76.88}
        ),
        location=None,
        status="available",
        at=None,
        actor="system",
    )
    services.engine.submit(old)
    services.close()
    reopened = create_app(settings)
    try:
        auditor = services_of(reopened).keys.create(name="a", role=Role.AUDITOR).token
        client = TestClient(reopened)
        units = client.get("/v1/units", headers={"X-API-Key": auditor}).json()["units"]
        assert [u["id"] for u in units] == ["OLD/1"]
        page = client.get("/v1/log", headers={"X-API-Key": auditor}).json()
        assert "OLD/1" in [e["payload"].get("unit_id") for e in page["entries"]]
    finally:
        services_of(reopened).close()


# -- findings 2, 5 and 9: the error model --------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"unit_id":"M9","capabilities":["ALS"],"home":{"lat":NaN,"lon":-76.8}}',
        b'{"unit_id":"M9","capabilities":["ALS"],"home":{"lat":Infinity,"lon":-76.8}}',
        b'{"unit_id":"M9","capabilities":["ALS"],"home":{"lat":-Infinity,"lon":-76.8}}',
        b'{"unit_id":"M9","capabilities":["ALS"],"home":{"lat":1e400,"lon":-76.8}}',
        b'{"unit_id":"M\\u00009","capabilities":["ALS"],"home":{"lat":40,"lon":-76.8}}',
    ],
)
def test_non_finite_numbers_and_nul_characters_are_422(
    client: TestClient, keys: Keys, app: FastAPI, raw: bytes
) -> None:
    head = services_of(app).log.head()
    response = client.post(
        "/v1/units",
        content=raw,
        headers={**keys[Role.SUPERVISOR], "Content-Type": "application/json"},
    )
    body = assert_problem(response, 422, "body")
    assert "M9" not in body["detail"]
    assert services_of(app).log.head() == head


def test_validation_errors_never_echo_the_input(fleet: TestClient, keys: Keys) -> None:
    body = {**INCIDENT, "incident_id": "Mrs Jane Roe, 4 Elm Road", "priority": "Jane"}
    response = fleet.post("/v1/incidents", json=body, headers=keys[Role.DISPATCHER])
    problem = assert_problem(response, 422)
    assert "Jane" not in json.dumps(problem)


@pytest.mark.parametrize("url", ["/v1/log?incident=a%00b", "/v1/incidents/I%001", "/v1/codes/X%00"])
def test_a_nul_byte_in_the_url_is_400(client: TestClient, keys: Keys, url: str) -> None:
    assert_problem(client.get(url, headers=keys[Role.SUPERVISOR]), 400, "url")


def test_every_error_status_is_problem_json(
    fleet: TestClient, keys: Keys, api_settings: ApiSettings
) -> None:
    dispatcher = keys[Role.DISPATCHER]
    assert_problem(fleet.get("/v1/units"), 401, "X-API-Key")
    assert_problem(fleet.get("/v1/units", headers={"X-API-Key": "dpk_00000000_x"}), 401)
    assert_problem(fleet.post("/v1/units", json={}, headers=keys[Role.PLANNER]), 403)
    assert_problem(fleet.get("/v1/incidents/NOPE", headers=dispatcher), 404)
    assert_problem(fleet.get("/v1/nowhere", headers=dispatcher), 404)
    assert_problem(fleet.put("/v1/units", headers=dispatcher), 405)
    assert fleet.post("/v1/incidents", json=INCIDENT, headers=dispatcher).status_code == 201
    assert_problem(fleet.post("/v1/incidents", json=INCIDENT, headers=dispatcher), 409)
    assert_problem(
        fleet.post(
            "/v1/incidents/I1/escalate",
            json={"level": 2, "cause": "x"},
            headers={**dispatcher, "If-Match": '"1"'},
        ),
        412,
        "If-Match",
    )
    big = {**INCIDENT, "incident_id": "I2", "details": "x" * (api_settings.max_body_bytes + 10)}
    assert_problem(fleet.post("/v1/incidents", json=big, headers=dispatcher), 413, "body")
    assert_problem(fleet.get("/v1/units?limit=0", headers=dispatcher), 422, "limit")
    assert_problem(
        fleet.post(
            "/v1/incidents",
            content=b"{",
            headers={**dispatcher, "Content-Type": "application/json"},
        ),
        422,
        "body",
    )


def test_openapi_documents_the_problem_model_on_every_operation(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert set(spec["components"]["schemas"]["Problem"]["required"]) == PROBLEM_KEYS
    for path, item in spec["paths"].items():
        for method, op in item.items():
            codes = {c for c in op["responses"] if c.startswith(("4", "5"))}
            assert {"400", "500"} <= codes, (method, path)
            if op.get("x-roles"):
                assert {"401", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            for code in codes:
                content = op["responses"][code]["content"]
                assert content == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }
    write = spec["paths"]["/v1/incidents/{incident_id}/escalate"]["post"]
    assert {"409", "412", "413", "422", "403"} <= set(write["responses"])
    if_match = next(p for p in write["parameters"] if p["name"] == "If-Match")
    assert if_match["schema"]["pattern"]


def test_openapi_states_the_served_region_and_documents_the_road_rule(tmp_path: Path) -> None:
    """Live incident and unit points carry the region's bounding box grown by ``max_snap_m``
    (``RegionPosition``): a point just within ``max_snap_m`` beyond the outermost node on each
    side (moved by hand on the sphere) is accepted and inside the box; one just outside the
    box is refused. Closure shapes, which need not lie on roads, keep the plain ``Position``."""
    app = create_app(
        ApiSettings(db_url=f"sqlite:///{tmp_path / 'r.sqlite'}", region="aguascalientes", tick_s=0)
    )
    services = services_of(app)
    supervisor = {"X-API-Key": services.keys.create(name="s", role=Role.SUPERVISOR).token}
    client = TestClient(app)
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    box = schemas["RegionPosition"]["properties"]
    snap_m = 500.0
    radius, lonlat = 6_371_008.8, services.engine.region.node_lonlat  # type: ignore[union-attr]
    sides = {
        "west": (lonlat[:, 0].argmin(), 0.0, -1.0),
        "east": (lonlat[:, 0].argmax(), 0.0, 1.0),
        "south": (lonlat[:, 1].argmin(), -1.0, 0.0),
        "north": (lonlat[:, 1].argmax(), 1.0, 0.0),
    }
    for n, (node, north, east) in enumerate(sides.values()):
        lon, lat = float(lonlat[node][0]), float(lonlat[node][1])
        d = 0.98 * snap_m
        lat += north * math.degrees(d / radius)
        lon += east * math.degrees(d / (radius * math.cos(math.radians(lat))))
        assert box["lat"]["minimum"] <= lat <= box["lat"]["maximum"]
        assert box["lon"]["minimum"] <= lon <= box["lon"]["maximum"]
        unit = {"unit_id": f"U{n}", "capabilities": ["ALS"], "home": {"lat": lat, "lon": lon}}
        assert client.post("/v1/units", json=unit, headers=supervisor).status_code == 201
    outside = {"lat": box["lat"]["minimum"] - 0.001, "lon": box["lon"]["minimum"]}
    refused = {"unit_id": "U9", "capabilities": ["ALS"], "home": outside}
    assert_problem(client.post("/v1/units", json=refused, headers=supervisor), 422, "home")
    ref = "#/components/schemas/RegionPosition"
    assert schemas["api__bodies__UnitIn"]["properties"]["home"]["$ref"] == ref
    assert ref in json.dumps(schemas["UnitPositionIn"]["properties"]["location"])
    assert ref in json.dumps(schemas["api__bodies__IncidentIn"]["properties"]["location"])
    assert ref in json.dumps(schemas["IncidentPatchIn"]["properties"]["location"])
    assert ref not in json.dumps(schemas["ClosureIn"])
    opened = spec["paths"]["/v1/incidents"]["post"]["responses"]["422"]["description"]
    assert "farther than 500 m from the region's roads" in opened
    plan = spec["paths"]["/v1/plan"]["post"]["responses"]["422"]["description"]
    assert "`travel_times_s` names a unit or incident id that is not in the body" in plan
    services.close()


def test_docs_work_offline_from_installed_assets(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "cdn" not in html.lower() and "https://" not in html.split("<body")[0]
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            if asset in html:
                src = html[: html.index(asset) + len(asset)].rsplit('"', 1)[-1]
                assert client.get(src).status_code == 200, src


# -- finding 6: per-resource versions --------------------------------------------------------


def test_each_resource_has_its_own_version(fleet: TestClient, keys: Keys) -> None:
    dispatcher = keys[Role.DISPATCHER]
    fleet.post("/v1/incidents", json=INCIDENT, headers=dispatcher)
    incident = fleet.get("/v1/incidents/I1", headers=dispatcher)
    m1 = fleet.get("/v1/units/M1", headers=dispatcher)
    assert incident.headers["etag"] == f'"{incident.json()["version"]}"'
    for n in range(5):  # AVL reports of another unit
        moved = fleet.post(
            "/v1/units/E1/position",
            json={"location": {"lat": 40.26 + n / 1000, "lon": -76.89}},
            headers=keys[Role.INTEGRATOR],
        )
        assert moved.status_code == 200, moved.text
    assert (
        fleet.get("/v1/incidents/I1", headers=dispatcher).headers["etag"]
        == incident.headers["etag"]
    )
    assert fleet.get("/v1/units/M1", headers=dispatcher).headers["etag"] == m1.headers["etag"]
    assert fleet.get("/v1/units/E1", headers=dispatcher).headers["etag"] != m1.headers["etag"]
    escalated = fleet.post(
        "/v1/incidents/I1/escalate",
        json={"level": 2, "cause": "second call"},
        headers={**dispatcher, "If-Match": incident.headers["etag"]},
    )
    assert escalated.status_code == 200, escalated.text
    assert escalated.headers["etag"] != incident.headers["etag"]
    stale = fleet.post(
        "/v1/incidents/I1/escalate",
        json={"level": 3, "cause": "third call"},
        headers={**dispatcher, "If-Match": incident.headers["etag"]},
    )
    assert_problem(stale, 412, "If-Match")
    assert fleet.get("/v1/incidents/I1", headers=dispatcher).json()["incident"]["level"] == 2


def test_contact_and_closure_versions_move_only_with_them(fleet: TestClient, keys: Keys) -> None:
    """Contacts and closures keep their version through writes that leave them alone (the
    server skips unchanged collections) and move when they change."""
    dispatcher, supervisor = keys[Role.DISPATCHER], keys[Role.SUPERVISOR]
    contact = {"contact_id": "C1", "channel": "phone", "summary": "chest pain"}
    assert fleet.post("/v1/contacts", json=contact, headers=dispatcher).status_code == 201
    closure = {"closure_id": "X1", "centre": {"lat": 40.27, "lon": -76.88}, "radius_m": 200}
    assert fleet.post("/v1/closures", json=closure, headers=supervisor).status_code == 201
    c1 = fleet.get("/v1/contacts/C1", headers=dispatcher).headers["etag"]
    x1 = fleet.get("/v1/closures/X1", headers=dispatcher).headers["etag"]
    moved = fleet.post(
        "/v1/units/E1/position",
        json={"location": {"lat": 40.261, "lon": -76.89}},
        headers=keys[Role.INTEGRATOR],
    )
    assert moved.status_code == 200, moved.text
    assert fleet.get("/v1/contacts/C1", headers=dispatcher).headers["etag"] == c1
    assert fleet.get("/v1/closures/X1", headers=dispatcher).headers["etag"] == x1
    opened = fleet.post("/v1/incidents", json={**INCIDENT, "contact_id": "C1"}, headers=dispatcher)
    assert opened.status_code == 201, opened.text
    linked = fleet.get("/v1/contacts/C1", headers=dispatcher)
    assert linked.headers["etag"] == f'"{opened.json()["version"]}"' != c1
    assert fleet.get("/v1/closures/X1", headers=dispatcher).headers["etag"] == x1
    assert fleet.delete("/v1/closures/X1", headers=supervisor).status_code == 200
    assert fleet.get("/v1/closures/X1", headers=dispatcher).status_code == 404
    still = fleet.get("/v1/contacts/C1", headers=dispatcher)
    assert still.headers["etag"] == linked.headers["etag"]


def test_if_none_match_is_304_and_head_has_no_body(fleet: TestClient, keys: Keys) -> None:
    reader = keys[Role.PLANNER]
    for url in ("/v1/units/M1", "/v1/units", "/v1/incidents", "/v1/contacts", "/v1/closures"):
        first = fleet.get(url, headers=reader)
        tag = first.headers["etag"]
        again = fleet.get(url, headers={**reader, "If-None-Match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
        other = fleet.get(url, headers={**reader, "If-None-Match": '"999999"'})
        assert other.status_code == 200
        head = fleet.head(url, headers=reader)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["etag"] == tag
    assert fleet.head("/v1/units/NOPE", headers=reader).status_code == 404


# -- finding 4: merge patch ----------------------------------------------------------------


def test_patch_merges_the_methane_block(fleet: TestClient, keys: Keys) -> None:
    dispatcher = keys[Role.DISPATCHER]
    methane = {
        "type": "RTC",
        "hazards": ["fuel"],
        "access": "from the north",
        "casualties": 1,
        "services_present": ["police"],
    }
    fleet.post("/v1/incidents", json={**INCIDENT, "methane": methane}, headers=dispatcher)
    patched = fleet.patch(
        "/v1/incidents/I1",
        json={"methane": {"casualties": 3}},
        headers={**dispatcher, "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    incident = fleet.get("/v1/incidents/I1", headers=dispatcher).json()["incident"]
    assert incident["casualties"] == 3
    assert incident["hazards"] == ["fuel"]
    assert incident["access"] == "from the north"
    assert incident["methane_type"] == "RTC"
    assert incident["services_present"] == ["police"]
    removed = fleet.patch(
        "/v1/incidents/I1", json={"methane": {"hazards": None, "access": None}}, headers=dispatcher
    )
    assert removed.status_code == 200, removed.text
    incident = fleet.get("/v1/incidents/I1", headers=dispatcher).json()["incident"]
    assert incident["hazards"] == [] and incident["access"] is None
    assert incident["casualties"] == 3 and incident["methane_type"] == "RTC"


# -- finding 11: lists, closed incidents, unit removal ------------------------------------------


def test_cursor_pages_cover_every_unit_once(fleet: TestClient, keys: Keys) -> None:
    reader = keys[Role.PLANNER]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = fleet.get("/v1/units", params=params, headers=reader).json()
        seen += [u["id"] for u in page["units"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["E1", "M1", "M2"]
    als = fleet.get("/v1/units", params={"capability": "BLS"}, headers=reader).json()
    assert [u["id"] for u in als["units"]] == ["M2"]
    assert_problem(fleet.get("/v1/units?cursor=a~b", headers=reader), 422, "cursor")
    after_m1 = fleet.get("/v1/units", params={"cursor": "M1"}, headers=reader).json()
    assert [u["id"] for u in after_m1["units"]] == ["M2"]


def test_incident_and_contact_filters_and_closed_incidents(fleet: TestClient, keys: Keys) -> None:
    dispatcher = keys[Role.DISPATCHER]
    for n, priority in ((1, 1), (2, 3), (3, 3)):
        body = {**INCIDENT, "incident_id": f"I{n}", "priority": priority}
        assert fleet.post("/v1/incidents", json=body, headers=dispatcher).status_code == 201
    for n, channel in ((1, "phone"), (2, "sms")):
        contact = {"contact_id": f"C{n}", "channel": channel}
        assert fleet.post("/v1/contacts", json=contact, headers=dispatcher).status_code == 201
    p3 = fleet.get("/v1/incidents", params={"priority": 3}, headers=dispatcher).json()
    assert [i["id"] for i in p3["incidents"]] == ["I2", "I3"]
    closed = fleet.post("/v1/incidents/I2/close", json={"outcome": "treated"}, headers=dispatcher)
    assert closed.status_code == 200, closed.text
    listed = fleet.get("/v1/incidents", params={"status": "closed"}, headers=dispatcher).json()
    assert [(i["id"], i["outcome"]) for i in listed["closed"]] == [("I2", "treated")]
    assert [
        i["id"] for i in fleet.get("/v1/incidents", headers=dispatcher).json()["incidents"]
    ] == [
        "I1",
        "I3",
    ]
    sms = fleet.get("/v1/contacts", params={"channel": "sms"}, headers=dispatcher).json()
    assert [c["id"] for c in sms["contacts"]] == ["C2"]
    future = fleet.get(
        "/v1/contacts", params={"from": "2999-01-01T00:00:00Z"}, headers=dispatcher
    ).json()
    assert future["contacts"] == []


def test_a_unit_can_be_removed_and_the_removal_is_logged(
    fleet: TestClient, keys: Keys, app: FastAPI
) -> None:
    supervisor = keys[Role.SUPERVISOR]
    removed = fleet.request(
        "DELETE", "/v1/units/E1", json={"reason": "decommissioned"}, headers=supervisor
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["type"] == "unit_removed"
    assert_problem(fleet.get("/v1/units/E1", headers=supervisor), 404)
    last = services_of(app).log.entries(after_seq=removed.json()["seq"] - 1, limit=1)[0]
    assert last.kind == "unit_removed" and last.payload["reason"] == "decommissioned"
    assert_problem(fleet.delete("/v1/units/E1", headers=supervisor), 404)
    assert_problem(fleet.delete("/v1/units/M1", headers=keys[Role.DISPATCHER]), 403)


# -- finding 7: personal-data reads ----------------------------------------------------------


def test_dispatchers_read_personal_data_of_incidents_only_and_every_read_is_logged(
    fleet: TestClient, keys: Keys, app: FastAPI
) -> None:
    log = services_of(app).log
    dispatcher, auditor = keys[Role.DISPATCHER], keys[Role.AUDITOR]
    opened = fleet.post(
        "/v1/incidents", json={**INCIDENT, "details": "man, 60"}, headers=dispatcher
    ).json()
    read = fleet.get(f"/v1/log/{opened['seq']}/personal?purpose=handling", headers=dispatcher)
    assert read.status_code == 200 and read.json()["personal"]["details"] == "man, 60"
    assert read.headers["cache-control"] == "no-store"
    audit_seq = log.head()
    assert log.entries(after_seq=audit_seq - 1)[0].kind == "personal_data.read"
    refused = fleet.get(f"/v1/log/{audit_seq}/personal?purpose=curious", headers=dispatcher)
    assert_problem(refused, 403)
    unit_entry = next(e.seq for e in log.entries() if e.kind == "unit_registered")
    assert_problem(fleet.get(f"/v1/log/{unit_entry}/personal?purpose=x", headers=dispatcher), 403)
    assert log.head() == audit_seq  # refused reads read nothing
    plain = fleet.get(f"/v1/log/{unit_entry}/personal?purpose=audit", headers=auditor)
    assert plain.status_code == 200 and plain.json()["personal"] is None
    last = log.entries(after_seq=log.head() - 1)[0]
    assert last.kind == "personal_data.read" and last.payload["seq"] == unit_entry
    timeline = fleet.get(
        "/v1/incidents/I1/timeline?personal=true&purpose=handling", headers=dispatcher
    )
    assert timeline.status_code == 200 and timeline.headers["cache-control"] == "no-store"


# -- finding 11: rate limits and CORS -------------------------------------------------------


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(tmp_path: Path) -> None:
    settings = ApiSettings(
        db_url=f"sqlite:///{tmp_path / 'rl.sqlite'}",
        tick_s=0,
        rate_limit_per_s=0.5,
        rate_limit_burst=2,
    )
    app = create_app(settings)
    try:
        store = services_of(app).keys
        a = {"X-API-Key": store.create(name="a", role=Role.PLANNER).token}
        b = {"X-API-Key": store.create(name="b", role=Role.PLANNER).token}
        client = TestClient(app)
        assert [client.get("/v1/units", headers=a).status_code for _ in range(2)] == [200, 200]
        limited = client.get("/v1/units", headers=a)
        assert_problem(limited, 429)
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        assert client.get("/v1/units", headers=b).status_code == 200  # per key
    finally:
        services_of(app).close()


def test_cors_allows_only_the_configured_origins(tmp_path: Path) -> None:
    settings = ApiSettings(
        db_url=f"sqlite:///{tmp_path / 'cors.sqlite'}",
        tick_s=0,
        cors_origins=("https://cad.example",),
    )
    app = create_app(settings)
    try:
        client = TestClient(app)
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key,if-match",
        }
        ok = client.options("/v1/incidents", headers={"Origin": "https://cad.example", **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://cad.example"
        other = client.options(
            "/v1/incidents", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers
        plain = client.get("/health", headers={"Origin": "https://cad.example"})
        assert plain.headers["access-control-allow-origin"] == "https://cad.example"
        assert "ETag" in plain.headers["access-control-expose-headers"]
    finally:
        services_of(app).close()

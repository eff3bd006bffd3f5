"""Move-up recommendations over HTTP on Utrecht: list, accept, decline; roles, problem+json,
OpenAPI; the engine's relocation timer issues them (ticked here by hand)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app, services_of
from api.settings import ApiSettings
from planner.log.api_keys import Role

Keys = dict[Role, dict[str, str]]

# Two Utrecht postcode points 1,011 s apart (within the default 1,200 s per move): S1 in the
# north holds M1 and M2; S2 (a populous point) has only M3, off duty.
S1 = {"lat": 52.27107894, "lon": 4.97377199}
S2 = {"lat": 52.09171563, "lon": 5.05189172}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    settings = ApiSettings(
        db_url=f"sqlite:///{tmp_path / 'api.sqlite'}", region="utrecht", policy="coverage+dmexclp"
    )
    app = create_app(settings)
    yield app
    services_of(app).close()


@pytest.fixture
def centre(client: TestClient, keys: Keys, app: FastAPI) -> TestClient:
    """Units registered, then one relocation timer tick."""
    fleet = [
        {"unit_id": "M1", "capabilities": ["ALS"], "station": "S1", "home": S1},
        {"unit_id": "M2", "capabilities": ["ALS"], "station": "S1", "home": S1},
        {
            "unit_id": "M3",
            "capabilities": ["ALS"],
            "station": "S2",
            "home": S2,
            "status": "out_of_service",
        },
    ]
    for unit in fleet:
        response = client.post("/v1/units", json=unit, headers=keys[Role.SUPERVISOR])
        assert response.status_code == 201, response.text
    outcomes = services_of(app).engine.tick()
    assert [o.event.type for o in outcomes] == ["relocation_recommended"]
    return client


def _problem(response: Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        assert response.json()["field"] == field


def test_the_timer_recommendation_is_listed_for_every_role(centre: TestClient, keys: Keys) -> None:
    listed = centre.get("/v1/relocations", headers=keys[Role.PLANNER])
    assert listed.status_code == 200
    body = listed.json()
    assert body["policy"] == "coverage+dmexclp"
    (move,) = body["moves"]
    assert (move["unit"], move["from_station"], move["to_station"]) == ("M1", "S1", "S2")
    assert 900 < move["drive_s"] <= 1200 and move["coverage_gain"] > 0
    assert move["explanation"].startswith("move M1 to S2: +")
    assert body["recommendation"]["trigger"] == "timer"
    assert listed.headers["etag"] == f'"{body["version"]}"'
    again = centre.get(
        "/v1/relocations", headers={**keys[Role.AUDITOR], "If-None-Match": listed.headers["etag"]}
    )
    assert again.status_code == 304


def test_a_dispatcher_accepts_and_the_unit_relocates(centre: TestClient, keys: Keys) -> None:
    for role in (Role.PLANNER, Role.INTEGRATOR, Role.AUDITOR):
        _problem(centre.post("/v1/relocations/M1/accept", json={}, headers=keys[role]), 403)
    _problem(
        centre.post("/v1/relocations/M2/accept", json={}, headers=keys[Role.DISPATCHER]),
        409,
        "unit_id",
    )
    _problem(
        centre.post("/v1/relocations/M9/accept", json={}, headers=keys[Role.DISPATCHER]),
        404,
        "unit_id",
    )
    _problem(
        centre.post(
            "/v1/relocations/M1/accept", json={"to_station": "S9"}, headers=keys[Role.DISPATCHER]
        ),
        409,
        "to_station",
    )
    _problem(
        centre.post("/v1/relocations/M1/accept", json={"unit": "x"}, headers=keys[Role.DISPATCHER]),
        422,
    )
    accepted = centre.post(
        "/v1/relocations/M1/accept",
        json={"reason": "cover the south"},
        headers=keys[Role.DISPATCHER],
    )
    assert accepted.status_code == 200, accepted.text
    event = accepted.json()["event"]
    assert (event["type"], event["to_station"], event["reason"]) == (
        "relocation_accepted",
        "S2",
        "cover the south",
    )
    assert event["actor"].startswith("dispatcher:")
    unit = centre.get("/v1/units/M1", headers=keys[Role.PLANNER]).json()["unit"]
    assert (unit["status"], unit["relocating_to"], unit["moves"]) == ("available", "S2", 1)
    assert centre.get("/v1/relocations", headers=keys[Role.PLANNER]).json()["moves"] == []
    moved = centre.post(
        "/v1/units/M1/position", json={"location": S2}, headers=keys[Role.INTEGRATOR]
    )
    assert moved.status_code == 200
    unit = centre.get("/v1/units/M1", headers=keys[Role.PLANNER]).json()["unit"]
    assert (unit["base"], unit["relocating_to"]) == ("S2", None)
    kinds = [
        e["kind"]
        for e in centre.get("/v1/log?limit=100", headers=keys[Role.AUDITOR]).json()["entries"]
    ]
    assert "relocation_recommended" in kinds and "relocation_accepted" in kinds


def test_a_supervisor_declines_with_a_reason(centre: TestClient, keys: Keys) -> None:
    declined = centre.post(
        "/v1/relocations/M1/decline",
        json={"reason": "crew on meal break"},
        headers=keys[Role.SUPERVISOR],
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["event"]["reason"] == "crew on meal break"
    unit = centre.get("/v1/units/M1", headers=keys[Role.DISPATCHER]).json()["unit"]
    assert unit["declined"] is True and unit["relocating_to"] is None
    _problem(
        centre.post("/v1/relocations/M1/decline", json={}, headers=keys[Role.SUPERVISOR]),
        409,
        "unit_id",
    )
    _problem(
        centre.post(
            "/v1/relocations/M1/decline", json={"reason": "x" * 501}, headers=keys[Role.SUPERVISOR]
        ),
        422,
        "reason",
    )


def test_openapi_documents_the_relocation_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/v1/relocations"]["get"]["x-roles"] == [r.value for r in Role]
    for action in ("accept", "decline"):
        operation = paths[f"/v1/relocations/{{unit_id}}/{action}"]["post"]
        assert operation["x-roles"] == ["dispatcher", "supervisor"]
        assert {"403", "409", "422"} <= set(operation["responses"])

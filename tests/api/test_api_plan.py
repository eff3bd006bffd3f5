"""``POST /v1/plan``: the same JSON in and out as ``planner solve``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from planner.dispatch.problem_io import parse_problem, plan_to_json
from planner.dispatch.solver import solve
from planner.log.api_keys import Role


def problem() -> dict[str, Any]:
    return {
        "units": [
            {"id": "M1", "capabilities": ["ALS"], "location": {"lat": 40.27, "lon": -76.88}},
            {"id": "M2", "capabilities": ["ALS", "BLS"], "location": {"lat": 40.28, "lon": -76.87}},
        ],
        "incidents": [
            {"id": "I1", "priority": 1, "requirements": {"ALS": 1}, "target_s": 420},
            {"id": "I2", "priority": 3, "requirements": {"BLS": 1}, "target_s": 1200},
        ],
        "travel_times_s": {"M1": {"I1": 300, "I2": 200}, "M2": {"I1": 250, "I2": 500}},
    }


def test_plan_matches_the_cli_contract(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    response = client.post("/v1/plan", json=problem(), headers=keys[Role.PLANNER])
    assert response.status_code == 200
    body = response.json()
    parsed = parse_problem(problem())
    expected = plan_to_json(solve(parsed.problem, parsed.options, previous=parsed.previous))
    body.pop("solve_ms"), expected.pop("solve_ms")
    assert body == expected
    assert {(a["unit"], a["incident"]) for a in body["assignments"]} == {("M1", "I1"), ("M2", "I2")}


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.PLANNER, 200),
        (Role.DISPATCHER, 200),
        (Role.SUPERVISOR, 200),
        (Role.INTEGRATOR, 200),
        (Role.AUDITOR, 403),
    ],
)
def test_plan_roles(
    client: TestClient, keys: dict[Role, dict[str, str]], role: Role, status: int
) -> None:
    assert client.post("/v1/plan", json=problem(), headers=keys[role]).status_code == status
    assert client.post("/v1/plan", json=problem()).status_code == 401


def test_bad_priority_is_422_naming_the_field(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    body = problem()
    body["incidents"][1]["priority"] = 7
    response = client.post("/v1/plan", json=body, headers=keys[Role.PLANNER])
    assert response.status_code == 422
    assert response.json()["field"] == "incidents.1.priority"


@pytest.mark.parametrize(
    ("place", "field"),
    [
        (("incidents", 0, "priority"), "incidents.0.priority"),
        (("incidents", 0, "target_s"), "incidents.0.target_s"),
        (("incidents", 0, "requirements", "ALS"), "incidents.0.requirements.ALS"),
        (("units", 0, "location", "lat"), "units.0.location.lat"),
        (("travel_times_s", "M1", "I1"), "travel_times_s.M1.I1"),
    ],
)
def test_a_boolean_is_not_a_number(
    client: TestClient, keys: dict[Role, dict[str, str]], place: tuple[Any, ...], field: str
) -> None:
    """JSON true/false is refused where a number belongs (pydantic's lax mode read 1 or 0)."""
    body = problem()
    target: Any = body
    for step in place[:-1]:
        target = target[step]
    target[place[-1]] = True
    response = client.post("/v1/plan", json=body, headers=keys[Role.PLANNER])
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"time_limit_s": True}, "options.time_limit_s"),
        ({"allow_preemption": 0}, "options.allow_preemption"),
    ],
)
def test_options_take_numbers_and_booleans_strictly(
    client: TestClient, keys: dict[Role, dict[str, str]], options: dict[str, Any], field: str
) -> None:
    """true is no number, 0 is no boolean."""
    body = problem()
    body["options"] = options
    response = client.post("/v1/plan", json=body, headers=keys[Role.PLANNER])
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_duplicate_unit_is_422_naming_the_field(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    body = problem()
    body["units"][1]["id"] = "M1"
    response = client.post("/v1/plan", json=body, headers=keys[Role.PLANNER])
    assert response.status_code == 422
    assert response.json()["field"] == "units[1].id"


def test_region_must_be_a_known_name_not_a_server_path(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    body = problem()
    del body["travel_times_s"]
    body["region"] = "/etc/passwd"
    response = client.post("/v1/plan", json=body, headers=keys[Role.PLANNER])
    assert response.status_code == 422
    assert response.json()["field"] == "region"


def test_time_limit_is_capped(client: TestClient, keys: dict[Role, dict[str, str]]) -> None:
    body = problem()
    body["options"] = {"time_limit_s": 3600}
    response = client.post("/v1/plan", json=body, headers=keys[Role.PLANNER])
    assert response.status_code == 422
    assert response.json()["field"] == "options.time_limit_s"


def test_malformed_json_is_422(client: TestClient, keys: dict[Role, dict[str, str]]) -> None:
    response = client.post(
        "/v1/plan",
        content=b"{not json",
        headers={**keys[Role.PLANNER], "Content-Type": "application/json"},
    )
    assert response.status_code == 422

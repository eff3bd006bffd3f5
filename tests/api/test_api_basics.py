"""Health, readiness, code table, OpenAPI, auth (401/403) and the body-size limit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from planner.log.api_keys import Role


def test_health_and_ready_need_no_key(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "region": True, "log_intact": True}


def test_codes_need_a_valid_key(client: TestClient, keys: dict[Role, dict[str, str]]) -> None:
    assert client.get("/v1/codes").status_code == 401
    assert (
        client.get("/v1/codes", headers={"X-API-Key": "dpk_00000000_" + "x" * 43}).status_code
        == 401
    )
    assert client.get("/v1/codes", headers={"X-API-Key": "nonsense"}).status_code == 401
    for role in Role:
        body = client.get("/v1/codes", headers=keys[role]).json()
        assert "CARDIAC_ARREST" in {c["code"] for c in body["codes"]}


def test_unknown_code_is_refused_with_the_field_named(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    assert client.get("/v1/codes/CARDIAC_ARREST", headers=keys[Role.PLANNER]).status_code == 200
    missing = client.get("/v1/codes/CARDIAC_ARRST", headers=keys[Role.PLANNER])
    assert missing.status_code == 404
    assert missing.json()["field"] == "code"
    assert "CARDIAC_ARREST" in missing.json()["detail"]


def test_revoked_key_gets_401(client: TestClient, app: object) -> None:
    from api.app import services_of

    store = services_of(app)  # type: ignore[arg-type]
    created = store.keys.create(name="leaver", role=Role.AUDITOR)
    headers = {"X-API-Key": created.token}
    assert client.get("/v1/log/verify", headers=headers).status_code == 200
    store.keys.revoke(prefix=created.key.prefix)
    assert client.get("/v1/log/verify", headers=headers).status_code == 401


def test_wrong_role_gets_403(client: TestClient, keys: dict[Role, dict[str, str]]) -> None:
    response = client.get("/v1/log/verify", headers=keys[Role.DISPATCHER])
    assert response.status_code == 403
    assert "supervisor, auditor" in response.json()["detail"]


def test_openapi_states_the_roles_of_every_endpoint(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert client.get("/docs").status_code == 200
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation["description"].startswith("**Roles:**"), (method, path)
            assert "x-roles" in operation
    assert schema["paths"]["/v1/log/verify"]["get"]["x-roles"] == ["supervisor", "auditor"]


def test_oversized_body_is_refused_with_413(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    big = b'{"units": [], "incidents": [], "pad": "' + b"x" * 70_000 + b'"}'
    response = client.post(
        "/v1/plan", content=big, headers={**keys[Role.PLANNER], "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["field"] == "body"


def test_oversized_chunked_body_is_refused_with_413(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    def chunks() -> object:
        for _ in range(20):
            yield b"x" * 5_000

    response = client.post(
        "/v1/plan",
        content=chunks(),  # type: ignore[arg-type]
        headers={**keys[Role.PLANNER], "Content-Type": "application/json"},
    )
    assert response.status_code == 413

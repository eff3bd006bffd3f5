"""The live centre over HTTP: a whole incident, Idempotency-Key, If-Match, 409/422, roles,
and personal data only for allowed roles, with every read logged."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import services_of
from planner.log.api_keys import Role
from planner.log.incident_log import PERSONAL_READ_KIND

Keys = dict[Role, dict[str, str]]

INCIDENT = {
    "incident_id": "I1",
    "code": "CARDIAC_ARREST",
    "location": {"lat": 40.275, "lon": -76.875},
    "address": "12 Front St",
    "details": "man, 60, not breathing",
}


def test_a_whole_incident(fleet: TestClient, keys: Keys) -> None:
    dispatcher = keys[Role.DISPATCHER]
    contact = {"contact_id": "C1", "channel": "phone", "caller_name": "Jane Roe"}
    assert (
        fleet.post("/v1/contacts", json=contact, headers=keys[Role.INTEGRATOR]).status_code == 201
    )
    opened = fleet.post("/v1/incidents", json={**INCIDENT, "contact_id": "C1"}, headers=dispatcher)
    assert opened.status_code == 201
    body = opened.json()
    assert body["type"] == "incident_opened" and body["incident_id"] == "I1"
    assert body["recommendation_changed"] is True
    assert opened.headers["etag"] == f'"{body["version"]}"'
    assert "details" not in body["event"] or body["event"]["details"] is None

    rec = fleet.get("/v1/recommendations", headers=keys[Role.PLANNER]).json()["recommendation"]
    sent = {a["unit"] for a in rec["assignments"] if a["incident"] == "I1"}
    assert sent and sent <= {"M1", "M2"}

    accepted = fleet.post("/v1/incidents/I1/accept", json={}, headers=dispatcher)
    assert accepted.status_code == 200, accepted.text
    assert set(accepted.json()["event"]["units"]) == sent
    unit = sorted(sent)[0]
    en_route = {"status": "en_route"}
    assert (
        fleet.post(f"/v1/units/{unit}/status", json=en_route, headers=dispatcher).status_code == 200
    )
    arrived = fleet.post(f"/v1/units/{unit}/arrive", headers=keys[Role.INTEGRATOR])
    assert arrived.status_code == 200
    assert arrived.json()["incident_id"] == "I1"
    detail = fleet.get("/v1/incidents/I1", headers=dispatcher).json()
    assert detail["incident"]["first_arrival_at"] is not None
    assert {u["id"]: u["status"] for u in detail["units"]}[unit] == "on_scene"

    closed = fleet.post("/v1/incidents/I1/close", json={"outcome": "treated"}, headers=dispatcher)
    assert closed.status_code == 200
    assert fleet.get("/v1/incidents", headers=dispatcher).json()["incidents"] == []
    assert fleet.get("/v1/incidents/I1", headers=dispatcher).status_code == 404
    units = fleet.get("/v1/units", headers=dispatcher).json()["units"]
    assert all(u["status"] == "available" for u in units)
    # a closed incident cannot be escalated: 409, and nothing is logged
    head = fleet.get("/v1/log/verify", headers=keys[Role.AUDITOR]).json()["head_seq"]
    refused = fleet.post(
        "/v1/incidents/I1/escalate", json={"level": 2, "cause": "more"}, headers=dispatcher
    )
    assert refused.status_code == 409
    assert refused.json()["field"] == "incident_id"
    verify = fleet.get("/v1/log/verify", headers=keys[Role.AUDITOR]).json()
    assert verify["ok"] and verify["head_seq"] == head


def test_idempotency_key_replays_the_first_response(
    fleet: TestClient, keys: Keys, app: FastAPI
) -> None:
    headers = {**keys[Role.DISPATCHER], "Idempotency-Key": "open-I1-attempt"}
    first = fleet.post("/v1/incidents", json=INCIDENT, headers=headers)
    head = services_of(app).log.head()
    again = fleet.post("/v1/incidents", json=INCIDENT, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert services_of(app).log.head() == head
    opened = [e for e in services_of(app).log.entries() if e.kind == "incident_opened"]
    assert len(opened) == 1
    # without the key, the same request is a second attempt and the engine refuses it
    assert (
        fleet.post("/v1/incidents", json=INCIDENT, headers=keys[Role.DISPATCHER]).status_code == 409
    )


def test_idempotency_key_reused_for_another_request_is_409(fleet: TestClient, keys: Keys) -> None:
    headers = {**keys[Role.DISPATCHER], "Idempotency-Key": "k-1"}
    assert fleet.post("/v1/incidents", json=INCIDENT, headers=headers).status_code == 201
    other = {**INCIDENT, "incident_id": "I2"}
    response = fleet.post("/v1/incidents", json=other, headers=headers)
    assert response.status_code == 409
    assert response.json()["field"] == "Idempotency-Key"


def test_idempotency_keys_are_per_api_key(fleet: TestClient, keys: Keys) -> None:
    a = fleet.post(
        "/v1/incidents", json=INCIDENT, headers={**keys[Role.DISPATCHER], "Idempotency-Key": "x"}
    )
    assert a.status_code == 201
    b = fleet.post(
        "/v1/incidents",
        json={**INCIDENT, "incident_id": "I2"},
        headers={**keys[Role.SUPERVISOR], "Idempotency-Key": "x"},
    )
    assert b.status_code == 201
    assert b.json()["incident_id"] == "I2"


def test_stale_if_match_is_412_and_changes_nothing(
    fleet: TestClient, keys: Keys, app: FastAPI
) -> None:
    headers = keys[Role.DISPATCHER]
    version = fleet.get("/v1/incidents", headers=headers).json()["version"]
    ok = fleet.post("/v1/incidents", json=INCIDENT, headers={**headers, "If-Match": f'"{version}"'})
    assert ok.status_code == 201
    before = fleet.get("/v1/incidents", headers=headers).json()
    head = services_of(app).log.head()
    stale = fleet.post(
        "/v1/incidents/I1/escalate",
        json={"level": 2, "cause": "second call: two casualties"},
        headers={**headers, "If-Match": f'"{version}"'},
    )
    assert stale.status_code == 412
    assert stale.json()["field"] == "If-Match"
    assert fleet.get("/v1/incidents", headers=headers).json() == before
    assert services_of(app).log.head() == head
    current = ok.json()["version"]
    fresh = fleet.post(
        "/v1/incidents/I1/escalate",
        json={"level": 2, "cause": "second call: two casualties"},
        headers={**headers, "If-Match": f'"{current}"'},
    )
    assert fresh.status_code == 200
    assert fleet.get("/v1/incidents/I1", headers=headers).json()["incident"]["level"] == 2


@pytest.mark.parametrize("value", ["abc", '"-1"', "1.5"])
def test_malformed_if_match_is_422(fleet: TestClient, keys: Keys, value: str) -> None:
    response = fleet.post(
        "/v1/incidents", json=INCIDENT, headers={**keys[Role.DISPATCHER], "If-Match": value}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "If-Match"


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"location": {"lat": 95, "lon": 0}}, "location.lat"),
        ({"priority": 9}, "priority"),
        ({"incident_id": "has space"}, "incident_id"),
        ({"incident_id": "I2/../../units"}, "incident_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    fleet: TestClient, keys: Keys, app: FastAPI, patch: dict[str, Any], loc: str
) -> None:
    head = services_of(app).log.head()
    response = fleet.post(
        "/v1/incidents", json={**INCIDENT, **patch}, headers=keys[Role.DISPATCHER]
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == loc
    assert services_of(app).log.head() == head


def test_unknown_code_is_422_and_unknown_ids_are_404_naming_their_field(
    fleet: TestClient, keys: Keys, app: FastAPI
) -> None:
    head = services_of(app).log.head()
    bad_code = fleet.post(
        "/v1/incidents", json={**INCIDENT, "code": "NOPE"}, headers=keys[Role.DISPATCHER]
    )
    assert bad_code.status_code == 422 and bad_code.json()["field"] == "code"
    ghost = fleet.post("/v1/units/GHOST/arrive", headers=keys[Role.DISPATCHER])
    assert ghost.status_code == 404 and ghost.json()["field"] == "unit_id"
    nope = fleet.post(
        "/v1/incidents/NOPE/escalate",
        json={"level": 2, "cause": "more"},
        headers=keys[Role.DISPATCHER],
    )
    assert nope.status_code == 404 and nope.json()["field"] == "incident_id"
    assert services_of(app).log.head() == head


def test_arrival_without_dispatch_is_409(fleet: TestClient, keys: Keys) -> None:
    response = fleet.post("/v1/units/M1/arrive", headers=keys[Role.DISPATCHER])
    assert response.status_code == 409
    assert "not dispatched" in response.json()["detail"]


def test_personal_data_only_for_allowed_roles_and_every_read_logged(
    fleet: TestClient, keys: Keys, app: FastAPI
) -> None:
    fleet.post("/v1/incidents", json=INCIDENT, headers=keys[Role.DISPATCHER])
    plain = fleet.get("/v1/incidents/I1/timeline", headers=keys[Role.DISPATCHER]).json()
    assert all(e["personal"] is None for e in plain)
    assert "12 Front St" not in fleet.get("/v1/incidents/I1", headers=keys[Role.PLANNER]).text
    url = "/v1/incidents/I1/timeline?personal=true&purpose=call%20review"
    assert fleet.get(url, headers=keys[Role.PLANNER]).status_code == 403
    assert fleet.get(url, headers=keys[Role.INTEGRATOR]).status_code == 403
    missing_purpose = fleet.get(
        "/v1/incidents/I1/timeline?personal=true", headers=keys[Role.AUDITOR]
    )
    assert missing_purpose.status_code == 403
    assert "purpose" in missing_purpose.json()["detail"]
    reads_before = _reads(app)
    entries = fleet.get(url, headers=keys[Role.AUDITOR]).json()
    opened = next(e for e in entries if e["kind"] == "incident_opened")
    assert opened["personal"] == {"address": "12 Front St", "details": "man, 60, not breathing"}
    reads = _reads(app)[len(reads_before) :]
    assert [(r.actor, r.payload["seq"]) for r in reads] == [("auditor:test-auditor", opened["seq"])]
    one = fleet.get(
        f"/v1/log/{opened['seq']}/personal?purpose=complaint", headers=keys[Role.SUPERVISOR]
    )
    assert one.json()["personal"]["address"] == "12 Front St"
    assert len(_reads(app)) == len(reads_before) + 2
    assert (
        fleet.get("/v1/log/999/personal?purpose=x", headers=keys[Role.AUDITOR]).status_code == 404
    )
    # the paged log never carries personal data
    page = fleet.get("/v1/log?limit=1000", headers=keys[Role.AUDITOR]).json()
    assert "12 Front St" not in str(page)


def test_personal_timeline_carries_the_callers_of_the_incidents_contacts(
    fleet: TestClient, keys: Keys, app: FastAPI
) -> None:
    feed = keys[Role.INTEGRATOR]
    for contact_id, caller in (("C1", "Jane Roe"), ("C2", "John Doe"), ("C3", "Other Caller")):
        contact = {"contact_id": contact_id, "channel": "phone", "caller_name": caller}
        assert fleet.post("/v1/contacts", json=contact, headers=feed).status_code == 201
    opened = fleet.post(
        "/v1/incidents", json={**INCIDENT, "contact_id": "C1"}, headers=keys[Role.DISPATCHER]
    )
    assert opened.status_code == 201
    linked = fleet.post("/v1/incidents/I1/contacts", json={"contact_id": "C2"}, headers=feed)
    assert linked.status_code == 200, linked.text

    plain = fleet.get("/v1/incidents/I1/timeline", headers=keys[Role.DISPATCHER]).json()
    assert "contact_received" not in [e["kind"] for e in plain]
    reads_before = _reads(app)
    url = "/v1/incidents/I1/timeline?personal=true&purpose=complaint%20review"
    entries = fleet.get(url, headers=keys[Role.SUPERVISOR]).json()
    callers = {
        e["payload"]["contact_id"]: e["personal"]["caller_name"]
        for e in entries
        if e["kind"] == "contact_received"
    }
    assert callers == {"C1": "Jane Roe", "C2": "John Doe"}
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    read_seqs = {r.payload["seq"] for r in _reads(app)[len(reads_before) :]}
    assert read_seqs == {e["seq"] for e in entries if e["kind"] != PERSONAL_READ_KIND}
    assert "Other Caller" not in str(entries)


def _reads(app: FastAPI) -> list[Any]:
    return [e for e in services_of(app).log.entries() if e.kind == PERSONAL_READ_KIND]


def test_log_pages(fleet: TestClient, keys: Keys) -> None:
    auditor = keys[Role.AUDITOR]
    first = fleet.get("/v1/log?limit=2", headers=auditor).json()
    assert [e["seq"] for e in first["entries"]] == [1, 2]
    second = fleet.get(f"/v1/log?limit=2&after={first['next_after']}", headers=auditor).json()
    assert second["entries"][0]["seq"] == 3
    assert fleet.get("/v1/log?limit=0", headers=auditor).status_code == 422


# -- roles per endpoint group: (method, path, body) and the roles allowed ---------------------

ROLE_CASES: list[tuple[str, str, dict[str, Any] | None, set[Role]]] = [
    (
        "POST",
        "/v1/contacts",
        {"contact_id": "C9", "channel": "sms"},
        {Role.DISPATCHER, Role.SUPERVISOR, Role.INTEGRATOR},
    ),
    ("GET", "/v1/contacts", None, set(Role)),
    ("GET", "/v1/incidents", None, set(Role)),
    (
        "POST",
        "/v1/incidents/I1/notes",
        {"text": "gate code 1234"},
        {Role.DISPATCHER, Role.SUPERVISOR},
    ),
    (
        "POST",
        "/v1/units",
        {"unit_id": "X9", "capabilities": ["BLS"], "home": {"lat": 40.27, "lon": -76.88}},
        {Role.SUPERVISOR, Role.INTEGRATOR},
    ),
    (
        "POST",
        "/v1/units/E1/position",
        {"location": {"lat": 40.266, "lon": -76.889}},
        {Role.DISPATCHER, Role.SUPERVISOR, Role.INTEGRATOR},
    ),
    ("GET", "/v1/units", None, set(Role)),
    ("GET", "/v1/recommendations", None, set(Role)),
    ("GET", "/v1/closures", None, set(Role)),
    ("GET", "/v1/incidents/I1/timeline", None, {Role.DISPATCHER, Role.SUPERVISOR, Role.AUDITOR}),
    ("GET", "/v1/log", None, {Role.SUPERVISOR, Role.AUDITOR}),
    ("GET", "/v1/incidents/I1/cap", None, {Role.DISPATCHER, Role.SUPERVISOR, Role.INTEGRATOR}),
    ("GET", "/v1/incidents/I1/eido", None, {Role.DISPATCHER, Role.SUPERVISOR, Role.INTEGRATOR}),
    ("GET", "/v1/events?after=0&limit=1", None, set(Role)),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROLE_CASES)
def test_roles(
    fleet: TestClient,
    keys: Keys,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    allowed: set[Role],
) -> None:
    fleet.post("/v1/incidents", json=INCIDENT, headers=keys[Role.DISPATCHER])
    assert fleet.request(method, path, json=body).status_code == 401
    for role in Role:
        response = fleet.request(method, path, json=body, headers=keys[role])
        if role in allowed:
            assert response.status_code in (200, 201, 409), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)


def test_concurrent_retries_with_one_key_open_one_incident(
    fleet: TestClient, keys: Keys, app: FastAPI
) -> None:
    """Eight simultaneous retries of one request: one incident, eight identical answers."""
    headers = {**keys[Role.DISPATCHER], "Idempotency-Key": "storm"}
    answers: list[tuple[int, str]] = []

    def retry() -> None:
        response = TestClient(app).post("/v1/incidents", json=INCIDENT, headers=headers)
        answers.append((response.status_code, response.text))

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} == {201}
    assert len({text for _, text in answers}) == 1
    opened = [e for e in services_of(app).log.entries() if e.kind == "incident_opened"]
    assert len(opened) == 1

"""The idempotency record commits with the write it answers: a write that failed before its
commit left no key behind (its retry acts once), and a committed one is never acted twice."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import services_of
from planner.log.api_keys import Role

Keys = dict[Any, dict[str, str]]

INCIDENT = {
    "incident_id": "I1",
    "code": "CARDIAC_ARREST",
    "location": {"lat": 40.275, "lon": -76.875},
}
POSITION = {"location": {"lat": 40.272, "lon": -76.879}}


class Fault(RuntimeError):
    """The injected failure."""


def _idempotency_rows(app: FastAPI) -> int:
    with services_of(app).db.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM api_idempotency")).scalar_one())


def test_a_write_that_failed_at_commit_leaves_no_key_and_its_retry_acts_once(
    app: FastAPI, fleet: TestClient, keys: Keys
) -> None:
    services = services_of(app)
    log_engine = services.log._engine
    headers = {**keys[Role.DISPATCHER], "Idempotency-Key": "open-I1"}
    head = services.log.head()

    def refuse(_conn: Any) -> None:
        raise Fault("the database went away at commit")

    sa.event.listen(log_engine, "commit", refuse)
    try:
        crashed = TestClient(app, raise_server_exceptions=False).post(
            "/v1/incidents", json=INCIDENT, headers=headers
        )
    finally:
        sa.event.remove(log_engine, "commit", refuse)
    assert crashed.status_code == 500
    assert services.log.head() == head
    assert _idempotency_rows(app) == 0
    assert fleet.get("/v1/incidents", headers=headers).json()["incidents"] == []

    first = fleet.post("/v1/incidents", json=INCIDENT, headers=headers)
    assert first.status_code == 201, first.text
    kinds = [e.kind for e in services.log.entries(after_seq=head)]
    assert kinds[:2] == ["incident_opened", "recommendation_issued"]
    assert _idempotency_rows(app) == 1
    again = fleet.post("/v1/incidents", json=INCIDENT, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert [e.kind for e in services.log.entries(after_seq=head)] == kinds


def test_the_key_row_and_the_entries_it_answers_are_one_transaction(
    app: FastAPI, fleet: TestClient, keys: Keys
) -> None:
    """Fail the write after the engine's steps but inside the transaction (the key's own
    insert collides): nothing of the event is left, and the stored first answer is returned."""
    services = services_of(app)
    headers = {**keys[Role.INTEGRATOR], "Idempotency-Key": "k"}
    moved = fleet.post("/v1/units/M1/position", json=POSITION, headers=headers)
    assert moved.status_code == 200, moved.text
    head = services.log.head()
    # a second process stored the same key between our lookup and our commit
    real_lookup = services.idempotency.lookup
    calls = 0

    def first_lookup_misses(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return None if calls == 1 else real_lookup(**kwargs)

    services.idempotency.lookup = first_lookup_misses  # type: ignore[method-assign]
    try:
        raced = fleet.post("/v1/units/M1/position", json=POSITION, headers=headers)
    finally:
        services.idempotency.lookup = real_lookup  # type: ignore[method-assign]
    assert raced.status_code == 200 and raced.headers["idempotent-replayed"] == "true"
    assert services.log.head() == head
    assert services.engine.version == head

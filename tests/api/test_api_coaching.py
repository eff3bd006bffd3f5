"""``POST /v1/coaching``: supervisors record coaching sessions; reviews read them back."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import services_of
from planner.log.api_keys import Role
from planner.review.performance import build_review

SESSION = {
    "coach": "morgan",
    "colleague": "alice",
    "topic": "reversed override on an assault",
    "figure": "override_rate",
    "incidents": ["I-0705"],
    "follow_up": "2026-03-21",
    "notes": "agreed to check the run card before overriding",
}


def test_a_supervisor_records_coaching_and_the_review_shows_it(
    app: FastAPI, client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    response = client.post("/v1/coaching", json=SESSION, headers=keys[Role.SUPERVISOR])
    assert response.status_code == 201, response.text
    url = services_of(app).settings.db_url
    (session,) = build_review(url)["coaching_sessions"]
    assert session["colleague"] == "alice" and session["follow_up"] == "2026-03-21"
    assert session["incidents"] == ["I-0705"]
    assert "notes" not in session  # personal data stays in the log's personal part


def test_only_supervisors_record_coaching_and_bad_fields_are_named(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    response = client.post("/v1/coaching", json=SESSION, headers=keys[Role.DISPATCHER])
    assert response.status_code == 403
    bad = client.post(
        "/v1/coaching", json={**SESSION, "follow_up": "soon"}, headers=keys[Role.SUPERVISOR]
    )
    assert bad.status_code == 422 and "follow_up" in bad.text

"""The SSE stream through the ASGI app: catch-up from a seq, resume with Last-Event-ID."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from planner.log.api_keys import Role

Keys = dict[Role, dict[str, str]]


def parse_sse(text: str) -> list[dict[str, Any]]:
    """SSE messages as dicts of their fields (data decoded from JSON); comments skipped."""
    messages = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            fields[name] = value.strip()
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            messages.append(fields)
    return messages


def test_stream_from_the_start_mirrors_the_log(fleet: TestClient, keys: Keys) -> None:
    incident = {
        "incident_id": "I1",
        "code": "CARDIAC_ARREST",
        "location": {"lat": 40.275, "lon": -76.875},
    }
    fleet.post("/v1/incidents", json=incident, headers=keys[Role.DISPATCHER])
    log = fleet.get("/v1/log", headers=keys[Role.AUDITOR]).json()["entries"]
    response = fleet.get(f"/v1/events?after=0&limit={len(log)}", headers=keys[Role.PLANNER])
    assert response.headers["content-type"].startswith("text/event-stream")
    messages = parse_sse(response.text)
    assert [int(m["id"]) for m in messages] == [e["seq"] for e in log]
    assert [m["event"] for m in messages] == [e["kind"] for e in log]
    assert messages[-1]["event"] == "recommendation_issued"
    assert messages[-1]["data"]["event"]["assignments"]


def test_resume_with_last_event_id(fleet: TestClient, keys: Keys) -> None:
    head = fleet.get("/v1/log/verify", headers=keys[Role.AUDITOR]).json()["head_seq"]
    response = fleet.get(
        "/v1/events?limit=1", headers={**keys[Role.PLANNER], "Last-Event-ID": str(head - 1)}
    )
    assert [int(m["id"]) for m in parse_sse(response.text)] == [head]
    bad = fleet.get("/v1/events?limit=1", headers={**keys[Role.PLANNER], "Last-Event-ID": "x"})
    assert bad.status_code == 422 and bad.json()["field"] == "Last-Event-ID"


def test_every_entry_is_streamed_but_no_personal_data(fleet: TestClient, keys: Keys) -> None:
    contact = {"contact_id": "C1", "channel": "phone", "caller_name": "Jane Roe"}
    seq = fleet.post("/v1/contacts", json=contact, headers=keys[Role.DISPATCHER]).json()["seq"]
    fleet.get(f"/v1/log/{seq}/personal?purpose=check", headers=keys[Role.AUDITOR])
    fleet.post("/v1/contacts", json={**contact, "contact_id": "C2"}, headers=keys[Role.DISPATCHER])
    response = fleet.get(f"/v1/events?after={seq - 1}&limit=3", headers=keys[Role.PLANNER])
    messages = parse_sse(response.text)
    assert [m["event"] for m in messages] == [
        "contact_received",
        "personal_data.read",
        "contact_received",
    ]
    assert "Jane Roe" not in response.text


def test_last_event_id_wins_over_after_and_filters_apply(fleet: TestClient, keys: Keys) -> None:
    incident = {
        "incident_id": "I1",
        "code": "CARDIAC_ARREST",
        "location": {"lat": 40.275, "lon": -76.875},
    }
    opened = fleet.post("/v1/incidents", json=incident, headers=keys[Role.DISPATCHER]).json()
    head = fleet.get("/v1/log/verify", headers=keys[Role.AUDITOR]).json()["head_seq"]
    resumed = fleet.get(
        "/v1/events?after=0&limit=1",
        headers={**keys[Role.PLANNER], "Last-Event-ID": str(head - 1)},
    )
    assert [int(m["id"]) for m in parse_sse(resumed.text)] == [head]
    only = fleet.get(
        "/v1/events?after=0&limit=1&kind=incident_opened&incident=I1", headers=keys[Role.PLANNER]
    )
    assert [(int(m["id"]), m["event"]) for m in parse_sse(only.text)] == [
        (opened["seq"], "incident_opened")
    ]

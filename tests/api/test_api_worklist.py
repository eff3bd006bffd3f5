"""The dispatcher's work items through the API: shift hand-over notes, partial sends, and the
closed-incident history searched by id, code words and address (issue 16)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import services_of
from planner.log.api_keys import Role

AT = {"lat": 40.271, "lon": -76.879}


def _problem(response: Any, status: int, field: str) -> str:
    """The refusal's detail, after checking it is problem+json naming ``field``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["field"] == field, body
    return str(body["detail"])


def _log(client: TestClient, keys: dict[Role, dict[str, str]]) -> list[dict[str, Any]]:
    response = client.get("/v1/log?limit=1000", headers=keys[Role.SUPERVISOR])
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


# -- hand-over notes and the shift log -----------------------------------------------------------


def test_a_hand_over_is_seen_and_acknowledged_by_the_next_dispatcher_and_logged(
    app: FastAPI, fleet: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    client = fleet
    alice = keys[Role.DISPATCHER]
    bob = {"X-API-Key": services_of(app).keys.create(name="bob", role=Role.DISPATCHER).token}
    opened = client.post(
        "/v1/incidents",
        json={"incident_id": "I-1", "code": "CHEST_PAIN", "location": AT},
        headers=alice,
    )
    assert opened.status_code == 201, opened.text
    note = {"handover_id": "HO-1", "note": "I-1: crew asked for police", "incidents": ["I-1"]}
    given = client.post("/v1/shift/handovers", json=note, headers=alice)
    assert given.status_code == 201, given.text

    (waiting,) = client.get("/v1/shift/handovers", headers=bob).json()["handovers"]
    assert waiting["note"] == note["note"] and waiting["incidents"] == ["I-1"]
    assert waiting["actor"] == "dispatcher:test-dispatcher" and waiting["acknowledged_by"] is None

    own = client.post("/v1/shift/handovers/HO-1/acknowledge", json={}, headers=alice)
    assert "not the one who gave it" in _problem(own, 409, "handover_id")
    taken = client.post("/v1/shift/handovers/HO-1/acknowledge", json={}, headers=bob)
    assert taken.status_code == 201, taken.text
    again = client.post(
        "/v1/shift/handovers/HO-1/acknowledge", json={}, headers=keys[Role.SUPERVISOR]
    )
    assert "acknowledged by dispatcher:bob" in _problem(again, 409, "handover_id")

    assert client.get("/v1/shift/handovers", headers=bob).json()["handovers"] == []
    (done,) = client.get("/v1/shift/handovers?status=all", headers=bob).json()["handovers"]
    assert done["acknowledged_by"] == "dispatcher:bob" and done["acknowledged_at"]

    shift = [e for e in _log(client, keys) if e["kind"].startswith(("shift_", "handover_"))]
    assert [(e["kind"], e["actor"]) for e in shift] == [
        ("shift_handed_over", "dispatcher:test-dispatcher"),
        ("handover_acknowledged", "dispatcher:bob"),
    ]
    assert shift[0]["payload"]["note"] == note["note"]  # operational: the next shift reads it


def test_hand_over_refusals_name_the_field_and_change_nothing(
    fleet: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    client = fleet
    alice = keys[Role.DISPATCHER]
    good = {"handover_id": "HO-2", "note": "quiet night"}
    assert client.post("/v1/shift/handovers", json=good, headers=alice).status_code == 201
    before = len(_log(client, keys))

    dup = client.post("/v1/shift/handovers", json=good, headers=alice)
    assert "already given" in _problem(dup, 409, "handover_id")
    gone = client.post(
        "/v1/shift/handovers", json={**good, "handover_id": "HO-3", "incidents": ["I-9"]},
        headers=alice,
    )  # fmt: skip
    assert "I-9" in _problem(gone, 409, "incidents")
    empty = client.post(
        "/v1/shift/handovers", json={"handover_id": "HO-4", "note": ""}, headers=alice
    )
    _problem(empty, 422, "note")
    unknown = client.post(
        "/v1/shift/handovers/HO-404/acknowledge", json={}, headers=keys[Role.SUPERVISOR]
    )
    assert "HO-404" in _problem(unknown, 404, "handover_id")
    planner = client.post("/v1/shift/handovers", json=good, headers=keys[Role.PLANNER])
    assert planner.status_code == 403
    assert len(_log(client, keys)) == before


# -- partial sends -------------------------------------------------------------------------------


def test_a_partial_send_logs_who_chose_what_and_the_rest_is_solved_again(
    fleet: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    """MEDIC_RESPONSE asks for an ENGINE and an ALS unit; the dispatcher sends the engine only."""
    client = fleet
    alice = keys[Role.DISPATCHER]
    body = {"incident_id": "I-MED", "code": "MEDIC_RESPONSE", "location": AT}
    assert client.post("/v1/incidents", json=body, headers=alice).status_code == 201
    recs = client.get("/v1/recommendations", headers=alice).json()["recommendation"]["assignments"]
    mine = {a["capability"]: a["unit"] for a in recs if a["incident"] == "I-MED"}
    assert set(mine) == {"ENGINE", "ALS"}, recs

    sneaky = client.post(
        "/v1/incidents/I-MED/accept", json={"units": ["E1"], "not_sent": []}, headers=alice
    )
    _problem(sneaky, 422, "not_sent")  # the engine fills it in, a client cannot
    sent = client.post("/v1/incidents/I-MED/accept", json={"units": ["E1"]}, headers=alice)
    assert sent.status_code == 200, sent.text
    event = sent.json()["event"]
    assert event["units"] == ["E1"] and event["not_sent"] == [mine["ALS"]]
    assert event["actor"] == "dispatcher:test-dispatcher"

    detail = client.get("/v1/incidents/I-MED", headers=alice).json()
    assert [u["id"] for u in detail["units"]] == ["E1"]
    # The ALS part is still wanted: recommended again (the same unit is still the nearest).
    assert [(a["unit"], a["capability"]) for a in detail["recommended"]] == [(mine["ALS"], "ALS")]
    (logged,) = [e for e in _log(client, keys) if e["kind"] == "dispatch_accepted"]
    assert logged["payload"]["not_sent"] == [mine["ALS"]]
    rest = client.post("/v1/incidents/I-MED/accept", json={}, headers=alice)
    assert rest.json()["event"]["units"] == [mine["ALS"]]
    assert rest.json()["event"]["not_sent"] == []


# -- history and search --------------------------------------------------------------------------


def _open_and_close(
    client: TestClient, headers: dict[str, str], incident_id: str, code: str, address: str
) -> None:
    body = {"incident_id": incident_id, "code": code, "location": AT, "address": address}
    assert client.post("/v1/incidents", json=body, headers=headers).status_code == 201
    closed = client.post(
        f"/v1/incidents/{incident_id}/close", json={"outcome": "resolved"}, headers=headers
    )
    assert closed.status_code == 200, closed.text


def test_closed_incidents_are_found_by_id_code_words_and_address_with_each_read_logged(
    fleet: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    client = fleet
    alice = keys[Role.DISPATCHER]
    _open_and_close(client, alice, "H-100", "CARDIAC_ARREST", "12 Market Street")
    _open_and_close(client, alice, "H-200", "CHEST_PAIN", "40 Front St")
    _open_and_close(client, alice, "H-300", "CHEST_PAIN", "7 Market St, rear door")
    body = {"incident_id": "H-400", "code": "CHEST_PAIN", "location": AT, "address": "9 Market St"}
    assert client.post("/v1/incidents", json=body, headers=alice).status_code == 201

    def closed(query: str, headers: dict[str, str] = alice) -> Any:
        response = client.get(f"/v1/incidents?status=closed&{query}", headers=headers)
        assert response.status_code == 200, response.text
        return response

    assert [s["id"] for s in closed("q=h-2").json()["closed"]] == ["H-200"]
    assert [s["id"] for s in closed("q=cardiac+arrest").json()["closed"]] == ["H-100"]
    assert [s["id"] for s in closed("q=chest+pain").json()["closed"]] == ["H-300", "H-200"]
    assert closed("q=chest+pain").json()["addresses"] is None  # no personal data asked for

    reads_before = sum(e["kind"] == "personal_data.read" for e in _log(client, keys))
    found = closed("address=MARKET+st&purpose=caller+asks+about+a+past+visit")
    assert found.headers["cache-control"] == "no-store"
    page = found.json()
    assert [s["id"] for s in page["closed"]] == ["H-300", "H-100"]  # latest closed first
    assert page["addresses"] == {"H-300": "7 Market St, rear door", "H-100": "12 Market Street"}
    reads = [e for e in _log(client, keys) if e["kind"] == "personal_data.read"][reads_before:]
    assert sorted(r["incident"] for r in reads) == ["H-100", "H-300"]  # one logged read each
    assert all(r["actor"] == "dispatcher:test-dispatcher" for r in reads)
    assert all(r["payload"]["purpose"] == "caller asks about a past visit" for r in reads)

    both = closed("address=market&q=chest&purpose=review").json()
    assert [s["id"] for s in both["closed"]] == ["H-300"]
    open_now = client.get("/v1/incidents?address=market&purpose=review", headers=alice).json()
    assert [i["id"] for i in open_now["incidents"]] == ["H-400"]

    first = closed("address=market&purpose=review&limit=1").json()
    assert [s["id"] for s in first["closed"]] == ["H-300"] and first["next_cursor"]
    second = closed(f"address=market&purpose=review&limit=1&cursor={first['next_cursor']}")
    assert [s["id"] for s in second.json()["closed"]] == ["H-100"]


def test_an_address_search_needs_a_role_that_reads_personal_data_and_a_purpose(
    fleet: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    client = fleet
    _open_and_close(client, keys[Role.DISPATCHER], "H-1", "CHEST_PAIN", "1 Secret Street")
    before = len(_log(client, keys))
    no_purpose = client.get(
        "/v1/incidents?status=closed&address=secret", headers=keys[Role.DISPATCHER]
    )
    assert no_purpose.status_code == 403 and "purpose" in no_purpose.json()["detail"]
    planner = client.get(
        "/v1/incidents?status=closed&address=secret&purpose=curious", headers=keys[Role.PLANNER]
    )
    assert planner.status_code == 403 and "Secret" not in planner.text
    documented = client.get("/openapi.json").json()["paths"]["/v1/incidents"]["get"]
    assert "403" in documented["responses"]  # the address search's refusal is in the contract
    too_long = client.get(
        "/v1/incidents?status=closed&q=" + "x" * 201, headers=keys[Role.DISPATCHER]
    )
    _problem(too_long, 422, "q")
    assert len(_log(client, keys)) == before  # nothing read, nothing logged

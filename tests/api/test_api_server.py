"""The real server: ``python -m planner serve`` on a free loopback port, a whole incident driven
over HTTP while a second client listens on the SSE stream and sees every step."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from planner.log.api_keys import KeyStore, Role

pytestmark = pytest.mark.slow

STEPS = [
    "incident_opened",
    "recommendation_issued",
    "dispatch_accepted",
    "unit_status_changed",
    "unit_arrived",
    "incident_closed",
]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    serve_planner: Callable[..., AbstractContextManager[str]],
) -> Iterator[tuple[str, dict[str, str]]]:
    """A served API on loopback (aguascalientes region, temp SQLite) and a dispatcher key."""
    tmp = tmp_path_factory.mktemp("server")
    db = f"sqlite:///{tmp / 'live.sqlite'}"
    token = KeyStore.from_url(db).create(name="console", role=Role.DISPATCHER).token
    supervisor = KeyStore.from_url(db).create(name="fleet", role=Role.SUPERVISOR).token
    with serve_planner(
        db=db,
        region="aguascalientes",
        log=tmp / "server.log",
        ready_s=90,
        env={"PLANNER_TICK_S": "1"},
    ) as base:
        yield base, {"dispatcher": token, "supervisor": supervisor}


def listen(base: str, token: str, seen: list[dict[str, Any]], ready: threading.Event) -> None:
    """Read the SSE stream until the incident is closed (or 60 s pass)."""
    headers = {"X-API-Key": token, "Accept": "text/event-stream"}
    with httpx.stream("GET", f"{base}/v1/events", headers=headers, timeout=60) as response:
        assert response.status_code == 200
        ready.set()
        kind = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                seen.append({**json.loads(line.partition(":")[2]), "kind": kind})
                if kind == "incident_closed":
                    return


def test_a_whole_incident_over_http_with_a_live_listener(
    server: tuple[str, dict[str, str]],
) -> None:
    base, tokens = server
    dispatcher = {"X-API-Key": tokens["dispatcher"]}
    with httpx.Client(base_url=base, timeout=30) as client:
        region = client.get("/v1/region/map", headers=dispatcher).json()
        west, south, east, north = region["bbox"]
        lat, lon = (south + north) / 2, (west + east) / 2
        supervisor = {"X-API-Key": tokens["supervisor"]}
        for n, (dlat, dlon) in enumerate([(0.001, 0.001), (-0.002, 0.0015)], start=1):
            unit = {
                "unit_id": f"M{n}",
                "capabilities": ["ALS", "BLS"],
                "home": {"lat": lat + dlat, "lon": lon + dlon},
            }
            assert client.post("/v1/units", json=unit, headers=supervisor).status_code == 201

        seen: list[dict[str, Any]] = []
        ready = threading.Event()
        listener = threading.Thread(target=listen, args=(base, tokens["dispatcher"], seen, ready))
        listener.start()
        assert ready.wait(30)

        incident = {
            "incident_id": "AGS-1",
            "code": "CARDIAC_ARREST",
            "location": {"lat": lat, "lon": lon},
            "address": "Calle Juárez 5",
        }
        opened = client.post(
            "/v1/incidents", json=incident, headers={**dispatcher, "Idempotency-Key": "ags-1"}
        )
        assert opened.status_code == 201, opened.text
        rec = client.get("/v1/recommendations", headers=dispatcher).json()["recommendation"]
        sent = sorted(a["unit"] for a in rec["assignments"] if a["incident"] == "AGS-1")
        assert sent, rec
        version = client.get("/v1/incidents", headers=dispatcher).json()["version"]
        accepted = client.post(
            "/v1/incidents/AGS-1/accept",
            json={},
            headers={**dispatcher, "If-Match": f'"{version}"'},
        )
        assert accepted.status_code == 200, accepted.text
        unit = sent[0]
        steps = [
            client.post(
                f"/v1/units/{unit}/status", json={"status": "en_route"}, headers=dispatcher
            ),
            client.post(f"/v1/units/{unit}/arrive", headers=dispatcher),
            client.post(
                "/v1/incidents/AGS-1/close", json={"outcome": "treated"}, headers=dispatcher
            ),
        ]
        assert [r.status_code for r in steps] == [200, 200, 200], [r.text for r in steps]
        listener.join(timeout=60)
        assert not listener.is_alive()

    kinds = [m["kind"] for m in seen]
    assert set(STEPS) <= set(kinds), seen
    positions = [kinds.index(step) for step in STEPS]
    assert positions == sorted(positions), kinds
    seqs = [m["seq"] for m in seen]
    assert seqs == sorted(set(seqs))  # in log order, none twice
    assert all(m["incident"] == "AGS-1" for m in seen if m["kind"] in STEPS[2:])
    assert "Juárez" not in json.dumps(seen)  # personal data is never streamed

"""Outbound webhooks against a real HTTP receiver on 127.0.0.1: signed payloads, filters,
retries with backoff, the delivery log, per-key ownership and deletion."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import services_of
from api.settings import ApiSettings
from planner.log.api_keys import Role

Keys = dict[Role, dict[str, str]]
SECRET = "s3cret-for-the-receiver-0123"


class Receiver:
    """A loopback HTTP server that records each POST and answers from a list of statuses."""

    def __init__(self, statuses: list[int]) -> None:
        self.calls: list[tuple[float, dict[str, str], bytes]] = []
        self.statuses = statuses
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((time.monotonic(), dict(self.headers), body))
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api_settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(
        db_url=f"sqlite:///{tmp_path / 'api.sqlite'}",
        max_body_bytes=64_000,
        webhook_backoff_s=0.2,
        webhook_max_attempts=3,
    )


@pytest.fixture
def receiver() -> Iterator[Callable[[list[int]], Receiver]]:
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _open(client: TestClient, keys: Keys, incident_id: str) -> None:
    body = {"incident_id": incident_id, "code": "CARDIAC_ARREST"}
    body["location"] = {"lat": 40.27, "lon": -76.88}  # type: ignore[assignment]
    response = client.post("/v1/incidents", json=body, headers=keys[Role.DISPATCHER])
    assert response.status_code == 201, response.text


def test_signed_filtered_delivery(
    fleet: TestClient, keys: Keys, receiver: Callable[[list[int]], Receiver]
) -> None:
    rx = receiver([])
    made = fleet.post(
        "/v1/webhooks",
        json={"url": rx.url, "kinds": ["incident_opened"], "secret": SECRET},
        headers=keys[Role.INTEGRATOR],
    )
    assert made.status_code == 201, made.text
    assert made.json()["secret"] == SECRET
    _open(fleet, keys, "W-1")
    _wait(lambda: len(rx.calls) == 1)
    _, headers, body = rx.calls[0]
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Planner-Signature"] == f"sha256={expected}"
    entry = json.loads(body)
    assert entry["type"] == "incident_opened" and entry["incident"] == "W-1"
    logged = fleet.get("/v1/log", headers=keys[Role.SUPERVISOR]).json()["entries"]
    opened = [e["seq"] for e in logged if e["kind"] == "incident_opened"]
    assert entry["seq"] == opened[0]  # the log's own seq
    # the filter: the recommendation and unit events of the opening were not sent
    time.sleep(0.3)
    assert len(rx.calls) == 1
    listed = fleet.get("/v1/webhooks", headers=keys[Role.INTEGRATOR]).json()["items"]
    assert [h["url"] for h in listed] == [rx.url] and "secret" not in listed[0]


def test_retries_with_backoff_and_delivery_log(
    fleet: TestClient, keys: Keys, receiver: Callable[[list[int]], Receiver]
) -> None:
    rx = receiver([500, 503, 200])
    hook = fleet.post(
        "/v1/webhooks",
        json={"url": rx.url, "kinds": ["incident_opened"]},
        headers=keys[Role.INTEGRATOR],
    ).json()
    _open(fleet, keys, "W-2")
    _wait(lambda: len(rx.calls) == 3)
    times = [t for t, _, _ in rx.calls]
    # backoff 0.2 s, then 0.4 s (each at least; scheduling adds a little)
    assert times[1] - times[0] >= 0.19 and times[2] - times[1] >= 0.39
    assert len({body for _, _, body in rx.calls}) == 1  # the same payload each time
    _wait(
        lambda: (
            len(
                fleet.get(
                    f"/v1/webhooks/{hook['id']}/deliveries", headers=keys[Role.INTEGRATOR]
                ).json()["items"]
            )
            == 3
        )
    )
    log = fleet.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=keys[Role.INTEGRATOR])
    items = log.json()["items"]
    assert [(d["attempt"], d["status_code"], d["delivered"]) for d in items] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]


def test_gives_up_after_max_attempts_on_a_dead_receiver(
    fleet: TestClient, keys: Keys, receiver: Callable[[list[int]], Receiver]
) -> None:
    rx = receiver([])
    dead_url = rx.url
    rx.close()  # nothing listens on that port now
    hook = fleet.post(
        "/v1/webhooks",
        json={"url": dead_url, "kinds": ["incident_opened"]},
        headers=keys[Role.INTEGRATOR],
    ).json()
    _open(fleet, keys, "W-3")
    path = f"/v1/webhooks/{hook['id']}/deliveries"

    def attempts() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = fleet.get(path, headers=keys[Role.INTEGRATOR]).json()["items"]
        return items

    _wait(lambda: len(attempts()) == 3)
    time.sleep(1.0)
    items = attempts()
    assert len(items) == 3 and not any(d["delivered"] for d in items)
    assert all(d["status_code"] is None and d["error"] for d in items)


def test_webhooks_belong_to_their_key_and_delete_stops_deliveries(
    fleet: TestClient, keys: Keys, receiver: Callable[[list[int]], Receiver]
) -> None:
    rx = receiver([])
    hook = fleet.post("/v1/webhooks", json={"url": rx.url}, headers=keys[Role.INTEGRATOR]).json()
    other = keys[Role.SUPERVISOR]
    assert fleet.get("/v1/webhooks", headers=other).json()["items"] == []
    assert fleet.delete(f"/v1/webhooks/{hook['id']}", headers=other).status_code == 404
    assert fleet.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=other).status_code == 404
    assert (
        fleet.post("/v1/webhooks", json={"url": rx.url}, headers=keys[Role.PLANNER]).status_code
        == 403
    )
    gone = fleet.delete(f"/v1/webhooks/{hook['id']}", headers=keys[Role.INTEGRATOR])
    assert gone.status_code == 204
    _open(fleet, keys, "W-4")
    time.sleep(0.5)
    assert rx.calls == []
    assert fleet.get("/v1/webhooks", headers=keys[Role.INTEGRATOR]).json()["items"] == []


def test_revoking_the_key_stops_its_webhooks(
    app: FastAPI, fleet: TestClient, keys: Keys, receiver: Callable[[list[int]], Receiver]
) -> None:
    rx = receiver([])
    made = fleet.post("/v1/webhooks", json={"url": rx.url}, headers=keys[Role.INTEGRATOR])
    assert made.status_code == 201
    prefix = keys[Role.INTEGRATOR]["X-API-Key"].split("_")[1]
    services_of(app).keys.revoke(prefix=prefix)
    _open(fleet, keys, "W-5")
    time.sleep(0.5)
    assert rx.calls == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://127.0.0.1/x", "secret": "short"}, "secret"),
        ({"url": "http://127.0.0.1/x", "kinds": ["Bad Kind"]}, "kinds"),
    ],
)
def test_bad_registrations_are_422_naming_the_field(
    client: TestClient, keys: Keys, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/webhooks", json=body, headers=keys[Role.INTEGRATOR])
    assert response.status_code == 422, response.text
    assert field in response.json()["field"]
    assert client.get("/v1/webhooks", headers=keys[Role.INTEGRATOR]).json()["items"] == []

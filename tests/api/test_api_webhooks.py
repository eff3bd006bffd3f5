"""Outbound webhooks against a real HTTP receiver on 127.0.0.1 (allowed by the allow-list):
signed payloads, filters, retries with backoff, the delivery log, per-key ownership and
deletion, the server-side request forgery guard at registration and delivery, and delivery
of entries written while the server was down (SQLite and PostgreSQL)."""

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

from api.app import create_app, services_of
from api.settings import ApiSettings
from planner.centre.engine import Engine
from planner.log.api_keys import Role
from planner.log.incident_log import IncidentLog

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
        webhook_allow_networks=("127.0.0.0/8",),
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


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/x", "loopback"),
        ("http://localhost:9/x", "loopback"),
        ("http://10.1.2.3/x", "private"),
        ("http://192.168.0.1/x", "private"),
        ("http://172.20.0.1/x", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://100.100.100.200/x", "metadata"),
        ("http://224.0.0.1/x", "multicast"),
        ("http://0.0.0.0/x", "this-host"),
        ("http://2130706433/x", "url"),  # 127.0.0.1 as one number: not in the URL grammar
        ("http://127.1/x", "url"),
        ("gopher://8.8.8.8/x", "url"),
        ("file:///etc/passwd", "url"),
    ],
)
def test_registration_refuses_internal_addresses_naming_url(
    tmp_path: Path, url: str, why: str
) -> None:
    settings = ApiSettings(db_url=f"sqlite:///{tmp_path / 'ssrf.sqlite'}", max_body_bytes=64_000)
    app = create_app(settings)
    try:
        client = TestClient(app)
        token = services_of(app).keys.create(name="i", role=Role.INTEGRATOR).token
        response = client.post("/v1/webhooks", json={"url": url}, headers={"X-API-Key": token})
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["field"] == "url"
        assert why in problem["detail"] or why == "url"
        assert client.get("/v1/webhooks", headers={"X-API-Key": token}).json()["items"] == []
    finally:
        services_of(app).close()


def test_allow_list_admits_a_private_network_but_never_metadata(tmp_path: Path) -> None:
    settings = ApiSettings(
        db_url=f"sqlite:///{tmp_path / 'allow.sqlite'}",
        webhook_allow_networks=("10.20.0.0/16", "169.254.0.0/16"),
    )
    app = create_app(settings)
    try:
        client = TestClient(app)
        headers = {"X-API-Key": services_of(app).keys.create(name="i", role=Role.INTEGRATOR).token}
        ok = client.post("/v1/webhooks", json={"url": "http://10.20.1.5:8080/h"}, headers=headers)
        assert ok.status_code == 201, ok.text
        other = client.post("/v1/webhooks", json={"url": "http://10.21.0.1/h"}, headers=headers)
        assert other.status_code == 422 and other.json()["field"] == "url"
        meta = client.post(
            "/v1/webhooks", json={"url": "http://169.254.169.254/h"}, headers=headers
        )
        assert meta.status_code == 422 and "metadata" in meta.json()["detail"]
    finally:
        services_of(app).close()


def test_allow_networks_setting_must_be_cidr(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="webhook_allow_networks"):
        ApiSettings(db_url="sqlite://", webhook_allow_networks=("not-a-network",))


def _centre(db: str, allow: tuple[str, ...]) -> FastAPI:
    return create_app(
        ApiSettings(
            db_url=db,
            max_body_bytes=64_000,
            webhook_backoff_s=0.2,
            webhook_max_attempts=2,
            webhook_allow_networks=allow,
            tick_s=0,
        )
    )


def _token(app: FastAPI, role: Role) -> dict[str, str]:
    return {"X-API-Key": services_of(app).keys.create(name=f"t-{role.value}", role=role).token}


def test_delivery_checks_the_resolved_address_again(
    tmp_path: Path, receiver: Callable[[list[int]], Receiver]
) -> None:
    """Registered while loopback was allowed, by host name; after a restart without the
    allow-list, ``localhost`` resolves to loopback at delivery and nothing is sent."""
    db = f"sqlite:///{tmp_path / 'rebind.sqlite'}"
    rx = receiver([])
    port = rx.server.server_address[1]
    first = _centre(db, ("127.0.0.0/8", "::1/128"))
    integrator = _token(first, Role.INTEGRATOR)
    dispatcher = _token(first, Role.DISPATCHER)
    hook = TestClient(first).post(
        "/v1/webhooks",
        json={"url": f"http://localhost:{port}/hook", "kinds": ["incident_opened"]},
        headers=integrator,
    )
    assert hook.status_code == 201, hook.text
    services_of(first).close()
    second = _centre(db, ())
    try:
        client = TestClient(second)
        body = {"incident_id": "R-1", "code": "FALL", "location": {"lat": 40.27, "lon": -76.88}}
        assert client.post("/v1/incidents", json=body, headers=dispatcher).status_code == 201
        path = f"/v1/webhooks/{hook.json()['id']}/deliveries"
        _wait(lambda: len(client.get(path, headers=integrator).json()["items"]) == 2)
        items = client.get(path, headers=integrator).json()["items"]
        assert all(not d["delivered"] and d["status_code"] is None for d in items)
        assert "refused" in items[0]["error"] and "loopback" in items[0]["error"]
        assert rx.calls == []
    finally:
        services_of(second).close()


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_entries_written_while_down_are_pushed_after_restart(
    database: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    receiver: Callable[[list[int]], Receiver],
) -> None:
    """Registration and delivery on both backends; the per-webhook cursor is persisted, so
    an entry appended while no server ran is delivered by the next one, and entries already
    delivered are not sent again."""
    db = (
        f"sqlite:///{tmp_path / 'down.sqlite'}"
        if database == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    rx = receiver([])
    allow = ("127.0.0.0/8",)
    body = {"code": "FALL", "location": {"lat": 40.27, "lon": -76.88}}
    first = _centre(db, allow)
    integrator = _token(first, Role.INTEGRATOR)
    dispatcher = _token(first, Role.DISPATCHER)
    client = TestClient(first)
    made = client.post(
        "/v1/webhooks", json={"url": rx.url, "kinds": ["incident_opened"]}, headers=integrator
    )
    assert made.status_code == 201, made.text
    opened = client.post("/v1/incidents", json={**body, "incident_id": "D-1"}, headers=dispatcher)
    assert opened.status_code == 201
    _wait(lambda: len(rx.calls) == 1)
    services_of(first).close()

    # the server is down: another writer (here: the engine on the log, as `planner events
    # apply` does) appends an incident
    with IncidentLog(db, create=False) as log:
        engine = Engine.replay(log, resolve=False)
        engine.submit({"type": "incident_opened", "incident_id": "D-2", **body})

    second = _centre(db, allow)
    try:
        _wait(lambda: len(rx.calls) == 2)
        time.sleep(0.3)
        incidents = [json.loads(b)["incident"] for _, _, b in rx.calls]
        assert incidents == ["D-1", "D-2"]  # D-1 not again, D-2 although written while down
        third_entry = TestClient(second).post(
            "/v1/incidents", json={**body, "incident_id": "D-3"}, headers=dispatcher
        )
        assert third_entry.status_code == 201
        _wait(lambda: len(rx.calls) == 3)
    finally:
        services_of(second).close()

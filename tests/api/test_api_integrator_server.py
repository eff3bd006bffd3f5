"""The integrator findings against a real ``planner serve`` process, on SQLite and PostgreSQL:
revoked keys lose their open stream within seconds, NUL bytes and non-finite numbers are
4xx on both databases, and no refused body reaches the server log (issue 14, 2, 3, 5)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from planner.log.api_keys import KeyStore, Role
from planner.log.incident_log import IncidentLog

pytestmark = pytest.mark.slow

SECRET = "Mrs Jane Roe-Secret, 4 Elm Road"


@dataclass(frozen=True)
class Live:
    base: str
    db: str
    log: Path
    supervisor: dict[str, str]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    serve_planner: Callable[..., AbstractContextManager[str]],
) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    db = (
        f"sqlite:///{tmp / 'live.sqlite'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_schema_url"))
    )
    token = KeyStore.from_url(db).create(name="fleet", role=Role.SUPERVISOR).token
    log = tmp / "server.log"
    with serve_planner(
        db=db,
        region="aguascalientes",
        log=log,
        ready_s=90,
        env={"PLANNER_TICK_S": "0", "PLANNER_SSE_RECHECK_S": "1"},
    ) as base:
        yield Live(base=base, db=db, log=log, supervisor={"X-API-Key": token})


def test_a_revoked_key_loses_its_open_stream_within_seconds(live: Live) -> None:
    store = KeyStore.from_url(live.db)
    created = store.create(name="feed", role=Role.INTEGRATOR)
    headers = {"X-API-Key": created.token, "Accept": "text/event-stream"}
    ended = threading.Event()
    opened = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{live.base}/v1/events", headers=headers, timeout=30) as r:
            assert r.status_code == 200
            opened.set()
            for _ in r.iter_lines():
                pass
        ended.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert opened.wait(10)
    time.sleep(1.5)
    assert not ended.is_set()
    revoked_at = time.monotonic()
    store.revoke(prefix=created.key.prefix)
    assert ended.wait(10), "the stream stayed open after revocation"
    assert time.monotonic() - revoked_at < 5
    again = httpx.get(f"{live.base}/v1/events", headers=headers, timeout=10)
    assert again.status_code == 401
    assert again.headers["content-type"] == "application/problem+json"


def test_the_stream_carries_every_entry_once_in_order_whoever_wrote_it(live: Live) -> None:
    """Entries this server wrote come from the log's memory, one another process wrote (an
    audit entry) from the database: the stream must still be every seq after its start, once,
    in order."""
    headers = {**live.supervisor, "Accept": "text/event-stream"}
    start = httpx.get(f"{live.base}/v1/log/verify", headers=live.supervisor).json()["head_seq"]
    seen: list[int] = []
    opened = threading.Event()

    def listen() -> None:
        url = f"{live.base}/v1/events?after={start}&limit=6"
        with httpx.stream("GET", url, headers=headers, timeout=30) as r:
            opened.set()
            seen.extend(int(line[3:]) for line in r.iter_lines() if line.startswith("id:"))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert opened.wait(10)
    with httpx.Client(base_url=live.base, headers=live.supervisor, timeout=30) as client:
        for n in (1, 2):
            contact = {"contact_id": f"S{start}-{n}", "channel": "phone", "summary": "smoke"}
            assert client.post("/v1/contacts", json=contact).status_code == 201
        with IncidentLog(live.db, create=False) as cli:  # an auditor's read from the CLI
            assert cli.read_personal(start + 1, reader="auditor:cli", purpose="check") is None
        for n in (3, 4):
            contact = {"contact_id": f"S{start}-{n}", "channel": "phone", "summary": "smoke"}
            assert client.post("/v1/contacts", json=contact).status_code == 201
        read = client.get(f"/v1/log/{start + 1}/personal", params={"purpose": "check"})
        assert read.status_code == 200
    thread.join(15)
    assert not thread.is_alive(), f"the stream stopped at {seen}"
    assert seen == list(range(start + 1, start + 7))


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("GET", "/v1/log?incident=I%001", None, 400),
        ("GET", "/v1/incidents/I%001", None, 400),
        ("GET", "/v1/incidents/I1%00/timeline", None, 400),
        (
            "POST",
            "/v1/contacts",
            b'{"contact_id":"C1","channel":"phone","summary":"a\\u0000b"}',
            422,
        ),
        ("POST", "/v1/contacts", b'{"contact_id":"C1","channel":"phone","caller_name":NaN}', 422),
        ("POST", "/v1/units/M1/position", b'{"location":{"lat":1e400,"lon":0}}', 422),
    ],
)
def test_nul_bytes_and_non_finite_numbers_are_4xx_on_every_database(
    live: Live, method: str, url: str, body: bytes | None, status: int
) -> None:
    headers = {**live.supervisor, "Content-Type": "application/json"}
    response = httpx.request(method, live.base + url, content=body, headers=headers, timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_refused_bodies_never_reach_the_server_log(live: Live) -> None:
    raw = (
        '{"incident_id":"I9","code":"CARDIAC_ARREST","details":"' + SECRET + '",'
        '"location":{"lat":NaN,"lon":Infinity}}'
    ).encode()
    headers = {**live.supervisor, "Content-Type": "application/json"}
    for body in (raw, raw.replace(b"NaN", b"1e999"), raw.replace(b"NaN", b'"x"')):
        response = httpx.post(
            f"{live.base}/v1/incidents", content=body, headers=headers, timeout=10
        )
        assert response.status_code == 422, response.text
        assert SECRET not in response.text
    time.sleep(0.5)
    assert SECRET not in live.log.read_text(errors="replace")

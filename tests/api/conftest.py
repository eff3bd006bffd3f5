"""Fixtures for the API tests: an app on a fresh SQLite file and one key per role; for the
console's browser tests, a real server with a small fleet and a headless Chromium (one of each
per test module, so each module reads a log of its own)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from console_support import CHROMIUM, CHROMIUM_ARGS, Server, create_key, register_fleet
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app, services_of
from api.settings import ApiSettings
from planner.log.api_keys import Role


@pytest.fixture
def api_settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(db_url=f"sqlite:///{tmp_path / 'api.sqlite'}", max_body_bytes=64_000)


@pytest.fixture
def app(api_settings: ApiSettings) -> Iterator[FastAPI]:
    app = create_app(api_settings)
    yield app
    services_of(app).close()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


@pytest.fixture
def keys(app: FastAPI) -> dict[Role, dict[str, str]]:
    """``X-API-Key`` headers, one per role."""
    store = services_of(app).keys
    return {
        role: {"X-API-Key": store.create(name=f"test-{role.value}", role=role).token}
        for role in Role
    }


UNITS = (
    {"unit_id": "M1", "capabilities": ["ALS"], "home": {"lat": 40.270, "lon": -76.880}},
    {"unit_id": "M2", "capabilities": ["ALS", "BLS"], "home": {"lat": 40.280, "lon": -76.870}},
    {"unit_id": "E1", "capabilities": ["ENGINE"], "home": {"lat": 40.265, "lon": -76.890}},
)


@pytest.fixture
def fleet(client: TestClient, keys: dict[Role, dict[str, str]]) -> TestClient:
    """A centre with three registered units (crow-fly travel times, no region)."""
    for unit in UNITS:
        response = client.post("/v1/units", json=unit, headers=keys[Role.SUPERVISOR])
        assert response.status_code == 201, response.text
    return client


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    serve_planner: Callable[..., AbstractContextManager[str]],
) -> Iterator[Server]:
    """A real Harrisburg server on a fresh log with a dispatcher, a supervisor and a planner key
    and five units."""
    tmp = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    db = f"sqlite:///{tmp / 'centre.sqlite'}"
    keys = {role: create_key(db, role) for role in ("dispatcher", "supervisor", "planner")}
    with serve_planner(db=db, region="harrisburg", log=tmp / "server.log", ready_s=180) as base:
        srv = Server(base=base, db=db, keys=keys)
        srv.units = register_fleet(srv)
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (the browser test modules skip themselves where there is none)."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()

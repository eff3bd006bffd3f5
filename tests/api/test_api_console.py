"""The console's server side: the page and its files, who-am-I, and the region map to draw."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from api.app import create_app, services_of
from api.routes.console import CONSOLE_DIR, unique_segments
from api.settings import ApiSettings
from planner.log.api_keys import Role

CONSOLE_FILES = ("index.html", "console.css", "console.js", "map.js", "api.js", "store.js")


def test_page_and_files_are_served_without_a_key(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/console/console.js" in page.text
    for name in CONSOLE_FILES:
        response = client.get(f"/console/{name}")
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == "no-cache"
    assert client.get("/console/console.js").headers["content-type"].startswith("text/javascript")


def test_every_module_the_page_imports_is_served(client: TestClient) -> None:
    """A module imported by another but missing on the server would break the page silently."""
    import re

    for path in CONSOLE_DIR.glob("*.js"):
        for name in re.findall(r'from "\./([\w.-]+)"', path.read_text()):
            assert client.get(f"/console/{name}").status_code == 200, (path.name, name)


@pytest.mark.parametrize(
    "name", ["../app.py", "..%2Fapp.py", ".hidden.js", "missing.js", "notes.txt", "%2Fetc%2Fpasswd"]
)
def test_only_console_files_are_served(client: TestClient, name: str) -> None:
    assert client.get(f"/console/{name}").status_code == 404


def test_whoami_names_the_role_and_personal_data_right(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    assert client.get("/v1/whoami").status_code == 401
    assert client.get("/v1/whoami", headers={"X-API-Key": "dpk_00000000_nope"}).status_code == 401
    for role, headers in keys.items():
        body = client.get("/v1/whoami", headers=headers).json()
        assert body["role"] == role.value
        assert body["name"] == f"test-{role.value}"
        assert body["personal_data"] is (role in {Role.DISPATCHER, Role.SUPERVISOR, Role.AUDITOR})


def test_region_map_without_a_region_is_404(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    response = client.get("/v1/region/map", headers=keys[Role.PLANNER])
    assert response.status_code == 404
    assert "--region" in response.json()["detail"]


@pytest.fixture(scope="module")
def region_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    db = tmp_path_factory.mktemp("console") / "api.sqlite"
    app = create_app(ApiSettings(db_url=f"sqlite:///{db}", region="aguascalientes"))
    yield app
    services_of(app).close()


def test_region_map_draws_each_street_once(region_app: FastAPI) -> None:
    client = TestClient(region_app)
    services = services_of(region_app)
    token = services.keys.create(name="map-reader", role=Role.PLANNER).token
    assert client.get("/v1/region/map").status_code == 401
    packed = client.get("/v1/region/map", headers={"X-API-Key": token, "Accept-Encoding": "gzip"})
    plain = client.get(
        "/v1/region/map", headers={"X-API-Key": token, "Accept-Encoding": "identity"}
    )
    assert packed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert int(packed.headers["content-length"]) < int(plain.headers["content-length"]) / 2
    body = plain.json()
    assert packed.json() == body
    region = services.region
    assert region is not None
    assert body["name"] == region.name
    west, south, east, north = body["bbox"]
    segments = np.asarray(body["segments"]).reshape(-1, 4)
    assert 0 < len(segments) < len(region.road_segments())
    assert np.all((segments[:, [0, 2]] >= west - 1e-5) & (segments[:, [0, 2]] <= east + 1e-5))
    assert np.all((segments[:, [1, 3]] >= south - 1e-5) & (segments[:, [1, 3]] <= north + 1e-5))
    # Every directed edge of the region is drawn by some segment (in one direction or the other).
    drawn = {tuple(s) for s in segments.tolist()}
    for s in np.round(region.road_segments(), 5).tolist()[:500]:
        a, b = (s[0], s[1]), (s[2], s[3])
        if a != b:
            assert (*min(a, b), *max(a, b)) in drawn


coords = st.floats(min_value=-80, max_value=80, allow_nan=False).map(lambda v: round(v, 3))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 30), st.just(4)), elements=coords))
def test_unique_segments_is_direction_free_and_drops_nothing_drawable(
    segments: np.ndarray,
) -> None:
    flipped = segments[:, [2, 3, 0, 1]]
    once = unique_segments(segments)
    both = unique_segments(np.vstack([segments, flipped]))
    assert np.array_equal(once, both)
    assert len(once) == len({tuple(r) for r in once.tolist()})
    ends = {((r[0], r[1]), (r[2], r[3])) for r in once.tolist()}
    for r in segments.tolist():
        a, b = (r[0], r[1]), (r[2], r[3])
        if a != b:
            assert (min(a, b), max(a, b)) in ends


def test_console_files_are_plain_and_self_contained() -> None:
    """No CDN, no third-party script: the console must work with no internet."""
    for path in Path(CONSOLE_DIR).iterdir():
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, path.name

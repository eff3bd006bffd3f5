"""Schemathesis against the OpenAPI schema, in process (ASGI): bounded examples, no 5xx.

A supervisor key (the role every operation accepts) is sent with every case, so the fuzzing
reaches the handlers rather than stopping at 401/403. The SSE stream is left out: without
``limit`` it is endless by design (its catch-up and resume are tested separately).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.app import create_app, services_of
from api.settings import ApiSettings
from planner.log.api_keys import Role

pytestmark = pytest.mark.slow

UNIT = {"unit_id": "M1", "capabilities": ["ALS"], "home": {"lat": 40.27, "lon": -76.88}}


def _fuzz_target() -> tuple[schemathesis.BaseSchema, str]:
    """An app on a fresh temp database with one unit, its schema and a supervisor key."""
    db = Path(tempfile.mkdtemp(prefix="planner-fuzz-")) / "fuzz.sqlite"
    app = create_app(ApiSettings(db_url=f"sqlite:///{db}", tick_s=0, max_body_bytes=64_000))
    token = services_of(app).keys.create(name="fuzzer", role=Role.SUPERVISOR).token
    services_of(app).engine.submit({**UNIT, "type": "unit_registered"})
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/v1/events")
    return loaded, token


schema, TOKEN = _fuzz_target()


@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers={"X-API-Key": TOKEN})
    assert response.status_code < 500, (case.method, case.path, response.text[:500])

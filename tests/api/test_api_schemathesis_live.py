"""Schemathesis against a live ``planner serve`` on SQLite and PostgreSQL: every check, every
phase (examples, coverage, fuzzing, stateful via the OpenAPI links), 0 failures.

The configuration widens what schemathesis accepts for schema-valid requests in two ways, and
no more:

* everywhere: 412, the answer to an ``If-Match`` naming another version (a schema-valid but
  stale precondition is exactly what 412 means), and the statuses that depend on state or on
  the caller rather than on the request's shape (401, 403, 404, 409, 429);
* 422 on exactly the five operations whose 422 documents a rule JSON Schema cannot state:
  ``POST /v1/plan`` (``travel_times_s`` must name exactly the body's units and incidents; with
  ``region``, points near its roads), and the incident and unit writes with a ``location`` or
  ``home`` (within ``max_snap_m`` of the served region's roads; the schema states the region's
  bounding box).

Strings are generated without NUL characters, which the server refuses by design (PostgreSQL
cannot store them; tested in test_api_integrator_server.py). The event stream is left out:
without ``limit`` it never ends by design (tests/api/test_api_events.py covers it). Bounded: 8
examples per operation, deterministic generation, a 300 s cap per database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from planner.log.api_keys import KeyStore, Role

pytestmark = pytest.mark.slow

ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]
CROSS_FIELD_RULES = {
    "POST": ["/v1/plan", "/v1/incidents", "/v1/units", "/v1/units/{unit_id}/position"],
    "PATCH": ["/v1/incidents/{incident_id}"],
}
"""The operations whose documented 422 includes a rule JSON Schema cannot state."""
RULE_NOTE = "JSON Schema cannot state"


def _config() -> str:
    def statuses(extra: list[str]) -> str:
        return json.dumps([*ACCEPTED, *extra])

    lines = ["[checks.positive_data_acceptance]", f"expected-statuses = {statuses([])}"]
    for method, paths in CROSS_FIELD_RULES.items():
        lines += [
            "",
            "[[operations]]",
            f"include-method = {json.dumps(method)}",
            f"include-path = {json.dumps(paths)}",
            f"checks.positive_data_acceptance.expected-statuses = {statuses(['422'])}",
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_schemathesis_all_checks_stateful_zero_failures(
    database: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    serve_planner: Callable[..., AbstractContextManager[str]],
) -> None:
    db = (
        f"sqlite:///{tmp_path / 'fuzz.sqlite'}"
        if database == "sqlite"
        else str(request.getfixturevalue("postgres_schema_url"))
    )
    token = KeyStore.from_url(db).create(name="fuzzer", role=Role.SUPERVISOR).token
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config())
    env = {"PLANNER_TICK_S": "0", "PLANNER_RATE_LIMIT_PER_S": "0"}
    with serve_planner(
        db=db, region="aguascalientes", log=tmp_path / "server.log", ready_s=90, env=env
    ) as base:
        document = httpx.get(f"{base}/openapi.json").json()
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")),
                "--config-file",
                str(config),
                "run",
                f"{base}/openapi.json",
                "-H",
                f"X-API-Key: {token}",
                "--checks",
                "all",
                "--max-examples",
                "8",
                "--generation-deterministic",
                "--exclude-path",
                "/v1/events",
                "--request-timeout",
                "20",
                "--continue-on-failure",
                "--no-color",
                "--generation-allow-x00",
                "false",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
            check=False,
        )
    (tmp_path / "st.txt").write_text(run.stdout)
    assert run.returncode == 0, run.stdout[-6000:]
    assert "Stateful" in run.stdout
    # 422 is accepted for schema-valid bodies exactly where the document names such a rule
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if RULE_NOTE in operation["responses"].get("422", {}).get("description", "")
    }
    assert documented == {(m, p) for m, paths in CROSS_FIELD_RULES.items() for p in paths}

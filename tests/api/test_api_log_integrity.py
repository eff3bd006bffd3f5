"""The server signs what it appends, writes signed checkpoints outside the database by itself,
serves the latest one, and refuses writes (503) when its log does not verify at start-up."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app, services_of
from api.settings import ApiSettings
from planner.log.api_keys import Role
from planner.log.signing import keygen, load_public_key, parse_checkpoint, read_checkpoint

UNITS = [
    {"unit_id": f"M{i}", "capabilities": ["ALS"], "home": {"lat": 40.27, "lon": -76.88 + i / 100}}
    for i in range(1, 5)
]


def test_signed_checkpoints_are_written_served_and_verify(tmp_path: Path) -> None:
    private, public = keygen(tmp_path / "keys")
    settings = ApiSettings(
        db_url=f"sqlite:///{tmp_path / 'api.sqlite'}",
        signing_key_path=private,
        checkpoint_dir=tmp_path / "checkpoints",
        checkpoint_every=3,
        tick_s=0,
    )
    app = create_app(settings)
    try:
        client = TestClient(app)
        store = services_of(app).keys
        supervisor = {"X-API-Key": store.create(name="s", role=Role.SUPERVISOR).token}
        auditor = {"X-API-Key": store.create(name="a", role=Role.AUDITOR).token}
        for unit in UNITS:
            assert client.post("/v1/units", json=unit, headers=supervisor).status_code == 201
        written = sorted((tmp_path / "checkpoints").glob("checkpoint-*.json"))
        assert written, "no checkpoint written after checkpoint_every entries"
        served = client.get("/v1/log/checkpoint", headers=auditor)
        assert served.status_code == 200
        latest = parse_checkpoint(served.json(), source="GET /v1/log/checkpoint")
        key = load_public_key(public)
        assert latest.signature_ok(key)
        log = services_of(app).log
        marks = [read_checkpoint(p) for p in written]
        report = log.verify(public_key=key, checkpoints=marks)
        assert report.ok and report.signed == log.head() and report.checkpoints == len(marks)
    finally:
        services_of(app).close()


def test_a_tampered_log_serves_reads_but_refuses_writes(tmp_path: Path) -> None:
    private, _ = keygen(tmp_path / "keys")
    url = f"sqlite:///{tmp_path / 'api.sqlite'}"
    settings = ApiSettings(db_url=url, signing_key_path=private, tick_s=0)
    app = create_app(settings)
    store = services_of(app).keys
    supervisor = {"X-API-Key": store.create(name="s", role=Role.SUPERVISOR).token}
    client = TestClient(app)
    for unit in UNITS[:2]:
        assert client.post("/v1/units", json=unit, headers=supervisor).status_code == 201
    services_of(app).close()

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER log_entries_no_update"))
        conn.execute(sa.text("UPDATE log_entries SET actor = 'someone else' WHERE seq = 2"))
    engine.dispose()

    app = create_app(settings)
    try:
        client = TestClient(app)
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["log_intact"] is False
        refused = client.post("/v1/units", json=UNITS[2], headers=supervisor)
        assert refused.status_code == 503
        assert "does not verify" in refused.text and "entry 2" in refused.text
        units = client.get("/v1/units", headers=supervisor)
        assert units.status_code == 200 and len(units.json()["units"]) == 2
    finally:
        services_of(app).close()

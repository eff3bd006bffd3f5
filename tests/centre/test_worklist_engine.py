"""Hand-overs, partial sends and the address search on the engine and the log, on SQLite and
PostgreSQL: replay rebuilds what live built, and a search finds only what is still there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from planner.centre.codes import CodeTable
from planner.centre.config import EngineConfig, EscalationConfig
from planner.centre.engine import Engine
from planner.centre.recommendations import plan_key
from planner.centre.search import incidents_at_address
from planner.errors import InvalidTransitionError, NotFoundError
from planner.log.incident_log import IncidentLog

CODES = CodeTable.load()
T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
NO_RULES = EngineConfig(escalation=EscalationConfig(enabled=False))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IncidentLog]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    with IncidentLog(url) as opened:
        yield opened


def _unit(uid: str, capability: str, lat: float) -> dict[str, Any]:
    home = {"lat": lat, "lon": -76.88}
    return {"type": "unit_registered", "unit_id": uid, "capabilities": [capability], "home": home}


def _opened(iid: str, code: str, address: str) -> dict[str, Any]:
    at = {"lat": 40.271, "lon": -76.879}
    return {"type": "incident_opened", "incident_id": iid, "code": code, "location": at,
            "address": address}  # fmt: skip


def test_replay_rebuilds_hand_overs_and_partial_sends(log: IncidentLog) -> None:
    now = [T0]
    live = Engine(codes=CODES, config=NO_RULES, log=log, clock=lambda: now[0])
    for event in (_unit("M1", "ALS", 40.27), _unit("E1", "ENGINE", 40.265)):
        live.submit(event)
    live.submit(_opened("I-1", "MEDIC_RESPONSE", "12 Market St"))
    partial = live.submit(
        {"type": "dispatch_accepted", "incident_id": "I-1", "units": ["E1"], "actor": "d:a"}
    )
    assert partial.event.model_dump()["not_sent"] == ["M1"]
    rest = live.state.recommendation
    assert rest is not None and [a.unit for a in rest.assignments] == ["M1"]  # solved again
    now[0] += timedelta(minutes=5)
    live.submit({"type": "shift_handed_over", "handover_id": "HO-1", "note": "I-1 open",
                 "incidents": ["I-1"], "actor": "dispatcher:alice"})  # fmt: skip
    with pytest.raises(InvalidTransitionError, match="not the one who gave it") as own:
        live.submit({"type": "handover_acknowledged", "handover_id": "HO-1",
                     "actor": "dispatcher:alice"})  # fmt: skip
    assert own.value.field == "handover_id"
    with pytest.raises(NotFoundError, match="HO-2") as unknown:
        live.submit({"type": "handover_acknowledged", "handover_id": "HO-2", "actor": "d:b"})
    assert unknown.value.field == "handover_id"
    live.submit({"type": "handover_acknowledged", "handover_id": "HO-1", "actor": "dispatcher:bob"})
    with pytest.raises(InvalidTransitionError, match="not sent") as wrong:
        live.submit({"type": "dispatch_accepted", "incident_id": "I-1", "units": ["M1"],
                     "not_sent": ["E1"]})  # fmt: skip
    assert wrong.value.field == "not_sent"

    replayed = Engine.replay(log, codes=CODES)
    assert replayed.state == live.state
    assert plan_key(replayed.plan) == plan_key(live.plan)
    note = replayed.state.handovers["HO-1"]
    assert (note.actor, note.acknowledged_by, note.incidents) == (
        "dispatcher:alice", "dispatcher:bob", ("I-1",)
    )  # fmt: skip
    assert note.acknowledged_at == T0 + timedelta(minutes=5)


def test_the_address_search_finds_by_words_and_never_a_redacted_address(log: IncidentLog) -> None:
    now = [T0]
    live = Engine(codes=CODES, config=NO_RULES, log=log, clock=lambda: now[0])
    live.submit(_opened("I-1", "CHEST_PAIN", "12 Market Street"))
    now[0] += timedelta(days=40)
    live.submit(_opened("I-2", "CHEST_PAIN", "7 market st, rear"))
    live.submit(_opened("I-3", "CHEST_PAIN", "40 Front Street"))
    live.submit({"type": "incident_updated", "incident_id": "I-3", "address": "41 Market St"})
    head = log.head()

    seqs = {e.kind: e.seq for e in log.entries(incident="I-3")}
    found = incidents_at_address(log, "Market ST")
    assert set(found) == {"I-1", "I-2", "I-3"}
    assert found["I-3"] == seqs["incident_updated"]  # the latest entry that matched
    assert incidents_at_address(log, "front street") == {"I-3": seqs["incident_opened"]}
    assert log.head() == head  # a search reads nothing out and logs nothing

    log.redact_personal(older_than=T0 + timedelta(days=30), actor="system")
    assert set(incidents_at_address(log, "market")) == {"I-2", "I-3"}

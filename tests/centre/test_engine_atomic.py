"""One transaction per decision: a failure injected between any two steps of a decision (log
the event, solve, log the recommendation, escalate, store the idempotency record, commit)
leaves the log and the engine exactly as before, on SQLite and on PostgreSQL, and the live
picture always equals a replay of the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import planner.centre.engine as engine_module
from planner.centre.codes import CodeTable
from planner.centre.config import EngineConfig, EscalationConfig, EscalationRule
from planner.centre.engine import Engine, Outcome
from planner.centre.recommendations import plan_key
from planner.log.incident_log import IncidentLog
from planner.log.schema import metadata

CODES = CodeTable.load()
T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
CONFIG = EngineConfig(
    escalation=EscalationConfig(
        rules=[EscalationRule(id="casualties", kind="casualties_over", threshold=2)]
    )
)
UNITS = (
    {"unit_id": "M1", "capabilities": ["ALS"], "home": {"lat": 40.270, "lon": -76.880}},
    {"unit_id": "M2", "capabilities": ["ALS", "BLS"], "home": {"lat": 40.280, "lon": -76.870}},
)
OPEN = {
    "type": "incident_opened",
    "incident_id": "I1",
    "code": "CARDIAC_ARREST",
    "location": {"lat": 40.275, "lon": -76.875},
    "methane": {"casualties": 5},
    "at": (T0 + timedelta(minutes=1)).isoformat(),
}


class Fault(RuntimeError):
    """The injected failure."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


def _centre(log: IncidentLog) -> Engine:
    live = Engine(codes=CODES, config=CONFIG, log=log, clock=lambda: T0)
    for unit in UNITS:
        live.submit({"type": "unit_registered", "at": T0.isoformat(), **unit})
    return live


def _picture(eng: Engine) -> tuple[Any, ...]:
    return (eng.version, eng.state, plan_key(eng.plan))


def _assert_live_equals_replay(live: Engine, log: IncidentLog) -> None:
    replayed = Engine.replay(log, codes=CODES)  # re-solves and checks every recommendation
    assert replayed.state == live.state
    assert plan_key(replayed.plan) == plan_key(live.plan)
    assert log.verify().ok


def _steps_of_open(url: str) -> tuple[int, int]:
    """How many entries and solves opening I1 takes (counted on a clean run)."""
    solves = 0
    real_solve = engine_module.solve

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal solves
        solves += 1
        return real_solve(*args, **kwargs)

    with IncidentLog(url) as log:
        live = _centre(log)
        head = log.head()
        engine_module.solve = counting  # type: ignore[assignment]
        try:
            outcome = live.submit(OPEN)
        finally:
            engine_module.solve = real_solve
        kinds = [e.kind for e in log.entries(after_seq=head)]
        assert kinds[:2] == ["incident_opened", "recommendation_issued"]
        assert "incident_escalated" in kinds
        assert len(outcome.derived) == len(kinds) - 1
        return len(kinds), solves


def _fail_on_append(monkeypatch: pytest.MonkeyPatch, nth: int) -> None:
    real = IncidentLog._append_locked
    calls = 0

    def failing(self: IncidentLog, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth:
            raise Fault(f"append {nth}")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(IncidentLog, "_append_locked", failing)


def _fail_on_solve(monkeypatch: pytest.MonkeyPatch, nth: int) -> None:
    real = engine_module.solve
    calls = 0

    def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth:
            raise Fault(f"solve {nth}")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_module, "solve", failing)


def test_every_injected_fault_leaves_log_and_engine_unchanged(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries, solves = _steps_of_open(f"sqlite:///{tmp_path / 'count.sqlite'}")
    faults: list[tuple[str, int]] = [("append", n) for n in range(1, entries + 1)]
    faults += [("solve", n) for n in range(1, solves + 1)]
    faults += [("before_commit", 1), ("commit", 1)]
    for where, nth in faults:
        with IncidentLog(url) as log:
            if log.head() == 0:
                _centre(log)
            live = Engine.replay(log, codes=CODES, clock=lambda: T0)
            before, head, rows = _picture(live), log.head(), log.entries()
            hook = None
            with monkeypatch.context() as patch:
                if where == "append":
                    _fail_on_append(patch, nth)
                elif where == "solve":
                    _fail_on_solve(patch, nth)
                elif where == "before_commit":

                    def hook(_outcome: Outcome) -> None:
                        raise Fault("idempotency record")

                else:

                    def refuse_commit(_conn: Any) -> None:
                        raise Fault("commit")

                    sa.event.listen(log._engine, "commit", refuse_commit)
                with pytest.raises(Fault):
                    live.submit(OPEN, before_commit=hook)
                if where == "commit":
                    sa.event.remove(log._engine, "commit", refuse_commit)
            assert log.head() == head, (where, nth)
            assert log.entries() == rows, (where, nth)
            assert _picture(live) == before, (where, nth)
            # the failed decision left nothing behind: retrying it does the whole thing
            outcome = live.submit(OPEN)
            assert next(e.type for e in outcome.derived) == "recommendation_issued"
            assert log.head() == head + entries
            _assert_live_equals_replay(live, log)
        # start the next fault from the same log as before the decision
        _reset(url)


def _reset(url: str) -> None:
    """Drop the log's tables so the next fault starts from a fresh centre."""
    engine = sa.create_engine(url)
    metadata.drop_all(engine)
    engine.dispose()


def test_start_up_resolves_a_log_that_ends_without_its_recommendation(tmp_path: Path) -> None:
    """A log written before decisions were atomic: the event is there, its recommendation is
    not. Start-up re-solves and logs it, so the live plan is what ``log replay`` computes."""
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    with IncidentLog(url) as log:
        live = _centre(log)
        live.submit({**OPEN, "methane": {"casualties": 1}})
        last = log.head()
        engine = sa.create_engine(url)  # cut the recommendation off, as the old crash did
        with engine.begin() as conn:
            for trigger in ("log_entries_no_delete", "log_head_forward_only"):
                conn.execute(sa.text(f"DROP TRIGGER {trigger}"))
            conn.execute(sa.text("DELETE FROM log_entries WHERE seq = :s"), {"s": last})
            conn.execute(
                sa.text("UPDATE log_head SET seq = seq - 1, hash = (SELECT hash FROM "
                        "log_entries WHERE seq = :p)"),
                {"p": last - 1},
            )  # fmt: skip
        engine.dispose()
        assert log.entries()[-1].kind == "incident_opened"
        fast = Engine.replay(log, codes=CODES, resolve=False)
        assert fast.plan is None or "I1" not in {a.incident for a in fast.plan.assignments}
        outcome = fast.resolve_now()
        assert outcome is not None and outcome.event.type == "recommendation_issued"
        assert {a.incident for a in fast.plan.assignments if fast.plan} == {"I1"}
        _assert_live_equals_replay(fast, log)
        assert fast.resolve_now() is None  # nothing more to log

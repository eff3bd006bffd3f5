"""The log's in-memory tail (``IncidentLog.recent``) and its durability watchers: what the event
stream serves without a database read must be exactly what ``entries`` reads from the database,
never an entry before it is durable, and nothing when memory cannot tell."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from planner.log.incident_log import TAIL_ENTRIES, IncidentLog, NewEntry

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _entry(i: int, *, personal: bool = False) -> NewEntry:
    return NewEntry(
        kind="note.added",
        payload={"n": i, "nested": {"list": [1, 2.5, "x"]}},
        personal={"caller": f"Caller {i}"} if personal else None,
        incident=f"INC-{i % 3}",
        actor="dispatcher-7",
        recorded_at=T0 + timedelta(seconds=i, microseconds=123),
    )


@pytest.fixture
def log(url: str) -> Iterator[IncidentLog]:
    with IncidentLog(url) as opened:
        yield opened


def test_memory_serves_exactly_what_the_database_holds(log: IncidentLog) -> None:
    """Appends one by one and in transactions, with and without personal data: every slice
    from memory equals the database's, field by field (times, hashes, parsed payloads)."""
    for i in range(1, 4):
        log.append(_entry(i, personal=i == 2))
    with log.transaction():
        log.append(_entry(4))
        log.append(_entry(5, personal=True))
    assert log.recent(after_seq=0, limit=100) == log.entries()
    assert log.recent(after_seq=2, limit=100) == log.entries(after_seq=2)
    assert log.recent(after_seq=1, limit=2) == log.entries(after_seq=1, limit=2)
    assert [e.seq for e in log.recent(after_seq=1, limit=2) or []] == [2, 3]
    assert log.recent(after_seq=5, limit=100) == []
    assert log.recent(after_seq=9, limit=100) == []


def test_nothing_in_memory_or_older_than_it_is_unknown(url: str) -> None:
    """A fresh process knows nothing it did not write: None sends the reader to the database."""
    with IncidentLog(url) as first:
        for i in range(1, 4):
            first.append(_entry(i))
    with IncidentLog(url) as second:
        assert second.recent(after_seq=0, limit=10) is None
        second.append(_entry(4))
        assert second.recent(after_seq=3, limit=10) == second.entries(after_seq=3)
        assert second.recent(after_seq=2, limit=10) is None  # seq 3 is not in its memory
        assert second.recent(after_seq=0, limit=10) is None


def test_an_entry_written_by_another_process_is_a_gap(url: str) -> None:
    """Entries are served only while seqs follow on: the first one another writer added
    stops memory there (what comes before it is served), and reading from it gives None."""
    with IncidentLog(url) as mine, IncidentLog(url) as other:
        mine.append(_entry(1))
        mine.append(_entry(2))
        other.append(_entry(3))
        mine.append(_entry(4))
        assert [e.seq for e in mine.recent(after_seq=0, limit=10) or []] == [1, 2]
        assert mine.recent(after_seq=2, limit=10) is None
        assert mine.recent(after_seq=3, limit=10) == mine.entries(after_seq=3)


def test_a_rolled_back_transaction_leaves_nothing_in_memory(log: IncidentLog) -> None:
    log.append(_entry(1))
    with pytest.raises(RuntimeError, match="refused"), log.transaction():
        log.append(_entry(2))
        raise RuntimeError("refused")
    log.append(_entry(3))
    assert log.recent(after_seq=0, limit=10) == log.entries()
    assert [e.seq for e in log.entries()] == [1, 2]


def test_memory_keeps_only_the_latest_entries(log: IncidentLog) -> None:
    log.append_many([_entry(i) for i in range(1, 4)])  # bulk imports bypass the memory
    with log.transaction():
        for i in range(4, TAIL_ENTRIES + 9):
            log.append(_entry(i))
    last = TAIL_ENTRIES + 8
    assert log.recent(after_seq=last - TAIL_ENTRIES - 1, limit=1) is None
    kept = log.recent(after_seq=last - TAIL_ENTRIES, limit=TAIL_ENTRIES + 5)
    assert kept is not None and [e.seq for e in kept] == list(range(9, last + 1))


def test_a_redaction_empties_the_memory(log: IncidentLog) -> None:
    """Redacted entries must not be served from memory as they were appended."""
    log.append(_entry(1, personal=True))
    log.append(_entry(2))
    assert log.recent(after_seq=0, limit=10) == log.entries()
    assert log.redact_personal(older_than=T0 + timedelta(hours=1), actor="dpo") == 1
    assert log.recent(after_seq=0, limit=10) is None
    assert log.entries()[0].redacted
    log.append(_entry(3))
    assert log.recent(after_seq=3, limit=10) == log.entries(after_seq=3)


def test_deferred_entries_appear_and_watchers_wake_only_once_durable(tmp_path: Path) -> None:
    """A deferred commit (group commit) is invisible in memory, as in the database, until
    ``sync``; watchers are told when entries become durable, not at the deferred commit."""
    woken: list[int] = []
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}") as log:
        unwatch = log.watch(lambda: woken.append(log.head()))
        log.append(_entry(1))
        assert woken == [1]  # a synchronous commit is durable at once
        with log.transaction(defer_sync=True):
            log.append(_entry(2))
        assert woken == [1]
        assert log.recent(after_seq=0, limit=10) == log.entries()
        assert [e.seq for e in log.entries()] == [1]
        log.sync()
        assert woken == [1, 2]
        assert [e.seq for e in log.recent(after_seq=0, limit=10) or []] == [1, 2]
        log.sync()  # nothing new became durable: nobody is woken
        assert woken == [1, 2]
        with log.transaction(defer_sync=True):
            log.append(_entry(3))
        log.append(_entry(4))  # a synchronous commit flushes the deferred one before it
        assert woken == [1, 2, 4]
        assert log.recent(after_seq=2, limit=10) == log.entries(after_seq=2)
        unwatch()
        log.append(_entry(5))
        assert woken == [1, 2, 4]


@pytest.mark.postgres
def test_postgres_commits_wake_watchers_at_once(postgres_url: str) -> None:
    woken: list[int] = []
    with IncidentLog(postgres_url) as log:
        log.watch(lambda: woken.append(log.head()))
        with log.transaction(defer_sync=True):
            log.append(_entry(1))
            log.append(_entry(2))
        assert woken == [2]
        assert log.recent(after_seq=0, limit=10) == log.entries()


def test_a_commit_that_wrote_nothing_does_not_count_as_a_flush(tmp_path: Path) -> None:
    """A retention run with nothing due commits an empty transaction: SQLite writes nothing,
    so deferred entries before it are still not on disk and must stay unacknowledged (hidden,
    no watcher told) until ``sync`` flushes them."""
    woken: list[int] = []
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}") as log:
        log.watch(lambda: woken.append(log.head()))
        with log.transaction(defer_sync=True):
            log.append(_entry(1))
        assert log.redact_personal(older_than=T0, actor="dpo") == 0
        assert (woken, log.entries(), log.recent(after_seq=0, limit=10)) == ([], [], [])
        log.sync()
        assert woken == [1]
        assert [e.seq for e in log.entries()] == [1]
        assert log.recent(after_seq=0, limit=10) == log.entries()

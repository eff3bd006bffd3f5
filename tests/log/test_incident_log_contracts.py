"""The incident log's input contracts and audit entries, field by field.

Bad input names its field and changes nothing; the audit entries of a personal-data read and
of a retention run carry exactly the documented payload, actor and time. The length limits are
the widths of the columns they are stored in (kind 80, names 120 characters; purposes 500).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from planner.errors import DataMissingError, InputError
from planner.log.incident_log import (
    PERSONAL_READ_KIND,
    PERSONAL_REDACTED_KIND,
    IncidentLog,
    NewEntry,
    line_ids,
)
from planner.log.schema import personal_table

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CLOCK = T0 + timedelta(hours=5)
"""What the log's own clock says: its audit entries carry this time."""


@pytest.fixture
def log(tmp_path: Path) -> Iterator[IncidentLog]:
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}", clock=lambda: CLOCK) as opened:
        yield opened


def _note(i: int, *, personal: bool = True) -> NewEntry:
    return NewEntry(
        kind="note.added",
        payload={"n": i},
        personal={"caller": f"caller {i}"} if personal else None,
        incident=f"INC-{i}",
        actor="dispatcher-7",
        recorded_at=T0 + timedelta(minutes=i),
    )


def _exactly(field: str, message: str) -> str:
    """The whole error text (``field: message``) as a ``match=`` pattern."""
    return f"^{re.escape(f'{field}: {message}')}$"


def _entry(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": "note.added", "payload": {}, "recorded_at": T0}
    return fields | changes


@pytest.mark.parametrize(
    ("changes", "message", "field"),
    [
        ({"kind": ""}, "must be a non-empty string", "kind"),
        ({"kind": "  "}, "must be a non-empty string", "kind"),
        ({"kind": None}, "must be a non-empty string", "kind"),
        ({"kind": "k" * 81}, "longer than 80 characters", "kind"),
        ({"incident": ""}, "must be a non-empty string", "incident"),
        ({"incident": 7}, "must be a non-empty string", "incident"),
        ({"incident": "i" * 121}, "longer than 120 characters", "incident"),
        ({"actor": " "}, "must be a non-empty string", "actor"),
        ({"actor": "a" * 121}, "longer than 120 characters", "actor"),
        ({"payload": ["not", "an", "object"]}, "must be a JSON object", "payload"),
        ({"personal": "Jane"}, "must be a JSON object or null", "personal"),
        ({"recorded_at": datetime(2026, 3, 1, 8, 0)}, "must be a timezone-aware datetime",
         "recorded_at"),
        ({"recorded_at": "2026-03-01T08:00:00Z"}, "must be a timezone-aware datetime",
         "recorded_at"),
    ],
)  # fmt: skip
def test_a_bad_entry_names_its_field(changes: dict[str, Any], message: str, field: str) -> None:
    with pytest.raises(InputError, match=_exactly(field, message)) as err:
        NewEntry(**_entry(**changes))
    assert err.value.field == field


def test_an_entry_at_the_limits_is_accepted() -> None:
    entry = NewEntry(
        **_entry(kind="k" * 80, incident="i" * 120, actor="a" * 120, personal={"x": 1})
    )
    assert (len(entry.kind), entry.incident, entry.actor) == (80, "i" * 120, "a" * 120)
    assert NewEntry(**_entry(incident=None, actor=None, personal=None)).incident is None


def test_checkpoint_without_a_signing_key_names_it(log: IncidentLog) -> None:
    with pytest.raises(
        InputError, match=_exactly("signing-key", "signing a checkpoint needs the signing key")
    ) as err:
        log.checkpoint()
    assert err.value.field == "signing-key"


@pytest.mark.parametrize(
    ("reader", "purpose", "message", "field"),
    [
        (None, "check", "must be a non-empty string", "reader"),
        ("", "check", "must be a non-empty string", "reader"),
        ("r" * 121, "check", "longer than 120 characters", "reader"),
        ("auditor", None, "must be a non-empty string", "purpose"),
        ("auditor", " ", "must be a non-empty string", "purpose"),
        ("auditor", "p" * 501, "longer than 500 characters", "purpose"),
    ],
)
def test_a_personal_read_needs_a_reader_and_a_purpose(
    log: IncidentLog, reader: str | None, purpose: str | None, message: str, field: str
) -> None:
    log.append(_note(1))
    with pytest.raises(InputError, match=_exactly(field, message)) as err:
        log.read_personal(1, reader=reader, purpose=purpose)  # type: ignore[arg-type]
    assert err.value.field == field
    assert log.head() == 1  # nothing read, nothing audited


def test_a_read_of_a_missing_entry_names_the_seq(log: IncidentLog) -> None:
    log.append(_note(1))
    with pytest.raises(InputError, match=_exactly("seq", "no log entry with seq 9")) as err:
        log.read_personal(9, reader="auditor", purpose="check")
    assert err.value.field == "seq"
    assert log.head() == 1


def test_a_personal_read_is_audited_with_reader_purpose_and_the_log_clock(
    log: IncidentLog,
) -> None:
    log.append(_note(1))
    assert log.read_personal(1, reader="auditor", purpose="complaint 12") == {"caller": "caller 1"}
    audit = log.entries()[-1]
    assert (audit.seq, audit.kind, audit.incident, audit.actor) == (
        2,
        PERSONAL_READ_KIND,
        "INC-1",
        "auditor",
    )
    assert audit.payload == {"seq": 1, "purpose": "complaint 12", "outcome": "returned"}
    assert audit.recorded_at == CLOCK


@pytest.mark.parametrize(
    ("kwargs", "message", "field"),
    [
        ({"older_than": datetime(2026, 3, 1, 9, 0)}, "must be a timezone-aware datetime",
         "older_than"),
        ({"actor": None}, "must be a non-empty string", "actor"),
        ({"actor": ""}, "must be a non-empty string", "actor"),
        ({"actor": "a" * 121}, "longer than 120 characters", "actor"),
        ({"reason": None}, "must be a non-empty string", "reason"),
        ({"reason": " "}, "must be a non-empty string", "reason"),
        ({"reason": "r" * 501}, "longer than 500 characters", "reason"),
    ],
)  # fmt: skip
def test_a_bad_retention_run_names_its_field_and_wipes_nothing(
    log: IncidentLog, kwargs: dict[str, Any], message: str, field: str
) -> None:
    log.append(_note(1))
    args: dict[str, Any] = {"older_than": T0 + timedelta(hours=1), "actor": "retention"}
    with pytest.raises(InputError, match=_exactly(field, message)) as err:
        log.redact_personal(**(args | kwargs))
    assert err.value.field == field
    assert log.head() == 1
    assert log.read_personal(1, reader="auditor", purpose="check") == {"caller": "caller 1"}


def test_a_retention_run_records_who_why_when_and_which(log: IncidentLog, tmp_path: Path) -> None:
    """Entries 1, 3 and 4 have personal data; those before 08:04 (1 and 3) are wiped."""
    for i, personal in ((1, True), (2, False), (3, True), (4, True)):
        log.append(_note(i, personal=personal))
    assert log.redact_personal(older_than=T0 + timedelta(minutes=4), actor="dpo") == 2
    audit = log.entries()[-1]
    assert (audit.seq, audit.kind, audit.actor, audit.incident) == (
        5,
        PERSONAL_REDACTED_KIND,
        "dpo",
        None,
    )
    assert audit.recorded_at == CLOCK
    assert audit.payload == {
        "older_than": "2026-03-01T08:04:00.000000+00:00",
        "count": 2,
        "first_seq": 1,
        "last_seq": 3,
        "seqs": [1, 3],
        "reason": "retention period",
    }
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'log.sqlite'}")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                personal_table.c.seq,
                personal_table.c.data,
                personal_table.c.salt,
                personal_table.c.redacted_by,
            ).order_by(personal_table.c.seq)
        ).all()
    engine.dispose()
    assert [(r.seq, r.data, r.salt, r.redacted_by) for r in rows[:2]] == [
        (1, None, None, "dpo"),
        (3, None, None, "dpo"),
    ]
    assert (rows[2].seq, rows[2].redacted_by) == (4, None)
    assert rows[2].data is not None
    # nothing left before 08:04: a second run wipes nothing and appends nothing
    assert log.redact_personal(older_than=T0 + timedelta(minutes=4), actor="dpo") == 0
    assert log.head() == 5
    assert log.verify().ok


def test_line_ids_hash_the_file_up_to_each_line() -> None:
    """sha256 over ``dispatch-planner events file v1\\n`` and the lines so far, each ended by a
    newline: a longer file that starts the same keeps the first ids, a changed line changes
    its id and every later one."""
    prefix = b"dispatch-planner events file v1\n"
    ids = line_ids(["a", "b"])
    assert ids == [
        hashlib.sha256(prefix + b"a\n").hexdigest(),
        hashlib.sha256(prefix + b"a\nb\n").hexdigest(),
    ]
    assert line_ids(["a", "b", "c"])[:2] == ids
    changed = line_ids(["x", "b"])
    assert changed[0] != ids[0] and changed[1] != ids[1]
    assert line_ids([]) == []


def test_imported_lines_are_found_across_query_chunks(log: IncidentLog) -> None:
    log.append(_note(1, personal=False))
    ids = [f"{k:064x}" for k in range(1001)]
    recorded = [0, 499, 500, 999, 1000]
    for k in recorded:
        log.record_import(ids[k], line=k + 1, seq=1)
    assert log.imported(ids) == {ids[k] for k in recorded}
    assert log.imported(ids[1:499]) == set()
    assert log.imported([]) == set()


def test_personal_search_returns_matching_live_entries_only(log: IncidentLog) -> None:
    """Entries 1–5: 1 is redacted by then, 2 is of another kind, 3 does not match; 4 and 5 do,
    in seq order. The search itself discloses nothing, so it appends no audit entry."""
    addresses = {1: "Main St 1", 2: "Main St 2", 3: "Elm Rd 3", 4: "Main St 4", 5: "Main St 5"}
    for i, address in addresses.items():
        log.append(
            NewEntry(
                kind="note.added" if i == 2 else "incident.created",
                payload={},
                personal={"address": address},
                incident=f"INC-{i}",
                recorded_at=T0 + timedelta(minutes=i),
            )
        )
    assert log.redact_personal(older_than=T0 + timedelta(minutes=2), actor="dpo") == 1
    head = log.head()
    found = log.match_personal(
        kinds={"incident.created"}, match=lambda data: data["address"].startswith("Main")
    )
    assert found == [(4, "INC-4"), (5, "INC-5")]
    assert log.head() == head


def test_the_open_transaction_is_this_threads_only(log: IncidentLog) -> None:
    with pytest.raises(RuntimeError, match=r"^no log transaction is open in this thread$"):
        log.connection()
    with log.transaction() as conn:
        assert log.connection() is conn
    with pytest.raises(RuntimeError, match=r"^no log transaction is open in this thread$"):
        log.connection()


def test_a_deferred_commit_is_read_only_once_synced(log: IncidentLog) -> None:
    """Group commit: entries appended in a ``defer_sync`` transaction are hidden from readers
    until ``sync`` has flushed them (every time, not only the first); a synchronous commit
    afterwards covers all before it. The writer itself, inside a transaction, reads
    everything."""
    log.append(_note(1, personal=False))
    with log.transaction(defer_sync=True):
        log.append(_note(2, personal=False))
        log.append(_note(3, personal=False))
    assert [e.seq for e in log.entries()] == [1]
    log.sync()
    assert [e.seq for e in log.entries()] == [1, 2, 3]
    for seq in (4, 5):
        with log.transaction(defer_sync=True):
            log.append(_note(seq, personal=False))
        assert log.entries()[-1].seq == seq - 1
        log.sync()
        assert log.entries()[-1].seq == seq
    with log.transaction(defer_sync=True):
        log.append(_note(6, personal=False))
    with log.transaction():
        assert [e.seq for e in log.entries(after_seq=4)] == [5, 6]
    with log.transaction(defer_sync=True):
        log.append(_note(7, personal=False))
    log.append(_note(8, personal=False))  # synchronous: flushes 7 as well
    assert [e.seq for e in log.entries(after_seq=5)] == [6, 7, 8]
    log.sync()  # nothing left to flush
    assert [e.seq for e in log.entries(after_seq=3, limit=2)] == [4, 5]
    assert log.entries(limit=0) == []


def test_sync_after_sqlite_removed_the_write_ahead_log(tmp_path: Path) -> None:
    """When the last connection closes, SQLite checkpoints the write-ahead log into the
    database file and deletes the ``-wal`` file. A ``sync`` still owed for a deferred commit
    then flushes the database file instead (the fallback of ``_fsync``), and the entries are
    readable: nothing is lost and nothing is refused."""
    path = tmp_path / "log.sqlite"
    wal = tmp_path / "log.sqlite-wal"
    log = IncidentLog(f"sqlite:///{path}", clock=lambda: CLOCK)
    log.append(_note(1, personal=False))
    with log.transaction(defer_sync=True):
        log.append(_note(2, personal=False))
    assert wal.is_file()
    log.close()
    assert not wal.exists() and path.is_file()
    log.sync()  # before anything reopens the database (which would create the file again)
    assert [e.seq for e in log.entries()] == [1, 2]
    log.close()
    wal.unlink(missing_ok=True)
    with IncidentLog(f"sqlite:///{path}", create=False) as reopened:
        assert [(e.seq, e.payload) for e in reopened.entries()] == [(1, {"n": 1}), (2, {"n": 2})]


def _hold_brand_new_file(path: Path) -> sqlite3.Connection:
    """Another writer on a brand-new (rollback-journal) file, holding its write lock: switching
    the file to WAL then fails at once with "database is locked" — SQLite does not run the
    busy timeout for a connection that already reads while another holds the write lock (it
    could deadlock) — which is what racing writers opening a new log meet."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE other_writer (x)")
    return other


def test_opening_a_new_file_retries_while_another_writer_holds_its_lock(tmp_path: Path) -> None:
    """The lock is released after 1.2 s: the open tries again (0.05, 0.10, 0.15 … s apart,
    2.75 s in all) and succeeds once it is free, with an empty log."""
    path = tmp_path / "log.sqlite"
    other = _hold_brand_new_file(path)
    release = threading.Timer(1.2, lambda: other.execute("ROLLBACK"))
    started = time.monotonic()
    release.start()
    try:
        with IncidentLog(f"sqlite:///{path}") as log:
            assert time.monotonic() - started >= 1.2
            assert log.head() == 0
            log.append(_note(1, personal=False))
            assert [e.seq for e in log.entries()] == [1]
    finally:
        release.join()
        other.close()


def test_a_lock_held_through_every_retry_is_reported_naming_db(tmp_path: Path) -> None:
    """Held for good: ten attempts with sleeps of 0.05 × 1..9 s between them (2.25 s), then the
    lock is reported, field ``db``, and nothing was created."""
    path = tmp_path / "log.sqlite"
    other = _hold_brand_new_file(path)
    started = time.monotonic()
    try:
        with pytest.raises(
            DataMissingError,
            match=_exactly(
                "db", f"cannot open the incident log at sqlite:///{path}: database is locked"
            ),
        ):
            IncidentLog(f"sqlite:///{path}")
        assert 2.25 <= time.monotonic() - started < 10.0  # seconds, not a minute of waiting
        other.execute("ROLLBACK")
        tables = other.execute("SELECT name FROM sqlite_master").fetchall()
        assert tables == []
    finally:
        other.close()


def test_a_negative_limit_is_refused(log: IncidentLog) -> None:
    with pytest.raises(InputError, match=_exactly("limit", "must not be negative")):
        log.entries(limit=-1)


@pytest.mark.parametrize("field", ["payload", "personal"])
def test_a_value_json_cannot_hold_names_its_field(log: IncidentLog, field: str) -> None:
    entry = NewEntry(**_entry(**{field: {"speed": float("nan")}}))
    with pytest.raises(InputError, match=f"^{field}: ") as err:
        log.append(entry)
    assert err.value.field == field
    assert log.head() == 0


def test_a_line_that_is_not_valid_unicode_still_gets_an_id() -> None:
    """A lone surrogate (from a file decoded with ``surrogateescape``) is hashed as its
    three UTF-8-style bytes rather than refused."""
    prefix = b"dispatch-planner events file v1\n"
    assert line_ids(["a\udc80"]) == [hashlib.sha256(prefix + b"a\xed\xb2\x80\n").hexdigest()]


@pytest.mark.usefixtures("new_york")
def test_stored_times_are_utc_whatever_the_zone_given_or_local(log: IncidentLog) -> None:
    plus_one = datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    stored = log.append(NewEntry(**_entry(recorded_at=plus_one)))
    assert stored.recorded_at == T0
    assert stored.recorded_at.utcoffset() == timedelta(0)
    assert log.entries()[0].recorded_at.utcoffset() == timedelta(0)


def _sqlite_with_tables(path: Path, names: list[str]) -> str:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for name in names:
            conn.exec_driver_sql(f"CREATE TABLE {name} (id INTEGER)")
    engine.dispose()
    return f"sqlite:///{path}"


def test_another_applications_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    """Four foreign tables (the first three named, sorted) beside the API's own: refused,
    and no log table is added."""
    path = tmp_path / "shop.sqlite"
    url = _sqlite_with_tables(path, ["orders", "api_keys", "customers", "stock", "audit"])
    message = (
        "not an incident log: the database holds other tables (audit, customers, orders); "
        "use a new database"
    )
    with pytest.raises(DataMissingError, match=_exactly("db", message)):
        IncidentLog(url)
    assert sorted(sa.inspect(sa.create_engine(url)).get_table_names()) == [
        "api_keys",
        "audit",
        "customers",
        "orders",
        "stock",
    ]


def test_the_log_and_the_apis_own_tables_are_not_foreign(tmp_path: Path) -> None:
    url = _sqlite_with_tables(tmp_path / "own.sqlite", ["api_idempotency", "log_extra"])
    with IncidentLog(url) as log:
        log.append(_note(1, personal=False))
    # an existing log is opened even beside a table it does not know
    _sqlite_with_tables(tmp_path / "own.sqlite", ["notes"])
    with IncidentLog(url) as log:
        assert log.head() == 1


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite://", "sqlite://"),
        ("sqlite:///", "sqlite:///"),
        ("sqlite:///:memory:", "sqlite:///%3Amemory%3A"),
    ],
)
def test_an_in_memory_database_without_a_log_is_refused_as_such(url: str, shown: str) -> None:
    """``create=False`` on a new in-memory database: it has no log (the tables are missing);
    it is not a missing file."""
    with pytest.raises(DataMissingError, match=_exactly("db", f"no incident log in {shown}")):
        IncidentLog(url, create=False)


def test_the_log_keeps_the_url_it_was_opened_with(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    with IncidentLog(url) as log:
        assert log.url == url


def test_an_error_other_than_a_lock_is_reported_without_retrying(tmp_path: Path) -> None:
    """A file that is not a database fails the same way on every attempt: reported at once,
    not after the 2.25 s of sleeps that ten attempts would take."""
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database, just text\n" * 100)
    started = time.monotonic()
    with pytest.raises(DataMissingError, match=r"^db: cannot open .*file is not a database$"):
        IncidentLog(f"sqlite:///{junk}")
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_an_in_memory_log_commits_at_once_and_has_nothing_to_sync(url: str) -> None:
    """No write-ahead file: a ``defer_sync`` transaction is read at once and ``sync`` has
    nothing to flush (it must not look for a file)."""
    with IncidentLog(url, clock=lambda: CLOCK) as log:
        with log.transaction(defer_sync=True):
            log.append(_note(1, personal=False))
        assert [e.seq for e in log.entries()] == [1]
        log.sync()
        assert [e.seq for e in log.entries()] == [1]


def test_a_fresh_log_whose_first_commit_is_deferred_shows_it_once_synced(tmp_path: Path) -> None:
    """Nothing committed before: the first deferred commit is the one ``sync`` flushes."""
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}", clock=lambda: CLOCK) as log:
        with log.transaction(defer_sync=True):
            log.append(_note(1, personal=False))
        assert log.entries() == []
        log.sync()
        assert [e.seq for e in log.entries()] == [1]


def test_memory_holds_payloads_as_the_database_returns_them(tmp_path: Path) -> None:
    """A tuple in a payload is stored as a JSON list: the in-memory tail serves the parsed
    form, as ``entries`` does, and its own copy: a caller changing the entry ``append``
    returned changes nothing the tail serves."""
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}", clock=lambda: CLOCK) as log:
        returned = log.append(NewEntry(**_entry(payload={"units": ("M1", "M2"), "eta_s": 60})))
        returned.payload["units"].append("M3")
        stored = log.entries()
        assert stored[0].payload == {"units": ["M1", "M2"], "eta_s": 60}
        assert log.recent(after_seq=0, limit=10) == stored


def test_an_in_memory_log_serves_its_entries_from_memory() -> None:
    """No write-ahead file, so nothing waits for a flush: every commit is in memory at once."""
    with IncidentLog("sqlite://", clock=lambda: CLOCK) as log:
        log.append(_note(1, personal=False))
        with log.transaction(defer_sync=True):
            log.append(_note(2, personal=False))
        assert [e.seq for e in log.recent(after_seq=0, limit=10) or []] == [1, 2]
        assert log.recent(after_seq=0, limit=10) == log.entries()


def test_a_commit_of_the_callers_own_rows_flushes_deferred_entries_and_wakes_watchers(
    tmp_path: Path,
) -> None:
    """A synchronous transaction that appends no entry but writes the caller's own row (an
    idempotency record, say) flushes the write-ahead log, deferred entries before it included:
    they become readable and watchers are told."""
    woken: list[int] = []
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}", clock=lambda: CLOCK) as log:
        log.watch(lambda: woken.append(log.head()))
        with log.transaction(defer_sync=True):
            log.append(_note(1, personal=False))
        assert (woken, log.entries()) == ([], [])
        with log.transaction() as conn:
            conn.exec_driver_sql("CREATE TABLE caller_rows (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO caller_rows VALUES (1)")
        assert woken == [1]
        assert [e.seq for e in log.entries()] == [1]

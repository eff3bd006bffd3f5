"""The incident log on real SQLite files and (marked ``postgres``) a real PostgreSQL server."""

from __future__ import annotations

import json
import multiprocessing
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import ConflictError, DataMissingError, InputError
from planner.log.chain import GENESIS_HASH, entry_hash
from planner.log.incident_log import (
    PERSONAL_READ_KIND,
    PERSONAL_REDACTED_KIND,
    IncidentLog,
    NewEntry,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _entry(i: int, *, incident: str | None = "INC-1", personal: bool = False) -> NewEntry:
    return NewEntry(
        kind="note.added",
        payload={"n": i, "text": f"note {i}"},
        personal={"caller": f"Caller {i}", "phone": f"0717 000 {i:03d}"} if personal else None,
        incident=incident,
        actor="dispatcher-7",
        recorded_at=T0 + timedelta(minutes=i),
    )


# -- backends ----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'log.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def log(url: str) -> Iterator[IncidentLog]:
    with IncidentLog(url) as opened:
        yield opened


def _raw(url: str, statement: str, **params: Any) -> None:
    """Run SQL behind the log's back, in its own transaction."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)
    engine.dispose()


_GUARDS = {
    "log_entries": ("log_entries_no_update", "log_entries_no_delete", "log_entries_no_change"),
    "log_personal": ("log_personal_redact_only", "log_personal_no_delete"),
    "log_head": ("log_head_no_delete", "log_head_forward_only"),
    "log_signatures": (
        "log_signatures_no_update",
        "log_signatures_no_delete",
        "log_signatures_no_change",
    ),
}


def _tamper(url: str, statement: str, **params: Any) -> None:
    """Edit the database as an attacker with owner rights would: drop the guards, then write."""
    postgres = url.startswith("postgresql")
    for table, triggers in _GUARDS.items():
        for trigger in triggers:
            on = f" ON {table}" if postgres else ""
            _raw(url, f"DROP TRIGGER IF EXISTS {trigger}{on}")
    _raw(url, statement, **params)


# -- appending and reading ---------------------------------------------------------------------


def test_append_assigns_contiguous_seqs_and_chains_hashes(log: IncidentLog) -> None:
    assert log.head() == 0
    first = log.append(_entry(1))
    second = log.append(_entry(2, personal=True))
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.personal_hash is None and second.personal_hash is not None
    assert log.head() == 2
    stored = log.entries()
    assert stored == [first, second]
    assert stored[1].recorded_at == T0 + timedelta(minutes=2)
    assert stored[1].recorded_at.tzinfo is not None


def test_entries_filter_by_incident_after_and_limit(log: IncidentLog) -> None:
    for i in range(1, 7):
        log.append(_entry(i, incident="A" if i % 2 else "B"))
    assert [e.seq for e in log.entries(incident="A")] == [1, 3, 5]
    assert [e.seq for e in log.entries(after_seq=4)] == [5, 6]
    assert [e.seq for e in log.entries(after_seq=1, limit=2)] == [2, 3]
    assert log.entries(incident="nobody") == []


def test_expected_seq_conflict_writes_nothing(log: IncidentLog) -> None:
    log.append(_entry(1))
    log.append(_entry(2), expected_seq=1)
    with pytest.raises(ConflictError) as info:
        log.append(_entry(3, personal=True), expected_seq=1)
    assert info.value.field == "expected_seq"
    assert log.head() == 2
    assert len(log.entries()) == 2
    assert log.verify().ok


def test_expected_seq_can_look_past_audit_entries(log: IncidentLog) -> None:
    log.append(_entry(1, personal=True))
    log.read_personal(1, reader="supervisor-2", purpose="complaint")  # audit entry, seq 2
    with pytest.raises(ConflictError, match="the log is at seq 2, not 1; re-read and retry"):
        log.append(_entry(2), expected_seq=1)
    assert log.append(_entry(2), expected_seq=1, ignore_audit_entries=True).seq == 3
    with pytest.raises(ConflictError, match="at seq 3, not 1"):  # entry 3 is a real event
        log.append(_entry(3), expected_seq=1, ignore_audit_entries=True)
    with pytest.raises(ConflictError, match="at seq 3, not 9"):  # ahead of the head: never
        log.append(_entry(3), expected_seq=9, ignore_audit_entries=True)
    assert log.head() == 3 and log.verify().ok


def test_verify_accepts_an_untouched_log(log: IncidentLog) -> None:
    assert log.verify().ok
    for i in range(1, 6):
        log.append(_entry(i, personal=i % 2 == 0))
    report = log.verify()
    assert report.ok and report.checked == 5 and report.first_bad_seq is None


# -- tamper evidence ---------------------------------------------------------------------------


def _five(url: str, *, personal: bool = True) -> None:
    with IncidentLog(url) as log:
        for i in range(1, 6):
            log.append(_entry(i, personal=personal))


def _verify(url: str) -> tuple[bool, int | None, str]:
    with IncidentLog(url) as log:
        report = log.verify()
    return report.ok, report.first_bad_seq, report.reason or ""


def test_edited_payload_is_detected(url: str) -> None:
    _five(url)
    _tamper(url, "UPDATE log_entries SET payload = :p WHERE seq = 3", p='{"n":3,"text":"nothing"}')
    ok, bad, reason = _verify(url)
    assert not ok and bad == 3 and "altered" in reason


def test_edit_with_recomputed_hash_breaks_the_next_link(url: str) -> None:
    """An attacker who edits entry 3 and recomputes its hash is caught at entry 4's link."""
    _five(url)
    with IncidentLog(url) as log:
        third = log.entries()[2]
    forged_payload = '{"n":3,"text":"forged"}'
    forged_hash = entry_hash(
        seq=3,
        kind=third.kind,
        payload_json=forged_payload,
        incident=third.incident,
        actor=third.actor,
        recorded_at=third.recorded_at,
        personal_hash=third.personal_hash,
        prev_hash=third.prev_hash,
    )
    _tamper(
        url,
        "UPDATE log_entries SET payload = :p, hash = :h WHERE seq = 3",
        p=forged_payload,
        h=forged_hash,
    )
    ok, bad, reason = _verify(url)
    assert not ok and bad == 4 and "entry 3 was rewritten" in reason


def test_deleted_row_is_detected(url: str) -> None:
    _five(url)
    _tamper(url, "DELETE FROM log_personal WHERE seq = 3")
    _tamper(url, "DELETE FROM log_entries WHERE seq = 3")
    ok, bad, reason = _verify(url)
    assert not ok and bad == 3 and "missing" in reason


def test_deleted_tail_is_detected(url: str) -> None:
    _five(url)
    _tamper(url, "DELETE FROM log_personal WHERE seq >= 4")
    _tamper(url, "DELETE FROM log_entries WHERE seq >= 4")
    ok, bad, reason = _verify(url)
    assert not ok and bad == 4 and "missing" in reason


def test_reordered_rows_are_detected(url: str) -> None:
    _five(url, personal=False)
    _tamper(url, "UPDATE log_entries SET seq = 100 WHERE seq = 2")
    _tamper(url, "UPDATE log_entries SET seq = 2 WHERE seq = 3")
    _tamper(url, "UPDATE log_entries SET seq = 3 WHERE seq = 100")
    ok, bad, _ = _verify(url)
    assert not ok and bad == 2


def test_edited_personal_data_is_detected(url: str) -> None:
    _five(url)
    _tamper(url, "UPDATE log_personal SET data = :d WHERE seq = 4", d='{"caller":"Someone else"}')
    ok, bad, reason = _verify(url)
    assert not ok and bad == 4 and "personal" in reason


def test_personal_row_wiped_without_redaction_is_detected(url: str) -> None:
    _five(url)
    _tamper(url, "UPDATE log_personal SET data = NULL, salt = NULL WHERE seq = 2")
    ok, bad, reason = _verify(url)
    assert not ok and bad == 2 and "without a redaction record" in reason


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE log_entries SET payload = '{}' WHERE seq = 1",
        "DELETE FROM log_entries WHERE seq = 5",
        "UPDATE log_personal SET data = '{}' WHERE seq = 1",
        "DELETE FROM log_personal WHERE seq = 1",
    ],
)
def test_database_guards_refuse_changes_to_written_rows(url: str, statement: str) -> None:
    _five(url)
    with pytest.raises(sa.exc.DatabaseError, match=r"append-only|only be redacted"):
        _raw(url, statement)
    assert _verify(url)[0]


def test_wholesale_rewrite_passes_the_chain_but_not_an_anchor(url: str) -> None:
    """Someone rewrites entry 2 and recomputes every later hash and the head row."""
    _five(url, personal=False)
    with IncidentLog(url) as log:
        original = log.entries()
    anchor = {3: original[2].hash}
    prev = original[0].hash
    for e in original[1:]:
        payload = (
            '{"n":2,"text":"forged"}'
            if e.seq == 2
            else json.dumps(e.payload, sort_keys=True, separators=(",", ":"))
        )
        digest = entry_hash(
            seq=e.seq,
            kind=e.kind,
            payload_json=payload,
            incident=e.incident,
            actor=e.actor,
            recorded_at=e.recorded_at,
            personal_hash=None,
            prev_hash=prev,
        )
        _tamper(
            url,
            "UPDATE log_entries SET payload = :p, prev_hash = :ph, hash = :h WHERE seq = :s",
            p=payload,
            ph=prev,
            h=digest,
            s=e.seq,
        )
        prev = digest
    _raw(url, "UPDATE log_head SET hash = :h", h=prev)
    with IncidentLog(url) as log:
        assert log.verify().ok  # a hash chain alone cannot see this
        report = log.verify(anchors={3: anchor[3][:16]})
        assert not report.ok and report.first_bad_seq == 3 and "anchor" in (report.reason or "")
        assert log.verify(anchors={1: original[0].hash}).ok
        missing = log.verify(anchors={9: "ab" * 8})
        assert not missing.ok and missing.first_bad_seq == 9
        with pytest.raises(InputError, match=r"anchor hash must be .*hex digits, got 'xyz'"):
            log.verify(anchors={1: "xyz"})


# -- personal data -----------------------------------------------------------------------------


def test_personal_reads_are_audited(log: IncidentLog) -> None:
    log.append(_entry(1, personal=True))
    log.append(_entry(2))
    assert log.read_personal(1, reader="supervisor-2", purpose="complaint C-17") == {
        "caller": "Caller 1",
        "phone": "0717 000 001",
    }
    assert log.read_personal(2, reader="supervisor-2", purpose="complaint C-17") is None
    audits = [e for e in log.entries() if e.kind == PERSONAL_READ_KIND]
    assert [(a.actor, a.payload["seq"], a.payload["outcome"]) for a in audits] == [
        ("supervisor-2", 1, "returned"),
        ("supervisor-2", 2, "none"),
    ]
    assert all(a.incident == "INC-1" and a.personal_hash is None for a in audits)
    assert log.verify().ok


def test_personal_read_of_unknown_seq_is_refused_and_not_logged(log: IncidentLog) -> None:
    log.append(_entry(1, personal=True))
    with pytest.raises(InputError) as info:
        log.read_personal(9, reader="supervisor-2", purpose="check")
    assert info.value.field == "seq"
    with pytest.raises(InputError, match="must be a non-empty string") as blank:
        log.read_personal(1, reader=" ", purpose="check")
    assert blank.value.field == "reader"
    assert log.head() == 1


def test_redaction_removes_data_and_keeps_the_chain_green(url: str, log: IncidentLog) -> None:
    for i in range(1, 5):
        log.append(_entry(i, personal=True))
    cut = T0 + timedelta(minutes=3)  # entries 1 and 2 are older
    assert log.redact_personal(older_than=cut, actor="retention") == 2
    assert log.redact_personal(older_than=cut, actor="retention") == 0  # idempotent
    report = log.verify()
    assert report.ok, report.reason
    entries = log.entries()
    assert [e.redacted for e in entries[:4]] == [True, True, False, False]
    assert entries[4].kind == PERSONAL_REDACTED_KIND
    assert entries[4].payload["count"] == 2
    assert log.read_personal(1, reader="auditor", purpose="test") is None
    assert log.read_personal(3, reader="auditor", purpose="test") == {
        "caller": "Caller 3",
        "phone": "0717 000 003",
    }
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT seq, salt, data FROM log_personal ORDER BY seq"))
        stored = [tuple(r) for r in rows]
    engine.dispose()
    assert stored[0][1:] == (None, None) and stored[1][1:] == (None, None)
    assert "Caller 1" not in repr(stored) and "Caller 3" in repr(stored)


# -- crash safety ------------------------------------------------------------------------------


def test_unserialisable_personal_data_writes_nothing(log: IncidentLog) -> None:
    log.append(_entry(1))
    bad = NewEntry("contact.received", {"channel": "phone"}, personal={"dob": object()})
    with pytest.raises(InputError) as info:
        log.append(bad)
    assert info.value.field == "personal"
    assert log.head() == 1 and len(log.entries()) == 1


_REFUSE_PERSONAL = {
    "sqlite": (
        "CREATE TRIGGER refuse BEFORE INSERT ON log_personal "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    ),
    "postgresql": (
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON log_personal "
        "FOR EACH ROW EXECUTE FUNCTION refuse()",
    ),
}


def test_failing_personal_insert_rolls_back_the_whole_entry(url: str, log: IncidentLog) -> None:
    """The database itself refuses the personal row after the entry row went in."""
    log.append(_entry(1, personal=True))
    backend = sa.make_url(url).get_backend_name()
    for statement in _REFUSE_PERSONAL[backend]:
        _raw(url, statement)
    with pytest.raises(sa.exc.DatabaseError, match="disk full"):
        log.append(_entry(2, personal=True))
    assert log.head() == 1
    assert [e.seq for e in log.entries()] == [1]
    _raw(url, "DROP TRIGGER refuse" + (" ON log_personal" if backend == "postgresql" else ""))
    assert log.append(_entry(3, personal=True)).seq == 2
    assert log.verify().ok


# -- opening -----------------------------------------------------------------------------------


def test_missing_database_is_not_created_when_create_is_false(tmp_path: Path) -> None:
    path = tmp_path / "absent.sqlite"
    with pytest.raises(DataMissingError, match="no incident log at") as info:
        IncidentLog(f"sqlite:///{path}", create=False)
    assert info.value.field == "db"
    assert not path.exists()


def test_bad_url_names_the_field() -> None:
    with pytest.raises(InputError) as info:
        IncidentLog("not a url")
    assert info.value.field == "db"


def test_unreachable_server_names_the_database() -> None:
    with pytest.raises(DataMissingError) as info:
        IncidentLog("postgresql+psycopg://nobody:secret@127.0.0.1:9/none?connect_timeout=2")
    assert info.value.field == "db" and "secret" not in str(info.value)


@pytest.mark.parametrize("create", [True, False])
def test_a_file_that_is_not_a_database_names_the_field(tmp_path: Path, create: bool) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database, just text\n" * 100)
    with pytest.raises(DataMissingError) as info:
        IncidentLog(f"sqlite:///{junk}", create=create)
    assert info.value.field == "db" and "not a database" in str(info.value)
    assert junk.read_text() == "not a database, just text\n" * 100


def test_naive_timestamp_is_refused() -> None:
    with pytest.raises(InputError) as info:
        NewEntry("note.added", {}, recorded_at=datetime(2026, 1, 1))
    assert info.value.field == "recorded_at"


# -- concurrency -------------------------------------------------------------------------------

THREADS, PER_THREAD = 4, 25


def _hammer(url: str, writer: int, count: int) -> None:
    with IncidentLog(url) as log:
        for i in range(count):
            log.append(NewEntry("note.added", {"writer": writer, "i": i}, personal={"w": writer}))


def _assert_all_there(url: str, writers: int, per_writer: int) -> None:
    with IncidentLog(url) as log:
        entries = log.entries()
        report = log.verify()
    assert report.ok, report.reason
    assert [e.seq for e in entries] == list(range(1, writers * per_writer + 1))
    seen = {(e.payload["writer"], e.payload["i"]) for e in entries}
    assert seen == {(w, i) for w in range(writers) for i in range(per_writer)}


def test_concurrent_threads_never_lose_or_duplicate(url: str) -> None:
    """Writers start on an empty database: creating the tables races too."""
    errors: list[BaseException] = []

    def run(writer: int) -> None:
        try:
            _hammer(url, writer, PER_THREAD)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _assert_all_there(url, THREADS, PER_THREAD)


def test_threads_share_an_in_memory_log() -> None:
    with IncidentLog("sqlite://") as log:

        def run(writer: int) -> None:
            for i in range(PER_THREAD):
                log.append(NewEntry("note.added", {"writer": writer, "i": i}))
                log.entries(after_seq=log.head() - 1)

        threads = [threading.Thread(target=run, args=(w,)) for w in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [e.seq for e in log.entries()] == list(range(1, THREADS * PER_THREAD + 1))
        assert log.verify().ok


@pytest.mark.slow
def test_concurrent_processes_never_lose_or_duplicate(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_hammer, args=(url, w, PER_THREAD)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    _assert_all_there(url, 3, PER_THREAD)


def test_verify_sees_a_consistent_snapshot_while_writers_append(url: str) -> None:
    with IncidentLog(url) as log:
        log.append(_entry(0))
        writers = [threading.Thread(target=_hammer, args=(url, w, PER_THREAD)) for w in range(2)]
        for t in writers:
            t.start()
        reports = []
        while any(t.is_alive() for t in writers):
            reports.append(log.verify())
        for t in writers:
            t.join()
        reports.append(log.verify())
    assert all(r.ok for r in reports), [r.reason for r in reports if not r.ok]
    assert reports[-1].checked == 1 + 2 * PER_THREAD


def test_only_one_of_two_racing_conditional_appends_wins(log: IncidentLog) -> None:
    """Both writers read head 1 and append with expected_seq=1: exactly one succeeds."""
    log.append(_entry(1))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            log.append(_entry(10 + i), expected_seq=1)
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    racers = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert log.head() == 2 and log.verify().ok


# -- properties --------------------------------------------------------------------------------

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
payloads = st.dictionaries(texts, json_values, max_size=4)
moments = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9))]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(st.tuples(payloads, st.none() | payloads, moments), min_size=1, max_size=6))
def test_any_json_and_time_round_trips_and_verifies(
    batch: list[tuple[dict[str, Any], dict[str, Any] | None, datetime]],
) -> None:
    with IncidentLog("sqlite://") as log:
        for payload, personal, moment in batch:
            entry = NewEntry("note.added", payload, personal=personal, recorded_at=moment)
            stored = log.append(entry)
            assert stored.payload == payload
        assert log.verify().ok
        assert [(e.payload, e.recorded_at) for e in log.entries()] == [(p, m) for p, _, m in batch]
        for seq, (_, personal, _) in enumerate(batch, start=1):
            assert log.read_personal(seq, reader="qa", purpose="property") == personal


_MUTATIONS = {
    "kind": "note.deleted",
    "payload": '{"n":0}',
    "incident": "INC-9",
    "actor": "someone-else",
    "recorded_at": "2001-01-01 00:00:00.000000",
    "personal_hash": "a" * 64,
    "prev_hash": "b" * 64,
    "hash": "c" * 64,
}


@settings(max_examples=20, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=6),
    data=st.data(),
)
def test_any_single_field_edit_is_detected_at_that_entry(size: int, data: st.DataObject) -> None:
    target = data.draw(st.integers(min_value=1, max_value=size), label="seq")
    column = data.draw(st.sampled_from(sorted(_MUTATIONS)), label="column")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'log.sqlite'}"
        with IncidentLog(url) as log:
            for i in range(1, size + 1):
                log.append(_entry(i, personal=i % 2 == 1))
        _tamper(
            url,
            f"UPDATE log_entries SET {column} = :v WHERE seq = :s",
            v=_MUTATIONS[column],
            s=target,
        )
        ok, bad, _ = _verify(url)
    assert not ok and bad == target

"""The incident log: an append-only, hash-chained record of every event, in SQLite or PostgreSQL.

Every append is one database transaction that takes the log's write lock (``BEGIN IMMEDIATE``
on SQLite, ``SELECT ... FOR UPDATE`` on the head row on PostgreSQL), so concurrent writers get
contiguous sequence numbers and never lose or duplicate an entry; a failure anywhere inside
the transaction leaves nothing behind. Personal data (callers, patients) lives in its own table,
is only readable through :meth:`IncidentLog.read_personal` (which logs who read it) and can be
wiped after the retention period without breaking the chain.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Connection, Row
from sqlalchemy.pool import StaticPool

from planner.errors import ConflictError, DataMissingError, InputError
from planner.log.chain import (
    GENESIS_HASH,
    canonical_json,
    entry_hash,
    new_salt,
    salted_personal_hash,
    utc_iso,
)
from planner.log.schema import (
    WRITE_OPTION,
    create_log_engine,
    entries_table,
    head_table,
    imports_table,
    metadata,
    personal_table,
    signatures_table,
)
from planner.log.signing import Checkpoint, key_id, make_checkpoint, sign_entry
from planner.log.verify import VerifyReport, verify_chain

__all__ = [
    "AUDIT_KINDS",
    "DEFAULT_RETENTION_DAYS",
    "PERSONAL_READ_KIND",
    "PERSONAL_REDACTED_KIND",
    "IncidentLog",
    "LogEntry",
    "NewEntry",
    "VerifyReport",
    "utc_now",
]

PERSONAL_READ_KIND = "personal_data.read"
"""Kind of the audit entry appended for every read of personal data."""

PERSONAL_REDACTED_KIND = "personal_data.redacted"
"""Kind of the audit entry appended when a retention run wiped personal data."""

AUDIT_KINDS = frozenset({PERSONAL_READ_KIND, PERSONAL_REDACTED_KIND})
"""Kinds the log writes itself; they are not dispatch events and a state fold skips them."""

DEFAULT_RETENTION_DAYS = 30
"""How long personal data is kept by default before ``planner log redact`` wipes it."""

MAX_KIND_LEN = 80
MAX_NAME_LEN = 120
MAX_PURPOSE_LEN = 500
_HEAD_ID = 1
_OPEN_ATTEMPTS = 10  # SQLite locks at open that the busy timeout does not cover
TAIL_ENTRIES = 1024
"""How many of the entries this process committed last :meth:`IncidentLog.recent` keeps."""
_DDL_LOCK_KEY = 0x706C616E6E6572  # "planner": serialises table creation on PostgreSQL


# Built once: appends are the hot path and these never change.
_LOCK_HEAD = (
    sa.select(head_table.c.seq, head_table.c.hash)
    .where(head_table.c.id == _HEAD_ID)
    .with_for_update()
)
_INSERT_ENTRY = entries_table.insert()
_INSERT_PERSONAL = personal_table.insert()
_INSERT_SIGNATURE = signatures_table.insert()
_MOVE_HEAD = (
    head_table.update()
    .where(head_table.c.id == _HEAD_ID)
    .values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash"))
)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An event to append: operational payload and, separately, any personal data."""

    kind: str
    payload: Mapping[str, Any]
    personal: Mapping[str, Any] | None = None
    incident: str | None = None
    actor: str | None = None
    recorded_at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _check_name(self.kind, field_name="kind", limit=MAX_KIND_LEN, required=True)
        _check_name(self.incident, field_name="incident", limit=MAX_NAME_LEN, required=False)
        _check_name(self.actor, field_name="actor", limit=MAX_NAME_LEN, required=False)
        if not isinstance(self.payload, Mapping):
            raise InputError("must be a JSON object", field="payload")
        if self.personal is not None and not isinstance(self.personal, Mapping):
            raise InputError("must be a JSON object or null", field="personal")
        if not isinstance(self.recorded_at, datetime) or self.recorded_at.tzinfo is None:
            raise InputError("must be a timezone-aware datetime", field="recorded_at")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A stored entry. Personal data is not part of it: read it with ``read_personal``."""

    seq: int
    kind: str
    payload: dict[str, Any]
    incident: str | None
    actor: str | None
    recorded_at: datetime
    personal_hash: str | None
    prev_hash: str
    hash: str
    redacted: bool = False

    @property
    def has_personal(self) -> bool:
        """Whether personal data was recorded with this entry (even if since redacted)."""
        return self.personal_hash is not None


class IncidentLog:
    """An incident log in the database at ``url`` (``sqlite:///path`` or ``postgresql+psycopg://``).

    ``create=False`` refuses a database without a log instead of creating one (for read-only
    tools such as ``planner log verify``); ``clock`` stamps the log's own audit entries.
    """

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        clock: Callable[[], datetime] = utc_now,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> None:
        self.url = url
        self._clock = clock
        self._signing_key = signing_key
        self._key_id = None if signing_key is None else key_id(signing_key.public_key())
        self._engine = create_log_engine(url)
        self._is_postgres = self._engine.dialect.name == "postgresql"
        # An in-memory SQLite log is one shared connection: take turns on it in Python.
        shared = isinstance(self._engine.pool, StaticPool)
        self._turn: AbstractContextManager[Any] = threading.RLock() if shared else nullcontext()
        self._open = threading.local()  # the transaction this thread has open, if any
        database = self._engine.url.database
        file_backed = self._engine.dialect.name == "sqlite" and database not in (
            None,
            "",
            ":memory:",
        )
        self._wal = Path(f"{database}-wal") if file_backed else None
        self._durability = threading.Lock()  # guards the three group-commit fields below
        self._sync_turn = threading.Lock()  # one fsync at a time
        self._commits = 0  # deferred commits so far
        self._synced = 0  # deferred commits known to be on disk
        self._undurable: deque[tuple[int, int]] = deque()  # (commit number, its first seq)
        self._tail: deque[LogEntry] = deque(maxlen=TAIL_ENTRIES)  # guarded by _durability
        self._watchers: list[Callable[[], None]] = []
        try:
            self._prepare_retrying(create=create)
        except BaseException:
            self._engine.dispose()
            raise

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> IncidentLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _prepare_retrying(self, *, create: bool) -> None:
        """:meth:`_prepare`, tried again while SQLite reports a lock that its busy timeout does not
        wait for: writers opening a brand-new file at once race on switching it to WAL."""
        for attempt in range(_OPEN_ATTEMPTS):
            started = time.monotonic()
            try:
                self._prepare(create=create)
                return
            except DataMissingError as exc:
                # A lock the busy timeout waited out is real: report it, don't wait again.
                unwaited = time.monotonic() - started < 1.0
                locked = "database is locked" in exc.message and not self._is_postgres
                if not (locked and unwaited) or attempt == _OPEN_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _prepare(self, *, create: bool) -> None:
        """Create the tables (once, under a lock) or, with ``create=False``, insist they exist."""
        database = self._engine.url.database
        sqlite_file = self._engine.dialect.name == "sqlite" and database not in (
            None,
            "",
            ":memory:",
        )
        if not create and sqlite_file and not Path(str(database)).is_file():
            raise DataMissingError(f"no incident log at {database}", field="db")
        try:
            if not create:
                with self._read() as conn:
                    if not sa.inspect(conn).has_table(head_table.name):
                        raise DataMissingError(
                            f"no incident log in {self._engine.url!r}", field="db"
                        )
                return
            with self._write() as conn:
                if self._is_postgres:
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_DDL_LOCK_KEY)))
                if not self._is_postgres:
                    _refuse_foreign(conn)
                metadata.create_all(conn)
                if conn.execute(sa.select(head_table.c.id)).first() is None:
                    conn.execute(head_table.insert().values(id=_HEAD_ID, seq=0, hash=GENESIS_HASH))
        except sa.exc.DatabaseError as exc:  # unreachable server, locked, or not a database
            raise DataMissingError(
                f"cannot open the incident log at {self._engine.url!r}: {exc.orig}", field="db"
            ) from exc

    @contextmanager
    def transaction(self, *, defer_sync: bool = False) -> Iterator[Connection]:
        """One write transaction that every append and read of this thread joins until it ends.

        A decision (an event, the recommendation and escalations it causes, the idempotency
        record of the request) is written through it, so all of it commits or none of it does;
        the yielded connection is for the caller's own rows in the same transaction. Nested
        calls join the outer transaction. With ``defer_sync`` (SQLite file) the commit does
        not wait for the disk: the caller must call :meth:`sync` before it acknowledges
        anything, and until then readers (:meth:`entries`) do not see the entries.
        """
        current: Connection | None = getattr(self._open, "conn", None)
        if current is not None:
            yield current
            return
        deferred = defer_sync and self._wal is not None
        with self._turn, self._engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            if deferred:
                raw.execute("PRAGMA synchronous=NORMAL")  # the commit writes, sync() flushes
            try:
                conn.execution_options(**{WRITE_OPTION: True})
                appended: list[LogEntry] = []
                self._open.appended = appended
                before = self._changes(conn)
                with conn.begin():
                    self._open.conn = conn
                    try:
                        yield conn
                    finally:
                        self._open.conn = None
                self._committed(appended, deferred=deferred, wrote=self._changes(conn) != before)
            finally:
                self._open.appended = None
                if deferred:
                    if raw.in_transaction:  # the commit itself failed: nothing was written
                        raw.rollback()
                    raw.execute("PRAGMA synchronous=FULL")

    def _changes(self, conn: Connection) -> int:
        """Rows the SQLite file connection has changed so far (0 for other databases)."""
        raw = conn.connection.dbapi_connection
        return int(getattr(raw, "total_changes", 0)) if self._wal is not None else 0

    def _committed(self, appended: list[LogEntry], *, deferred: bool, wrote: bool) -> None:
        """Book a commit of ``appended``: a deferred one is not durable until :meth:`sync`; a
        synchronous one that ``wrote`` rows flushed the whole write-ahead log, so every earlier
        commit is durable too — one that wrote none (a retention run with nothing due) wrote
        nothing to flush, so it proves nothing. The entries join the in-memory tail (see
        :meth:`recent`)."""
        flushing = self._wal is not None and not deferred and wrote
        with self._durability:
            flushed = flushing and bool(self._undurable)
            if flushing:
                self._synced = self._commits
                self._undurable.clear()
            elif self._wal is not None and deferred and appended:
                self._commits += 1
                self._undurable.append((self._commits, appended[0].seq))
            if self._tail and appended and appended[0].seq < self._tail[-1].seq:
                # a concurrent writer of this process booked its later commit first
                ordered = sorted([*self._tail, *appended], key=lambda e: e.seq)
                self._tail.clear()
                appended = ordered[-TAIL_ENTRIES:]
            self._tail.extend(appended)
        if not deferred and (appended or flushed):
            self._notify()

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` each time entries this process committed become durable, so a
        reader (the event stream) wakes without polling; returns the function that stops it.
        It runs on the committing thread, after the commit: it must be quick and not raise."""
        with self._durability:
            self._watchers.append(callback)

        def unwatch() -> None:
            with self._durability:
                if callback in self._watchers:
                    self._watchers.remove(callback)

        return unwatch

    def _notify(self) -> None:
        with self._durability:
            watchers = list(self._watchers)
        for callback in watchers:
            callback()

    def recent(self, *, after_seq: int, limit: int) -> list[LogEntry] | None:
        """The durable entries after ``after_seq`` (up to ``limit``) from memory, without a
        database read: the last :data:`TAIL_ENTRIES` this process committed. None when memory
        cannot tell — ``after_seq`` is older than what is kept, or the next entry was written
        by another process — then read :meth:`entries`. An empty list means none this process
        knows of; another process's later entries are only found by :meth:`entries`. Entries
        are as appended (a redaction empties the memory)."""
        with self._durability:
            if not self._tail or after_seq < self._tail[0].seq - 1:
                return None
            below = self._undurable[0][1] if self._undurable else None
            newer: list[LogEntry] = []
            for entry in reversed(self._tail):
                if entry.seq <= after_seq:
                    break
                newer.append(entry)
        found: list[LogEntry] = []
        for entry in reversed(newer):
            if len(found) == limit or (below is not None and entry.seq >= below):
                break
            if entry.seq != after_seq + len(found) + 1:
                return found or None  # a gap: another process wrote that entry
            found.append(entry)
        return found

    def sync(self) -> None:
        """Make every commit of this process so far durable (group commit).

        A transaction opened with ``defer_sync`` commits without waiting for the disk;
        this one ``fsync`` of the SQLite write-ahead log then covers it and every commit
        before it, so writers that queue behind each other share one flush instead of each
        waiting for its own. Returns at once when another thread's flush already covered
        them. PostgreSQL (and in-memory SQLite) commits are durable as they are."""
        if self._wal is None:
            return
        with self._durability:
            target = self._commits
            if self._synced >= target:
                return
        with self._sync_turn:
            with self._durability:
                if self._synced >= target:
                    return
                upto = self._commits
            _fsync(self._wal)
            with self._durability:
                self._synced = max(self._synced, upto)
                while self._undurable and self._undurable[0][0] <= upto:
                    self._undurable.popleft()
        self._notify()  # outside the turn: the next flush need not wait for the watchers

    def _durable_below(self) -> int | None:
        """The first seq not yet durable (None: all are), for readers outside a write."""
        if self._wal is None or getattr(self._open, "conn", None) is not None:
            return None
        with self._durability:
            return self._undurable[0][1] if self._undurable else None

    def connection(self) -> Connection:
        """The connection of the transaction this thread has open (see :meth:`transaction`)."""
        current: Connection | None = getattr(self._open, "conn", None)
        if current is None:
            raise RuntimeError("no log transaction is open in this thread")
        return current

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction: exclusive on SQLite from its first statement."""
        current: Connection | None = getattr(self._open, "conn", None)
        if current is not None:
            yield current
            return
        with self._turn, self._engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            appended: list[LogEntry] = []
            self._open.appended = appended
            before = self._changes(conn)
            try:
                with conn.begin():
                    yield conn
            finally:
                self._open.appended = None
            self._committed(appended, deferred=False, wrote=self._changes(conn) != before)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction that sees one consistent snapshot (or the open write one)."""
        current: Connection | None = getattr(self._open, "conn", None)
        if current is not None:
            yield current
            return
        with self._turn, self._engine.connect() as conn:
            if self._is_postgres:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    # -- writing ---------------------------------------------------------------------------

    def append(
        self,
        entry: NewEntry,
        *,
        expected_seq: int | None = None,
        ignore_audit_entries: bool = False,
    ) -> LogEntry:
        """Append one entry in one transaction and return it with its seq and hash.

        With ``expected_seq`` the append only happens if the log's head is still that seq
        (optimistic concurrency for callers that decided based on what they read);
        otherwise :class:`~planner.errors.ConflictError` and nothing is written. With
        ``ignore_audit_entries`` the log's own audit entries (:data:`AUDIT_KINDS`, e.g. a
        personal-data read) appended since ``expected_seq`` do not count as a conflict: they
        change no dispatch state. The check runs under the write lock, so it cannot race.
        """
        with self._write() as conn:
            head_seq, head_hash = self._lock_head(conn)
            if expected_seq is not None and expected_seq != head_seq:
                moved = expected_seq > head_seq or not ignore_audit_entries
                if not moved:
                    moved = (
                        conn.execute(
                            sa.select(entries_table.c.seq)
                            .where(entries_table.c.seq > expected_seq)
                            .where(entries_table.c.kind.not_in(sorted(AUDIT_KINDS)))
                            .limit(1)
                        ).first()
                        is not None
                    )
                if moved:
                    raise ConflictError(
                        f"the log is at seq {head_seq}, not {expected_seq}; re-read and retry",
                        field="expected_seq",
                    )
            return self._append_locked(conn, entry, head_seq=head_seq, head_hash=head_hash)

    def append_many(self, entries: Sequence[NewEntry]) -> int:
        """Append ``entries`` in one transaction with one multi-row insert (bulk imports of
        external logs); the chain, and the signatures with a signing key, are exactly what one
        ``append`` each would give. Returns the new head seq."""
        with self._write() as conn:
            seq, head_hash = self._lock_head(conn)
            rows: list[dict[str, Any]] = []
            personal: list[dict[str, Any]] = []
            signatures: list[dict[str, Any]] = []
            for entry in entries:
                seq += 1
                row = self._row_for(entry, seq, head_hash)
                rows.append(row.entry)
                if row.personal is not None:
                    personal.append(row.personal)
                if row.signature is not None:
                    signatures.append(row.signature)
                head_hash = row.hash
            if rows:
                conn.execute(_INSERT_ENTRY, rows)
                if personal:
                    conn.execute(_INSERT_PERSONAL, personal)
                if signatures:
                    conn.execute(_INSERT_SIGNATURE, signatures)
                conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": head_hash})
            return seq

    def _lock_head(self, conn: Connection) -> tuple[int, str]:
        row = conn.execute(_LOCK_HEAD).one()
        return int(row.seq), str(row.hash)

    def _append_locked(
        self, conn: Connection, entry: NewEntry, *, head_seq: int, head_hash: str
    ) -> LogEntry:
        """Write one entry under the lock already held by ``conn``'s transaction."""
        row = self._row_for(entry, head_seq + 1, head_hash)
        conn.execute(_INSERT_ENTRY, row.entry)
        if row.personal is not None:
            conn.execute(_INSERT_PERSONAL, row.personal)
        if row.signature is not None:
            conn.execute(_INSERT_SIGNATURE, row.signature)
        conn.execute(_MOVE_HEAD, {"new_seq": head_seq + 1, "new_hash": row.hash})
        stored = LogEntry(**{**row.entry, "payload": json.loads(row.entry["payload"])})
        appended: list[LogEntry] | None = getattr(self._open, "appended", None)
        if appended is not None:  # booked when the transaction commits, with its own payload
            appended.append(replace(stored, payload=json.loads(row.entry["payload"])))
        return stored

    def _row_for(self, entry: NewEntry, seq: int, prev_hash: str) -> _Rows:
        """The rows that store ``entry`` as number ``seq`` after ``prev_hash``: the one place
        that encodes, hashes and signs an entry, for single and bulk appends alike."""
        payload_json, personal_json, salt, p_hash = _encode(entry)
        recorded_at = entry.recorded_at.astimezone(UTC)
        digest = entry_hash(
            seq=seq,
            kind=entry.kind,
            payload_json=payload_json,
            incident=entry.incident,
            actor=entry.actor,
            recorded_at=recorded_at,
            personal_hash=p_hash,
            prev_hash=prev_hash,
        )
        row = {
            "seq": seq,
            "kind": entry.kind,
            "payload": payload_json,
            "incident": entry.incident,
            "actor": entry.actor,
            "recorded_at": recorded_at,
            "personal_hash": p_hash,
            "prev_hash": prev_hash,
            "hash": digest,
        }
        personal = (
            None if personal_json is None else {"seq": seq, "salt": salt, "data": personal_json}
        )
        signature = None
        if self._signing_key is not None:
            signed = sign_entry(self._signing_key, seq=seq, digest=digest)
            signature = {"seq": seq, "key_id": self._key_id, "signature": signed}
        return _Rows(row, personal, signature, digest)

    # -- reading ---------------------------------------------------------------------------

    def head(self) -> int:
        """The seq of the last entry (0 for an empty log)."""
        with self._read() as conn:
            return int(conn.execute(sa.select(head_table.c.seq)).scalar_one())

    def entries(
        self, *, incident: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> list[LogEntry]:
        """Entries with seq > ``after_seq`` in seq order, optionally of one incident only;
        durable ones only (see :meth:`sync`)."""
        if limit is not None and limit < 0:
            raise InputError("must not be negative", field="limit")
        query = (
            sa.select(
                entries_table,
                personal_table.c.redacted_at.is_not(None).label("redacted"),
            )
            .select_from(entries_table.outerjoin(personal_table))
            .where(entries_table.c.seq > after_seq)
            .order_by(entries_table.c.seq)
        )
        if incident is not None:
            query = query.where(entries_table.c.incident == incident)
        if (below := self._durable_below()) is not None:
            query = query.where(entries_table.c.seq < below)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [_to_entry(row) for row in conn.execute(query)]

    # -- imports ---------------------------------------------------------------------------

    def imported(self, line_ids: Sequence[str]) -> set[str]:
        """Which of ``line_ids`` (see :func:`line_ids`) were applied already."""
        found: set[str] = set()
        with self._read() as conn:
            for start in range(0, len(line_ids), 500):
                chunk = list(line_ids[start : start + 500])
                query = sa.select(imports_table.c.line_id).where(imports_table.c.line_id.in_(chunk))
                found.update(str(v) for v in conn.execute(query).scalars())
        return found

    def record_import(self, line_id: str, *, line: int, seq: int) -> None:
        """Mark an event file's line as applied (call inside the line's own transaction)."""
        with self._write() as conn:
            conn.execute(imports_table.insert().values(line_id=line_id, line=line, seq=seq))

    # -- personal data ---------------------------------------------------------------------

    def read_personal(self, seq: int, *, reader: str, purpose: str) -> dict[str, Any] | None:
        """The personal data of entry ``seq`` (None if it had none or it was redacted).

        Every call, whatever it finds, appends a ``personal_data.read`` entry naming the reader
        and purpose, in the same transaction as the read: no read goes unrecorded.
        """
        _check_name(reader, field_name="reader", limit=MAX_NAME_LEN, required=True)
        _check_name(purpose, field_name="purpose", limit=MAX_PURPOSE_LEN, required=True)
        with self._write() as conn:
            head_seq, head_hash = self._lock_head(conn)
            row = conn.execute(
                sa.select(entries_table.c.incident, personal_table.c.data, personal_table.c.seq)
                .select_from(entries_table.outerjoin(personal_table))
                .where(entries_table.c.seq == seq)
            ).first()
            if row is None:
                raise InputError(f"no log entry with seq {seq}", field="seq")
            if row.data is not None:
                outcome = "returned"
            elif row.seq is not None:
                outcome = "redacted"
            else:
                outcome = "none"
            audit = NewEntry(
                kind=PERSONAL_READ_KIND,
                payload={"seq": seq, "purpose": purpose, "outcome": outcome},
                incident=row.incident,
                actor=reader,
                recorded_at=self._clock(),
            )
            self._append_locked(conn, audit, head_seq=head_seq, head_hash=head_hash)
            return None if row.data is None else dict(json.loads(row.data))

    def match_personal(
        self, *, kinds: Collection[str], match: Callable[[Mapping[str, Any]], bool]
    ) -> list[tuple[int, str | None]]:
        """``(seq, incident)`` of the entries of ``kinds`` whose personal data ``match``
        accepts, in seq order (redacted entries never match): a server-side search that
        returns no personal data. A caller that shows what matched reads it with
        :meth:`read_personal`, so every disclosure is recorded as before."""
        query = (
            sa.select(entries_table.c.seq, entries_table.c.incident, personal_table.c.data)
            .select_from(entries_table.join(personal_table))
            .where(entries_table.c.kind.in_(sorted(kinds)), personal_table.c.data.is_not(None))
            .order_by(entries_table.c.seq)
        )
        with self._read() as conn:
            return [
                (int(row.seq), row.incident)
                for row in conn.execute(query)
                if match(json.loads(row.data))
            ]

    def redact_personal(
        self, *, older_than: datetime, actor: str, reason: str = "retention period"
    ) -> int:
        """Wipe personal data of entries recorded before ``older_than``; return how many.

        Content and salt are deleted, the salted hash stays, so the chain still verifies.
        A run that wiped anything appends, in the same transaction, a
        ``personal_data.redacted`` entry naming the entries, who and why: ``verify`` flags
        personal data missing without one. The freed pages are then overwritten (see
        :meth:`erase_freed`).
        """
        if older_than.tzinfo is None:
            raise InputError("must be a timezone-aware datetime", field="older_than")
        _check_name(actor, field_name="actor", limit=MAX_NAME_LEN, required=True)
        _check_name(reason, field_name="reason", limit=MAX_PURPOSE_LEN, required=True)
        due = (
            sa.select(entries_table.c.seq)
            .join(personal_table)
            .where(entries_table.c.recorded_at < older_than)
            .where(personal_table.c.redacted_at.is_(None))
        )
        with self._write() as conn:
            head_seq, head_hash = self._lock_head(conn)
            seqs = [int(s) for s in conn.execute(due).scalars()]
            if not seqs:
                return 0
            now = self._clock()
            with self._durability:
                self._tail.clear()  # what memory holds would still read as not redacted
            conn.execute(
                personal_table.update()
                .where(personal_table.c.seq.in_(due.scalar_subquery()))
                .values(data=None, salt=None, redacted_at=now, redacted_by=actor)
            )
            audit = NewEntry(
                kind=PERSONAL_REDACTED_KIND,
                payload={
                    "older_than": utc_iso(older_than),
                    "count": len(seqs),
                    "first_seq": min(seqs),
                    "last_seq": max(seqs),
                    "seqs": seqs,
                    "reason": reason,
                },
                actor=actor,
                recorded_at=now,
            )
            self._append_locked(conn, audit, head_seq=head_seq, head_hash=head_hash)
        self.erase_freed()
        return len(seqs)

    def erase_freed(self) -> None:
        """Make redacted data unrecoverable from the database files, not just unreachable.

        SQLite runs with ``secure_delete`` (freed pages are zeroed), and the write-ahead log,
        which still holds the old pages, is checkpointed and truncated. PostgreSQL keeps the old
        row versions in the table's pages, and a plain VACUUM only marks them free without
        overwriting them, so ``log_personal`` is rewritten with ``VACUUM FULL`` (a brief
        exclusive lock on that table only; outside a transaction, as VACUUM requires).
        """
        with self._turn, self._engine.connect() as conn:
            if self._is_postgres:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql(f"VACUUM FULL {personal_table.name}")
            elif self._engine.url.database not in (None, "", ":memory:"):
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- verification ----------------------------------------------------------------------

    def verify(
        self,
        *,
        anchors: Mapping[int, str] | None = None,
        public_key: Ed25519PublicKey | None = None,
        checkpoints: Sequence[Checkpoint] = (),
    ) -> VerifyReport:
        """Recompute the whole chain; report the first entry that was altered, removed or moved.

        ``anchors`` maps seqs to hashes recorded earlier outside the database (e.g. the head
        hash at the end of each shift): they also catch a chain rewritten with fresh hashes.
        With ``public_key`` every entry from the first signed one on must carry a valid
        signature (forged, edited or re-chained rows fail); ``checkpoints`` signed earlier
        catch rows cut off the end.
        """
        with self._read() as conn:
            return verify_chain(
                conn, anchors=anchors, public_key=public_key, checkpoints=checkpoints
            )

    def checkpoint(self) -> Checkpoint:
        """A signed checkpoint of the head now (needs the signing key)."""
        if self._signing_key is None:
            raise InputError("signing a checkpoint needs the signing key", field="signing-key")
        with self._read() as conn:
            head = conn.execute(sa.select(head_table.c.seq, head_table.c.hash)).one()
        return make_checkpoint(
            self._signing_key, seq=int(head.seq), digest=str(head.hash), at=self._clock()
        )

    @property
    def signing(self) -> bool:
        """Whether this log signs what it appends."""
        return self._signing_key is not None


OWN_TABLE_PREFIXES = ("log_", "api_")
"""Tables of the log and of the API beside it; any other table means another application's."""


def _refuse_foreign(conn: Connection) -> None:
    """Refuse to add the log's tables to a SQLite file that holds another application's
    (a mistyped ``--db`` must not turn someone's database into an incident log)."""
    names = sa.inspect(conn).get_table_names()
    if head_table.name in names:
        return
    foreign = sorted(n for n in names if not n.startswith(OWN_TABLE_PREFIXES))
    if foreign:
        raise DataMissingError(
            f"not an incident log: the database holds other tables ({', '.join(foreign[:3])}); "
            "use a new database",
            field="db",
        )


def line_ids(lines: Sequence[str]) -> list[str]:
    """An id per line of an event file: SHA-256 over the file up to and including the line.

    The same file (or a longer one that starts the same) gives the same ids, so a re-run skips
    what was applied; a file that differs from some line on gets new ids from there on.
    """
    ids: list[str] = []
    digest = hashlib.sha256(b"dispatch-planner events file v1\n")
    for line in lines:
        digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
        ids.append(digest.copy().hexdigest())
    return ids


@dataclass(frozen=True, slots=True)
class _Rows:
    """One entry's rows: the entry, its personal data and its signature (if any)."""

    entry: dict[str, Any]
    personal: dict[str, Any] | None
    signature: dict[str, Any] | None
    hash: str


def _encode(entry: NewEntry) -> tuple[str, str | None, str | None, str | None]:
    """Canonical payload JSON and, if any, personal JSON with its salt and salted hash."""
    payload_json = canonical_json(dict(entry.payload), field="payload")
    if entry.personal is None:
        return payload_json, None, None, None
    personal_json = canonical_json(dict(entry.personal), field="personal")
    salt = new_salt()
    return payload_json, personal_json, salt, salted_personal_hash(personal_json, salt=salt)


def _to_entry(row: Row[Any]) -> LogEntry:
    return LogEntry(
        seq=int(row.seq),
        kind=row.kind,
        payload=json.loads(row.payload),
        incident=row.incident,
        actor=row.actor,
        recorded_at=row.recorded_at,
        personal_hash=row.personal_hash,
        prev_hash=row.prev_hash,
        hash=row.hash,
        redacted=bool(row.redacted),
    )


def _check_name(value: object, *, field_name: str, limit: int, required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip():
        raise InputError("must be a non-empty string", field=field_name)
    if len(value) > limit:
        raise InputError(f"longer than {limit} characters", field=field_name)


def _fsync(wal: Path) -> None:
    """Flush the write-ahead log to disk (the database file if SQLite removed the log, after
    a checkpoint that it flushed itself)."""
    try:
        fd = os.open(wal, os.O_RDONLY)
    except FileNotFoundError:
        fd = os.open(wal.with_name(wal.name.removesuffix("-wal")), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

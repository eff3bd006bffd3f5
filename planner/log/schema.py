"""Tables of the incident log and the database engine they live in (SQLite or PostgreSQL).

Four tables: ``log_entries`` (the operational record, append-only, hash-chained),
``log_signatures`` (Ed25519 signatures of entry hashes, when the writer holds the key),
``log_personal`` (personal data per entry, kept apart so it can be wiped after the retention
period) and ``log_head`` (one row: the last seq and hash; appenders lock it, and ``verify``
uses it to notice rows removed from the end of the chain).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from planner.errors import InputError

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another one before giving up."""

WRITE_OPTION = "planner_log_write"
"""Execution option that makes a SQLite transaction take the write lock at BEGIN."""


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite has no time zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise InputError("timestamp must be timezone-aware", field="recorded_at")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

entries_table = sa.Table(
    "log_entries",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(80), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("incident", sa.String(120), nullable=True, index=True),
    sa.Column("actor", sa.String(120), nullable=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False, index=True),
    sa.Column("personal_hash", sa.String(64), nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
)

personal_table = sa.Table(
    "log_personal",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger,
        sa.ForeignKey("log_entries.seq", ondelete="RESTRICT"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("salt", sa.String(2 * 16), nullable=True),
    sa.Column("data", sa.Text, nullable=True),
    sa.Column("redacted_at", UTCDateTime, nullable=True),
    sa.Column("redacted_by", sa.String(120), nullable=True),
)

head_table = sa.Table(
    "log_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

signatures_table = sa.Table(
    "log_signatures",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger,
        sa.ForeignKey("log_entries.seq", ondelete="RESTRICT"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
)
"""Ed25519 signatures of entries' hashes (see :mod:`planner.log.signing`), append-only."""

imports_table = sa.Table(
    "log_imports",
    metadata,
    sa.Column("line_id", sa.String(64), primary_key=True),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("seq", sa.BigInteger, sa.ForeignKey("log_entries.seq"), nullable=False),
)
"""Lines of event files already applied (``planner events apply``), each under an id that
digests the file up to and including that line, written with the line's own entries."""


_SQLITE_GUARDS = (
    "CREATE TRIGGER log_entries_no_update BEFORE UPDATE ON log_entries "
    "BEGIN SELECT RAISE(ABORT, 'the incident log is append-only'); END",
    "CREATE TRIGGER log_entries_no_delete BEFORE DELETE ON log_entries "
    "BEGIN SELECT RAISE(ABORT, 'the incident log is append-only'); END",
    "CREATE TRIGGER log_personal_redact_only BEFORE UPDATE ON log_personal "
    "WHEN NEW.data IS NOT NULL OR NEW.salt IS NOT NULL OR NEW.seq <> OLD.seq "
    "BEGIN SELECT RAISE(ABORT, 'personal data can only be redacted'); END",
    "CREATE TRIGGER log_personal_no_delete BEFORE DELETE ON log_personal "
    "BEGIN SELECT RAISE(ABORT, 'personal data can only be redacted'); END",
    "CREATE TRIGGER log_head_no_delete BEFORE DELETE ON log_head "
    "BEGIN SELECT RAISE(ABORT, 'the log head cannot be deleted'); END",
    "CREATE TRIGGER log_head_forward_only BEFORE UPDATE ON log_head "
    "WHEN NEW.seq <= OLD.seq OR NEW.id <> OLD.id "
    "BEGIN SELECT RAISE(ABORT, 'the log head only moves forward'); END",
)

_SQLITE_SIGNATURE_GUARDS = (
    "CREATE TRIGGER IF NOT EXISTS log_signatures_no_update BEFORE UPDATE ON log_signatures "
    "BEGIN SELECT RAISE(ABORT, 'log signatures are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS log_signatures_no_delete BEFORE DELETE ON log_signatures "
    "BEGIN SELECT RAISE(ABORT, 'log signatures are append-only'); END",
)

_POSTGRES_GUARDS = (
    "CREATE OR REPLACE FUNCTION log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'the incident log is append-only (%% on %%)', TG_OP, TG_TABLE_NAME; "
    "END $$",
    "CREATE OR REPLACE TRIGGER log_entries_no_change BEFORE UPDATE OR DELETE ON log_entries "
    "FOR EACH ROW EXECUTE FUNCTION log_refuse_change()",
    "CREATE OR REPLACE TRIGGER log_entries_no_truncate BEFORE TRUNCATE ON log_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION log_refuse_change()",
    "CREATE OR REPLACE TRIGGER log_personal_redact_only BEFORE UPDATE ON log_personal "
    "FOR EACH ROW WHEN (NEW.data IS NOT NULL OR NEW.salt IS NOT NULL OR NEW.seq <> OLD.seq) "
    "EXECUTE FUNCTION log_refuse_change()",
    "CREATE OR REPLACE TRIGGER log_personal_no_delete BEFORE DELETE ON log_personal "
    "FOR EACH ROW EXECUTE FUNCTION log_refuse_change()",
    "CREATE OR REPLACE TRIGGER log_personal_no_truncate BEFORE TRUNCATE ON log_personal "
    "FOR EACH STATEMENT EXECUTE FUNCTION log_refuse_change()",
    "CREATE OR REPLACE TRIGGER log_head_no_delete BEFORE DELETE OR TRUNCATE ON log_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION log_refuse_change()",
    "CREATE OR REPLACE TRIGGER log_head_forward_only BEFORE UPDATE ON log_head "
    "FOR EACH ROW WHEN (NEW.seq <= OLD.seq OR NEW.id <> OLD.id) "
    "EXECUTE FUNCTION log_refuse_change()",
)

_POSTGRES_SIGNATURE_GUARDS = (
    "CREATE OR REPLACE FUNCTION log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'the incident log is append-only (%% on %%)', TG_OP, TG_TABLE_NAME; "
    "END $$",
    "CREATE OR REPLACE TRIGGER log_signatures_no_change BEFORE UPDATE OR DELETE OR TRUNCATE "
    "ON log_signatures FOR EACH STATEMENT EXECUTE FUNCTION log_refuse_change()",
)


def _install_guards(_target: sa.Table, conn: Connection, **_kw: Any) -> None:
    """Database triggers that refuse UPDATE/DELETE of log rows (redaction is the one update).

    They stop mistakes and casual edits; someone who can drop triggers can still rewrite rows,
    which is what the hash chain is for. Installed once, when ``log_personal`` (created after
    ``log_entries``, which it references) is created.
    """
    guards = _POSTGRES_GUARDS if conn.dialect.name == "postgresql" else _SQLITE_GUARDS
    # psycopg treats % as a placeholder even without parameters: the PG texts double it.
    for statement in guards:
        conn.exec_driver_sql(statement)


def _install_signature_guards(_target: sa.Table, conn: Connection, **_kw: Any) -> None:
    """The same guards for ``log_signatures`` (also created on logs made before signing)."""
    postgres = conn.dialect.name == "postgresql"
    for statement in _POSTGRES_SIGNATURE_GUARDS if postgres else _SQLITE_SIGNATURE_GUARDS:
        conn.exec_driver_sql(statement)


event.listen(personal_table, "after_create", _install_guards)
event.listen(signatures_table, "after_create", _install_signature_guards)


def create_log_engine(url: str) -> Engine:
    """An engine for the log: SQLite in WAL mode with a busy timeout, or PostgreSQL.

    SQLite write transactions start with ``BEGIN IMMEDIATE`` (see :data:`WRITE_OPTION`) so two
    writers queue on the database lock instead of failing half-way; reads start a plain
    ``BEGIN`` and see one consistent snapshot.
    """
    try:
        parsed = sa.make_url(url)
    except ArgumentError as exc:
        raise InputError(f"not a database URL: {url!r}", field="db") from exc
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise InputError(
            f"unsupported database {parsed.get_backend_name()!r} (use sqlite or postgresql)",
            field="db",
        )
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    in_memory = parsed.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        kwargs["poolclass"] = StaticPool
    engine = sa.create_engine(parsed, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # first: WAL switch waits
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")  # redacted personal data is zeroed on disk
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def scratch_schema(url: str, *, prefix: str) -> Iterator[str]:
    """A URL of PostgreSQL server ``url`` whose search_path is a new, empty schema, dropped with
    everything in it afterwards: a log to try out (tests, benchmarks) beside the real one."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

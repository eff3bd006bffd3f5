"""Who may write to a log: one writer process per database, enforced by the database.

PostgreSQL: the leader holds a session-level advisory lock on a connection of its own; when the
process dies (even by ``kill -9``) the server drops the connection and the lock with it, and a
standby that keeps trying takes over. The leader's address is kept in ``log_leader`` for
standbys to point clients at. SQLite has no server to notice a dead holder, so a second
``planner serve`` on the same file is refused at start (an exclusive ``flock`` on a lock file
beside the database, released by the kernel when the process dies).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from planner.errors import ConflictError
from planner.log.schema import UTCDateTime

LEADER_LOCK_KEY = 0x706C616E6C6561  # "planlea": the write lease of the log in this database

_metadata = sa.MetaData()
leader_table = sa.Table(
    "log_leader",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("url", sa.String(500), nullable=True),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("since", UTCDateTime, nullable=False),
)


class WriterLease:
    """The right to write to the log at ``url``; ``try_acquire`` until it returns True."""

    def __init__(self, url: str, *, advertise: str | None = None) -> None:
        self._url = sa.make_url(url)
        self._advertise = advertise
        self._postgres = self._url.get_backend_name() == "postgresql"
        self._engine = sa.create_engine(self._url, poolclass=sa.pool.NullPool)
        self._conn: Connection | None = None
        self._file: IO[str] | None = None
        self.held = False

    @property
    def postgres(self) -> bool:
        """Whether standbys can follow and take over (PostgreSQL) or not (SQLite)."""
        return self._postgres

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; SQLite: ``ConflictError`` if another process does."""
        if self.held:
            return True
        if not self._postgres:
            self._lock_sqlite_file()
            self.held = True
            return True
        try:
            conn = self._conn or self._engine.connect()
            self._conn = conn
            got = bool(
                conn.execute(sa.select(sa.func.pg_try_advisory_lock(LEADER_LOCK_KEY))).scalar()
            )
            conn.commit()
        except sa.exc.DBAPIError:
            self._drop_connection()
            return False
        if got:
            self.held = True
            self._announce()
        return got

    def still_held(self) -> bool:
        """Whether the lease is still ours (PostgreSQL: the lock's connection is alive)."""
        if not self.held or not self._postgres:
            return self.held
        assert self._conn is not None
        try:
            self._conn.execute(sa.text("SELECT 1"))
            self._conn.commit()
        except sa.exc.DBAPIError:
            self._drop_connection()
            self.held = False
        return self.held

    def leader(self) -> str | None:
        """The address the current leader announced (PostgreSQL), if any."""
        if not self._postgres:
            return None
        try:
            with self._engine.connect() as conn:
                if not sa.inspect(conn).has_table(leader_table.name):
                    return None
                return conn.execute(sa.select(leader_table.c.url)).scalar()
        except sa.exc.DBAPIError:
            return None

    def release(self) -> None:
        self._drop_connection()
        if self._file is not None:
            self._file.close()
            self._file = None
        self.held = False
        self._engine.dispose()

    def _announce(self) -> None:
        with self._engine.begin() as conn:
            _metadata.create_all(conn)
            conn.execute(leader_table.delete())
            conn.execute(
                leader_table.insert().values(
                    id=1, url=self._advertise, pid=os.getpid(), since=datetime.now(UTC)
                )
            )

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sa.exc.DBAPIError):
                self._conn.close()
            self._conn = None

    def _lock_sqlite_file(self) -> None:
        database = self._url.database
        if database in (None, "", ":memory:"):
            return
        path = Path(f"{database}.writer.lock")
        handle = path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConflictError(
                f"another planner serve ({holder}) already writes to {database}; SQLite allows "
                "one writer process (use PostgreSQL for standbys)",
                field="db",
            ) from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._file = handle

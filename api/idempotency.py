"""Idempotency keys: a retried write returns the first response instead of acting twice.

Stored in the log's database (table ``api_idempotency``), per API key, with a fingerprint of
the request (method, path, body) so that reusing a key for a different request is refused
(422) rather than silently answered with an unrelated response. Only successful writes are
stored: a refused write changed nothing, so retrying it is already safe. A response is stored
in the same transaction as the log entries of the write (``save`` takes that transaction's
connection), so after a crash a key is recorded exactly when its effects are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from planner.errors import InputError
from planner.log.schema import UTCDateTime

MAX_KEY_LEN = 200

_metadata = sa.MetaData()

idempotency_table = sa.Table(
    "api_idempotency",
    _metadata,
    sa.Column("owner", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(MAX_KEY_LEN), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first response to a request, replayed for every retry with the same key."""

    status: int
    body: str


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    """SHA-256 of what makes two requests the same request."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    """A usable Idempotency-Key header value, or an InputError naming the header."""
    if not key or len(key) > MAX_KEY_LEN or not key.isprintable():
        raise InputError(
            f"must be 1 to {MAX_KEY_LEN} printable characters", field="Idempotency-Key"
        )
    return key


class IdempotencyStore:
    """Responses of writes sent with an ``Idempotency-Key``, per API key."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        _metadata.create_all(engine)

    def lookup(self, *, owner: str, key: str, request_fingerprint: str) -> StoredResponse | None:
        """The stored response for ``key``, None if new; InputError if used for another request."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(idempotency_table).where(
                    idempotency_table.c.owner == owner, idempotency_table.c.key == key
                )
            ).first()
        if row is None:
            return None
        if row.fingerprint != request_fingerprint:
            raise InputError(
                "this key was already used for a different request", field="Idempotency-Key"
            )
        return StoredResponse(status=int(row.status), body=str(row.body))

    def save(
        self,
        conn: Connection,
        *,
        owner: str,
        key: str,
        request_fingerprint: str,
        response: StoredResponse,
    ) -> None:
        """Remember the first response inside the write's own transaction ``conn``; a
        concurrent duplicate makes that transaction fail (``IntegrityError``), and the caller
        answers with the earlier response."""
        conn.execute(
            idempotency_table.insert().values(
                owner=owner,
                key=key,
                fingerprint=request_fingerprint,
                status=response.status,
                body=response.body,
                created_at=datetime.now(UTC),
            )
        )

"""Outbound webhook registrations and their delivery log, beside the API keys.

A registration belongs to the API key that made it (by its prefix): a key sees and deletes
only its own. The shared secret is kept so payloads can be signed (HMAC-SHA256); it is shown
once at registration, like a key. Every delivery attempt (status code or error) is a row of
``webhook_deliveries``, so an integrator can see what was sent, when, and what came back.
Each registration has a persisted cursor (``webhook_cursors``): the log seq up to which every
entry has been delivered or given up on, so a restarted server goes on from there instead of
from the log head (entries written while it was down are pushed too).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from planner.errors import InputError, NotFoundError
from planner.log.api_keys import keys_table
from planner.log.schema import WRITE_OPTION, UTCDateTime

MAX_URL_LEN = 2000
MAX_KINDS = 50
OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
"""A decimal IPv4 octet without leading zeros (``010`` would be read as octal)."""
HOST_PATTERN = (
    rf"({OCTET}(\.{OCTET}){{3}}|([A-Za-z0-9_-]{{1,63}}\.)*[A-Za-z][A-Za-z0-9_-]{{0,62}}\.?)"
)
"""A dotted-quad IPv4 address, or a host name whose last label starts with a letter (so no
numeric shorthand such as ``2130706433`` or ``127.1`` that resolvers read as an address)."""
URL_PATTERN = rf"^https?://{HOST_PATTERN}(:[0-9]{{1,5}})?([/?#][\x21-\x7e]*)?$"
"""http(s), a host name or IPv4 address (no user info, no IPv6 literal), printable ASCII."""
SECRET_PATTERN = r"^[\x21-\x7e]{16,200}$"

_metadata = sa.MetaData()

webhooks_table = sa.Table(
    "webhooks",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key_prefix", sa.String(8), nullable=False, index=True),
    sa.Column("url", sa.String(MAX_URL_LEN), nullable=False),
    sa.Column("kinds", sa.Text, nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("deleted_at", UTCDateTime, nullable=True),
)

deliveries_table = sa.Table(
    "webhook_deliveries",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.Integer, nullable=False, index=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("attempted_at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.String(300), nullable=True),
    sa.Column("delivered", sa.Boolean, nullable=False),
)


cursors_table = sa.Table(
    "webhook_cursors",
    _metadata,
    sa.Column("webhook_id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)
"""Per registration: every entry up to ``seq`` is done (delivered, or its attempts spent)."""

_LIVE_KEYS = sa.select(keys_table.c.prefix).where(keys_table.c.revoked_at.is_(None))


@dataclass(frozen=True, slots=True)
class Webhook:
    """A live registration; ``kinds`` empty means every entry kind."""

    id: int
    key_prefix: str
    url: str
    kinds: tuple[str, ...]
    secret: str
    created_at: datetime

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver one log entry to one webhook."""

    id: int
    webhook_id: int
    seq: int
    kind: str
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    delivered: bool


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, or an InputError naming ``url``."""
    if len(url) > MAX_URL_LEN or not re.match(URL_PATTERN, url) or not urlsplit(url).hostname:
        raise InputError(
            f"must be an absolute http or https URL (host name or IPv4) of at most "
            f"{MAX_URL_LEN} printable ASCII characters",
            field="url",
        )
    return url


class WebhookStore:
    """Registrations and delivery attempts in the log database, beside ``api_keys``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.changes = 0
        """Registrations created or deleted through this store (readers may cache until it
        moves)."""
        _metadata.create_all(engine)

    def create(
        self,
        *,
        key_prefix: str,
        url: str,
        kinds: tuple[str, ...],
        secret: str | None,
        after_seq: int = 0,
    ) -> Webhook:
        """Register ``url`` for ``key_prefix``; a secret is generated when none is given.
        Deliveries start with the first entry after ``after_seq`` (the log head at
        registration)."""
        check_url(url)
        if len(kinds) > MAX_KINDS:
            raise InputError(f"at most {MAX_KINDS} kinds", field="kinds")
        secret = secret if secret is not None else secrets.token_urlsafe(32)
        if not re.match(SECRET_PATTERN, secret):
            raise InputError("must be 16 to 200 printable ASCII characters", field="secret")
        now = datetime.now(UTC)
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            row_id = conn.execute(
                webhooks_table.insert().values(
                    key_prefix=key_prefix,
                    url=url,
                    kinds=" ".join(kinds),
                    secret=secret,
                    created_at=now,
                )
            ).inserted_primary_key
            assert row_id is not None
            conn.execute(cursors_table.insert().values(webhook_id=int(row_id[0]), seq=after_seq))
        self.changes += 1
        return Webhook(int(row_id[0]), key_prefix, url, kinds, secret, now)

    def live(self, *, key_prefix: str | None = None) -> list[Webhook]:
        """Live registrations of live keys, oldest first (of one key, or all): a revoked key's
        webhooks stop with it."""
        query = sa.select(webhooks_table).where(
            webhooks_table.c.deleted_at.is_(None), webhooks_table.c.key_prefix.in_(_LIVE_KEYS)
        )
        if key_prefix is not None:
            query = query.where(webhooks_table.c.key_prefix == key_prefix)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(webhooks_table.c.id)).all()
        return [_to_webhook(row) for row in rows]

    def get(self, webhook_id: int, *, key_prefix: str) -> Webhook:
        """The key's live registration, or NotFoundError (another key's is not found either)."""
        for hook in self.live(key_prefix=key_prefix):
            if hook.id == webhook_id:
                return hook
        raise NotFoundError(f"no webhook {webhook_id}")

    def delete(self, webhook_id: int, *, key_prefix: str) -> None:
        """Stop deliveries to the registration (its delivery log stays readable)."""
        self.get(webhook_id, key_prefix=key_prefix)
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            conn.execute(
                webhooks_table.update()
                .where(webhooks_table.c.id == webhook_id)
                .values(deleted_at=datetime.now(UTC))
            )
        self.changes += 1

    def is_live(self, webhook_id: int) -> bool:
        """Not deleted, and its key not revoked (checked before every attempt)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(webhooks_table.c.id).where(
                    webhooks_table.c.id == webhook_id,
                    webhooks_table.c.deleted_at.is_(None),
                    webhooks_table.c.key_prefix.in_(_LIVE_KEYS),
                )
            ).first()
        return row is not None

    def cursors(self) -> dict[int, int]:
        """Every registration's cursor (see ``cursors_table``)."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(cursors_table.c.webhook_id, cursors_table.c.seq)).all()
        return {int(r.webhook_id): int(r.seq) for r in rows}

    def advance(self, webhook_id: int, seq: int) -> None:
        """Move a registration's cursor forward to ``seq`` (never back); a registration from
        before cursors existed gets one."""
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            current = conn.execute(
                sa.select(cursors_table.c.seq).where(cursors_table.c.webhook_id == webhook_id)
            ).scalar()
            if current is None:
                conn.execute(cursors_table.insert().values(webhook_id=webhook_id, seq=seq))
            elif current < seq:
                conn.execute(
                    cursors_table.update()
                    .where(cursors_table.c.webhook_id == webhook_id)
                    .values(seq=seq)
                )

    def record(
        self,
        webhook_id: int,
        *,
        seq: int,
        kind: str,
        attempt: int,
        status_code: int | None,
        error: str | None,
        delivered: bool,
    ) -> None:
        """Log one delivery attempt."""
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            conn.execute(
                deliveries_table.insert().values(
                    webhook_id=webhook_id,
                    seq=seq,
                    kind=kind,
                    attempt=attempt,
                    attempted_at=datetime.now(UTC),
                    status_code=status_code,
                    error=None if error is None else error[:300],
                    delivered=delivered,
                )
            )

    def deliveries(self, webhook_id: int, *, limit: int = 100) -> list[Delivery]:
        """The newest ``limit`` attempts for a registration, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(deliveries_table)
                .where(deliveries_table.c.webhook_id == webhook_id)
                .order_by(deliveries_table.c.id.desc())
                .limit(limit)
            ).all()
        return [
            Delivery(
                id=r.id,
                webhook_id=r.webhook_id,
                seq=r.seq,
                kind=r.kind,
                attempt=r.attempt,
                attempted_at=r.attempted_at,
                status_code=r.status_code,
                error=r.error,
                delivered=r.delivered,
            )
            for r in reversed(rows)
        ]


def _to_webhook(row: sa.Row[tuple[object, ...]]) -> Webhook:
    kinds = tuple(k for k in str(row.kinds).split(" ") if k)
    return Webhook(row.id, row.key_prefix, row.url, kinds, row.secret, row.created_at)

"""API keys: who may call the planner, in which role; stored hashed beside the incident log.

A key is ``dpk_<prefix>_<secret>``: the 8-hex-digit prefix is stored in clear so a key can be
found and named in audit records, the whole key only as SHA-256 (the secret is 32 random
bytes, so a plain hash is enough; there is nothing to brute-force). The key is printed once at
creation and cannot be recovered afterwards. Hashes are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from planner.errors import InputError
from planner.log.schema import WRITE_OPTION, UTCDateTime, create_log_engine


class Role(StrEnum):
    """What a key may do; each endpoint lists the roles it accepts."""

    DISPATCHER = "dispatcher"
    """Takes contacts, opens and handles incidents, accepts or overrides recommendations."""
    SUPERVISOR = "supervisor"
    """Everything a dispatcher does, plus escalation decisions and audit reads."""
    PLANNER = "planner"
    """Stateless solves and read-only operational views; never personal data."""
    AUDITOR = "auditor"
    """Reads the log, verifies it and may read personal data (every read is logged)."""
    INTEGRATOR = "integrator"
    """Machines: telephony, AVL feeds, partner agencies (contacts, unit positions, exports)."""


PERSONAL_DATA_ROLES = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.AUDITOR})
"""Roles allowed to see caller details and free text; every such read is logged."""

KEY_PREFIX = "dpk"
MAX_NAME_LEN = 100
"""Short enough that ``role:name`` fits an event's 120-character actor."""
VERIFIED_FOR_S = 1.0
"""How long a server trusts a key the database confirmed (:meth:`KeyStore.recent`)."""
_KEY_PATTERN = re.compile(r"^dpk_([0-9a-f]{8})_([A-Za-z0-9_-]{20,})$")

_metadata = sa.MetaData()

keys_table = sa.Table(
    "api_keys",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prefix", sa.String(8), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    id: int
    prefix: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def actor(self) -> str:
        """How this key is named in events and the incident log: ``role:name``."""
        return f"{self.role.value}:{self.name}"


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key and its secret text, which is shown once and then only its hash is kept."""

    key: ApiKey
    token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_role(value: str) -> Role:
    """The role named ``value``, or an InputError listing the valid ones."""
    try:
        return Role(value)
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise InputError(f"unknown role {value!r} (use one of: {valid})", field="role") from None


class KeyStore:
    """API keys in the same database as the incident log (table ``api_keys``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        _metadata.create_all(engine)
        self._verified: dict[str, tuple[ApiKey, float]] = {}
        """Token hash → the key and when the database last confirmed it (see ``recent``)."""
        self._verified_lock = threading.Lock()
        self._revocations = 0  # a check that began before a revocation is not remembered

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction (SQLite takes the write lock at BEGIN, as the log does)."""
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    @classmethod
    def from_url(cls, url: str) -> KeyStore:
        """A key store on the database at ``url`` (SQLite or PostgreSQL)."""
        return cls(create_log_engine(url))

    def create(self, *, name: str, role: Role | str) -> CreatedKey:
        """Make a new key; the returned token is the only time its secret exists in clear."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_LEN or not name.isprintable():
            raise InputError(f"must be 1 to {MAX_NAME_LEN} printable characters", field="name")
        role = parse_role(role) if isinstance(role, str) else role
        now = datetime.now(UTC)
        with self._writing() as conn:
            while True:
                prefix = secrets.token_hex(4)
                taken = conn.execute(
                    sa.select(keys_table.c.id).where(keys_table.c.prefix == prefix)
                ).first()
                if taken is None:
                    break
            token = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
            key_id = conn.execute(
                keys_table.insert().values(
                    prefix=prefix, hash=_hash(token), name=name, role=role.value, created_at=now
                )
            ).inserted_primary_key
        assert key_id is not None
        key = ApiKey(id=int(key_id[0]), prefix=prefix, name=name, role=role, created_at=now)
        return CreatedKey(key=key, token=token)

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key matching ``token``, or None (unknown, malformed or revoked), as the
        database says now."""
        match = _KEY_PATTERN.match(token)
        if match is None:
            return None
        checked_at, revocations = time.monotonic(), self._revocations
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(keys_table).where(keys_table.c.prefix == match.group(1))
            ).first()
        digest = _hash(token)
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.hash, digest):
            return None
        key = _to_key(row)
        with self._verified_lock:
            if revocations == self._revocations:
                self._verified[digest] = (key, checked_at)
        return key

    def recent(self, token: str) -> ApiKey | None:
        """The key of ``token`` if :meth:`authenticate` confirmed it less than
        :data:`VERIFIED_FOR_S` ago and this store has not revoked it since; None otherwise
        (then ask :meth:`authenticate`). Lets a busy server skip a database read per request;
        a key revoked by another process (the CLI) is refused within that time."""
        digest = _hash(token)
        with self._verified_lock:
            found = self._verified.get(digest)
        if found is None or time.monotonic() - found[1] >= VERIFIED_FOR_S:
            return None
        return found[0]

    def revoke(self, *, prefix: str) -> ApiKey:
        """Revoke the key with this prefix; it stops working at once."""
        now = datetime.now(UTC)
        with self._writing() as conn:
            done = conn.execute(
                keys_table.update()
                .where(keys_table.c.prefix == prefix, keys_table.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            if done.rowcount != 1:
                raise InputError(f"no live key with prefix {prefix!r}", field="prefix")
            row = conn.execute(sa.select(keys_table).where(keys_table.c.prefix == prefix)).one()
        with self._verified_lock:
            self._revocations += 1
            self._verified = {d: v for d, v in self._verified.items() if v[0].prefix != prefix}
        return _to_key(row)

    def all_keys(self) -> list[ApiKey]:
        """All keys, oldest first (revoked ones included, marked)."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(keys_table).order_by(keys_table.c.id)).all()
        return [_to_key(row) for row in rows]


def _to_key(row: sa.Row[tuple[object, ...]]) -> ApiKey:
    return ApiKey(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )

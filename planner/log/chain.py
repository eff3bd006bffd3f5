"""The incident log's hash chain: canonical JSON and the hashes that make tampering visible.

Pure functions, no database: the log stores what these compute and ``verify`` recomputes it.
Each entry's hash covers its operational fields, the hash of its personal data (not the data
itself) and the previous entry's hash, so editing, deleting or reordering any row breaks the
chain from that row on, while wiping personal data for retention does not.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from planner.errors import InputError

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""

SALT_BYTES = 16


def canonical_json(value: Any, *, field: str) -> str:
    """One fixed text for a JSON value (sorted keys, no spaces, no NaN), or an InputError.

    The log stores exactly this text, so the hash can be recomputed byte for byte on any
    database without depending on how a JSON column normalises numbers or key order.
    """
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        text.encode("utf-8")  # lone surrogates cannot be stored or hashed
    except (TypeError, ValueError) as exc:
        raise InputError(f"not representable as JSON: {exc}", field=field) from exc
    return text


def utc_iso(moment: datetime) -> str:
    """The fixed-width UTC text of a timestamp that the entry hash covers (microseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def new_salt() -> str:
    """A fresh random salt, so equal personal records do not produce equal hashes."""
    return secrets.token_hex(SALT_BYTES)


def salted_personal_hash(personal_json: str, *, salt: str) -> str:
    """SHA-256 of salt and canonical personal JSON; kept after the data is redacted.

    The salt stops anyone from confirming a guess ("was the caller Jane Doe, 0717...?") against
    the hash once the data itself is gone; redaction deletes the salt together with the data.
    """
    return hashlib.sha256(bytes.fromhex(salt) + personal_json.encode("utf-8")).hexdigest()


def entry_hash(
    *,
    seq: int,
    kind: str,
    payload_json: str,
    incident: str | None,
    actor: str | None,
    recorded_at: datetime,
    personal_hash: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical JSON of one entry's chained fields."""
    body = {
        "seq": seq,
        "kind": kind,
        "payload": json.loads(payload_json),
        "incident": incident,
        "actor": actor,
        "recorded_at": utc_iso(recorded_at),
        "personal_hash": personal_hash,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body, field="entry").encode("utf-8")).hexdigest()

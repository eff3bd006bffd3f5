"""Checking the incident log's hash chain row by row, as stored, without trusting any of it.

Used by :meth:`planner.log.incident_log.IncidentLog.verify` inside one read snapshot. Rows are
streamed in seq order, so a log of millions of entries is checked in constant memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Connection, Row

from planner.errors import InputError
from planner.log.chain import GENESIS_HASH, entry_hash, salted_personal_hash
from planner.log.schema import entries_table, head_table, personal_table, signatures_table
from planner.log.signing import Checkpoint, entry_signature_ok

REDACTED_KIND = "personal_data.redacted"

BATCH = 1000
MIN_ANCHOR_HEX = 16
HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of checking the whole chain; ``first_bad_seq`` names the first failing entry."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    signed: int = 0
    """Entries with a valid signature (with a public key)."""
    checkpoints: int = 0
    """Checkpoints matched."""


def verify_chain(
    conn: Connection,
    *,
    anchors: Mapping[int, str] | None = None,
    public_key: Ed25519PublicKey | None = None,
    checkpoints: Sequence[Checkpoint] = (),
) -> VerifyReport:
    """Recompute every hash and link; stop at the first entry that was altered, removed or moved.

    Catches: an edited field (its hash no longer matches), an edit with a recomputed hash (the
    next entry no longer chains to it), a deleted or reordered row (a gap or a broken link),
    rows cut off the end while the head row still names the last seq, and personal data that
    was altered, deleted or wiped without a ``personal_data.redacted`` entry naming it.

    What someone holding the database can still do (recompute every hash from some entry on,
    head row included, or cut rows off the end and move the head back) is caught only with
    something kept outside it: ``public_key`` (every entry from the first signed one on must
    carry a valid Ed25519 signature of its hash, which needs the private key), signed
    ``checkpoints`` (the log must still hold each checkpoint's entry with its hash) and
    ``anchors`` (seq → hash or a prefix of at least 16 hex digits, e.g. a shift's head hash).
    """
    pending = _check_anchors(anchors or {})
    for checkpoint in checkpoints:
        if public_key is not None and not checkpoint.signature_ok(public_key):
            return VerifyReport(
                False,
                0,
                checkpoint.seq,
                f"the checkpoint of seq {checkpoint.seq} is not signed by this public key",
            )
    marks = {cp.seq: cp for cp in checkpoints if cp.seq > 0}
    query = (
        sa.select(
            entries_table,
            personal_table.c.seq.label("p_seq"),
            personal_table.c.salt,
            personal_table.c.data,
            personal_table.c.redacted_at,
            signatures_table.c.signature,
        )
        .select_from(entries_table.outerjoin(personal_table).outerjoin(signatures_table))
        .order_by(entries_table.c.seq)
    )
    head = conn.execute(sa.select(head_table.c.seq, head_table.c.hash)).one()
    head_seq, head_hash = int(head.seq), str(head.hash)
    prev_seq, prev_hash, checked, signed = 0, GENESIS_HASH, 0, 0
    wiped: set[int] = set()  # personal data gone: a redaction entry must name each
    named: set[int] = set()

    def failed(seq: int, reason: str) -> VerifyReport:
        return VerifyReport(False, checked, seq, reason, head_seq, head_hash, signed)

    for row in conn.execution_options(yield_per=BATCH).execute(query):
        seq = int(row.seq)
        problem = check_row(row, expected_seq=prev_seq + 1, prev_hash=prev_hash)
        anchor = pending.pop(seq, None)
        if problem is None and anchor is not None and not str(row.hash).startswith(anchor):
            problem = (
                seq,
                (
                    f"entry {row.seq} does not match the anchor {anchor[:16]}… recorded earlier "
                    "(the chain was rewritten from this entry or before)"
                ),
            )
        mark = marks.pop(seq, None)
        if problem is None and mark is not None and mark.hash != row.hash:
            problem = (seq, f"entry {seq} does not match the signed checkpoint (rewritten)")
        if problem is None and public_key is not None:
            problem = _check_signature(row, public_key, signed=signed)
        if problem is not None:
            return failed(*problem)
        if row.p_seq is not None and row.data is None:
            wiped.add(seq)
        if row.kind == REDACTED_KIND:
            named.update(_redacted_seqs(row.payload))
        signed += public_key is not None and row.signature is not None
        prev_seq, prev_hash, checked = seq, str(row.hash), checked + 1
    if pending:
        missing = min(pending)
        return failed(missing, f"entry {missing} named by an anchor is not in the log")
    if marks:
        missing = min(marks)
        return failed(
            missing,
            f"the log ends at entry {prev_seq}, but a signed checkpoint names entry {missing} "
            "(entries were cut off the end)",
        )
    if public_key is not None and checked and not signed:
        return failed(1, "no entry is signed by this public key")
    if head_seq > prev_seq:
        reason = f"entries {prev_seq + 1}..{head_seq} are missing (the log head is {head_seq})"
        return failed(prev_seq + 1, reason)
    if head_seq < prev_seq or head_hash != prev_hash:
        reason = f"the log head (seq {head_seq}) does not match the last entry {prev_seq}"
        return failed(prev_seq, reason)
    silent = sorted(wiped - named)
    if silent:
        return failed(
            silent[0],
            f"entry {silent[0]}: personal data is missing and no personal_data.redacted entry "
            "names it",
        )
    return VerifyReport(True, checked, None, None, head_seq, head_hash, signed, len(checkpoints))


def _check_signature(
    row: Row[Any], key: Ed25519PublicKey, *, signed: int
) -> tuple[int, str] | None:
    seq = int(row.seq)
    if row.signature is None:
        if signed:
            return seq, f"entry {seq} is not signed (entries before it are): forged or appended"
        return None
    if not entry_signature_ok(key, seq=seq, digest=str(row.hash), signature=str(row.signature)):
        return seq, f"entry {seq}: its signature does not match (forged, edited or re-chained)"
    return None


def _redacted_seqs(payload_json: str) -> set[int]:
    """The entries a ``personal_data.redacted`` entry names (its range, for older entries)."""
    payload = json.loads(payload_json)
    seqs = payload.get("seqs")
    if isinstance(seqs, list):
        return {int(s) for s in seqs if isinstance(s, int)}
    first, last = payload.get("first_seq"), payload.get("last_seq")
    if isinstance(first, int) and isinstance(last, int):
        return set(range(first, last + 1))
    return set()


def _check_anchors(anchors: Mapping[int, str]) -> dict[int, str]:
    checked: dict[int, str] = {}
    for seq, digest in anchors.items():
        text = digest.strip().lower()
        if seq < 1:
            raise InputError("anchor seq must be 1 or more", field="anchor")
        if len(text) < MIN_ANCHOR_HEX or len(text) > 64 or any(c not in HEX for c in text):
            raise InputError(
                f"anchor hash must be {MIN_ANCHOR_HEX}-64 hex digits, got {digest!r}",
                field="anchor",
            )
        checked[seq] = text
    return checked


def check_row(row: Row[Any], *, expected_seq: int, prev_hash: str) -> tuple[int, str] | None:
    """The first thing wrong with one stored row, as (seq to blame, reason), or None."""
    seq = int(row.seq)
    if seq != expected_seq:
        return expected_seq, f"entry {expected_seq} is missing (the next stored entry is {seq})"
    if row.prev_hash != prev_hash:
        return seq, (
            f"entry {seq} does not chain to entry {seq - 1} "
            f"(entry {seq - 1} was rewritten or rows were reordered)"
        )
    try:
        recomputed = entry_hash(
            seq=seq,
            kind=row.kind,
            payload_json=row.payload,
            incident=row.incident,
            actor=row.actor,
            recorded_at=row.recorded_at,
            personal_hash=row.personal_hash,
            prev_hash=row.prev_hash,
        )
    except ValueError:  # the stored payload is no longer valid JSON
        recomputed = None
    if recomputed != row.hash:
        return seq, f"entry {seq} was altered: its content no longer matches its hash"
    return _check_personal(row, seq=seq)


def _check_personal(row: Row[Any], *, seq: int) -> tuple[int, str] | None:
    if row.personal_hash is None:
        if row.p_seq is not None:
            return seq, f"entry {seq} has personal data attached after it was recorded"
        return None
    if row.p_seq is None:
        return seq, f"entry {seq}: its personal data row was deleted"
    if row.data is None:
        if row.redacted_at is None:
            return seq, f"entry {seq}: personal data was removed without a redaction record"
        return None
    if row.salt is None or salted_personal_hash(row.data, salt=row.salt) != row.personal_hash:
        return seq, f"entry {seq}: personal data was altered"
    return None

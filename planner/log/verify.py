"""Checking the incident log's hash chain row by row, as stored, without trusting any of it.

Used by :meth:`planner.log.incident_log.IncidentLog.verify` inside one read snapshot. Rows are
streamed in seq order, so a log of millions of entries is checked in constant memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from planner.errors import InputError
from planner.log.chain import GENESIS_HASH, entry_hash, salted_personal_hash
from planner.log.schema import entries_table, head_table, personal_table

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


def verify_chain(conn: Connection, *, anchors: Mapping[int, str] | None = None) -> VerifyReport:
    """Recompute every hash and link; stop at the first entry that was altered, removed or moved.

    Catches: an edited field (its hash no longer matches), an edit with a recomputed hash (the
    next entry no longer chains to it), a deleted or reordered row (a gap or a broken link),
    rows cut off the end (the head row still names the last seq), and personal data that was
    altered, deleted or wiped without a redaction record.

    A chain rewritten wholesale (every hash recomputed from some entry on, head row included)
    verifies on its own; ``anchors`` (seq → hash or a prefix of at least 16 hex digits, taken
    earlier, e.g. the head hash printed at the end of each shift and kept elsewhere) catch it.
    """
    pending = _check_anchors(anchors or {})
    query = (
        sa.select(
            entries_table,
            personal_table.c.seq.label("p_seq"),
            personal_table.c.salt,
            personal_table.c.data,
            personal_table.c.redacted_at,
        )
        .select_from(entries_table.outerjoin(personal_table))
        .order_by(entries_table.c.seq)
    )
    head = conn.execute(sa.select(head_table.c.seq, head_table.c.hash)).one()
    head_seq, head_hash = int(head.seq), str(head.hash)
    prev_seq, prev_hash, checked = 0, GENESIS_HASH, 0
    for row in conn.execution_options(yield_per=BATCH).execute(query):
        problem = check_row(row, expected_seq=prev_seq + 1, prev_hash=prev_hash)
        anchor = pending.pop(int(row.seq), None)
        if problem is None and anchor is not None and not str(row.hash).startswith(anchor):
            problem = (
                int(row.seq),
                (
                    f"entry {row.seq} does not match the anchor {anchor[:16]}… recorded earlier "
                    "(the chain was rewritten from this entry or before)"
                ),
            )
        if problem is not None:
            bad_seq, reason = problem
            return VerifyReport(False, checked, bad_seq, reason, head_seq, head_hash)
        prev_seq, prev_hash, checked = int(row.seq), str(row.hash), checked + 1
    if pending:
        missing = min(pending)
        reason = f"entry {missing} named by an anchor is not in the log"
        return VerifyReport(False, checked, missing, reason, head_seq, head_hash)
    if head_seq > prev_seq:
        reason = f"entries {prev_seq + 1}..{head_seq} are missing (the log head is {head_seq})"
        return VerifyReport(False, checked, prev_seq + 1, reason, head_seq, head_hash)
    if head_seq < prev_seq or head_hash != prev_hash:
        reason = f"the log head (seq {head_seq}) does not match the last entry {prev_seq}"
        return VerifyReport(False, checked, prev_seq, reason, head_seq, head_hash)
    return VerifyReport(True, checked, None, None, head_seq, head_hash)


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

"""Golden vectors for the incident log: fixed inputs, hashes written down in advance.

The hex values were computed outside the project (``sha256sum`` over the bytes spelled out in
each docstring), so a change to what the chain or the personal hash covers fails here even when
the code agrees with itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.log.chain import (
    GENESIS_HASH,
    canonical_json,
    entry_hash,
    new_salt,
    salted_personal_hash,
    utc_iso,
)
from planner.log.incident_log import PERSONAL_READ_KIND, IncidentLog, NewEntry

PERSONAL = '{"caller":"Jane Doe","phone":"0717 000 001"}'
SALT_A = "00112233445566778899aabbccddeeff"
SALT_B = "ffeeddccbbaa99887766554433221100"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

ENTRY_1 = "2d1073e8d396484b21ac1a13871ee5d37d7b7617b7e2db948391b5e7b09bb554"
"""sha256 of ``{"actor":"dispatcher-7","incident":"INC-1","kind":"note.added","payload":{"n":1,
"text":"note 1"},"personal_hash":null,"prev_hash":"000…000","recorded_at":
"2026-03-01T08:01:00.000000+00:00","seq":1}`` (one line, no spaces)."""
ENTRY_2 = "1e1fb65b1b811e0d14e4e2b271ce60a8e19ff012a0cd2565ebdc96b96200130c"
"""The same for entry 2 (``n`` 2, ``note 2``, 08:02) chained to ``ENTRY_1``."""


def test_personal_hash_golden_vectors() -> None:
    """sha256(bytes.fromhex(salt) + personal JSON); the salt changes the hash, and the unsalted
    hash (90e84b…) is never what is stored."""
    assert (
        salted_personal_hash(PERSONAL, salt=SALT_A)
        == "f0140f4ae37da090be52ce037ed0d938d3518158f9dd58c8861e7e5281431a84"
    )
    assert (
        salted_personal_hash(PERSONAL, salt=SALT_B)
        == "e4f822a44a25ba67a82739dbecaf23995e1c4f8da4c277370337e10ba2bee600"
    )


def test_canonical_json_is_sorted_compact_and_refuses_nan() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "é"]}, field="x") == '{"a":[1.5,"é"],"b":1}'
    with pytest.raises(InputError, match="not representable as JSON") as info:
        canonical_json({"a": float("nan")}, field="payload")
    assert info.value.field == "payload"


def test_entry_hash_golden_vectors() -> None:
    """Two chained entries; a non-UTC timestamp of the same instant hashes identically."""
    first = entry_hash(
        seq=1,
        kind="note.added",
        payload_json='{"n":1,"text":"note 1"}',
        incident="INC-1",
        actor="dispatcher-7",
        recorded_at=T0 + timedelta(minutes=1),
        personal_hash=None,
        prev_hash=GENESIS_HASH,
    )
    assert first == ENTRY_1
    second = entry_hash(
        seq=2,
        kind="note.added",
        payload_json='{"n":2,"text":"note 2"}',
        incident="INC-1",
        actor="dispatcher-7",
        recorded_at=datetime.fromisoformat("2026-03-01T03:02:00-05:00"),
        personal_hash=None,
        prev_hash=ENTRY_1,
    )
    assert second == ENTRY_2


@pytest.fixture
def log(tmp_path: Path) -> Iterator[IncidentLog]:
    with IncidentLog(f"sqlite:///{tmp_path / 'log.sqlite'}", clock=lambda: T0) as opened:
        yield opened


def _note(i: int, *, personal: bool = False) -> NewEntry:
    return NewEntry(
        kind="note.added",
        payload={"n": i, "text": f"note {i}"},
        personal={"caller": "Jane Doe"} if personal else None,
        incident="INC-1",
        actor="dispatcher-7",
        recorded_at=T0 + timedelta(minutes=i),
    )


def test_stored_chain_matches_the_golden_vectors(log: IncidentLog) -> None:
    log.append(_note(1))
    log.append(_note(2))
    assert [(e.prev_hash, e.hash) for e in log.entries()] == [
        (GENESIS_HASH, ENTRY_1),
        (ENTRY_1, ENTRY_2),
    ]
    assert [e.recorded_at for e in log.entries()] == [
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
    ]


def test_every_personal_read_outcome_is_audited(log: IncidentLog) -> None:
    """returned (data there), redacted (wiped by retention), none (never had any)."""
    log.append(_note(1, personal=True))
    log.append(_note(2, personal=True))
    log.append(_note(3))
    assert log.redact_personal(older_than=T0 + timedelta(minutes=2), actor="retention") == 1
    assert log.read_personal(1, reader="auditor", purpose="check") is None
    assert log.read_personal(2, reader="auditor", purpose="check") == {"caller": "Jane Doe"}
    assert log.read_personal(3, reader="auditor", purpose="check") is None
    outcomes = [
        (e.payload["seq"], e.payload["outcome"])
        for e in log.entries()
        if e.kind == PERSONAL_READ_KIND
    ]
    assert outcomes == [(1, "redacted"), (2, "returned"), (3, "none")]


def test_utc_text_does_not_depend_on_the_machine_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hashed timestamp text is UTC even on a machine set to New York time."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        moment = datetime(2026, 3, 1, 8, 1, tzinfo=UTC)
        assert utc_iso(moment) == "2026-03-01T08:01:00.000000+00:00"
        assert utc_iso(moment.astimezone()) == "2026-03-01T08:01:00.000000+00:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_salt_is_16_fresh_random_bytes() -> None:
    """128 bits, as hex (32 characters); two salts never repeat in practice."""
    salts = {new_salt() for _ in range(20)}
    assert len(salts) == 20
    assert all(len(bytes.fromhex(s)) == 16 for s in salts)

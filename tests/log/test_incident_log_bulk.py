"""``IncidentLog.append_many``: a bulk import chains exactly like one append per entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from planner.log.incident_log import IncidentLog, NewEntry

T0 = datetime(2026, 3, 14, 12, tzinfo=UTC)


def _entries() -> list[NewEntry]:
    return [
        NewEntry(
            kind="incident_opened",
            payload={"incident_id": f"I-{i}", "code": "FALL"},
            personal={"address": f"{i} Main St"} if i % 2 else None,
            incident=f"I-{i}",
            actor="system:import",
            recorded_at=T0 + timedelta(seconds=i),
        )
        for i in range(5)
    ]


def test_append_many_gives_the_same_chain_as_single_appends(tmp_path: Path) -> None:
    with IncidentLog(f"sqlite:///{tmp_path / 'one.sqlite'}") as one:
        for entry in _entries():
            one.append(entry)
        singles = one.entries()
    with IncidentLog(f"sqlite:///{tmp_path / 'bulk.sqlite'}") as bulk:
        assert bulk.append_many(_entries()) == 5
        assert bulk.append_many([]) == 5
        report = bulk.verify()
        bulked = bulk.entries()
        assert bulk.read_personal(2, reader="test", purpose="test") == {"address": "1 Main St"}
    assert report.ok and report.checked == 5
    # Personal hashes are salted, so compare everything else and check each chain link.
    for a, b in zip(singles, bulked, strict=True):
        assert (a.seq, a.kind, a.payload, a.incident, a.recorded_at) == (
            b.seq, b.kind, b.payload, b.incident, b.recorded_at,
        )  # fmt: skip
    assert [e.prev_hash for e in bulked[1:]] == [e.hash for e in bulked[:-1]]


def test_append_many_signs_like_append(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    with IncidentLog(f"sqlite:///{tmp_path / 'signed.sqlite'}", signing_key=key) as log:
        log.append_many(_entries())
        assert log.verify(public_key=key.public_key()).ok
        other = Ed25519PrivateKey.generate().public_key()
        assert not log.verify(public_key=other).ok

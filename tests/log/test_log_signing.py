"""The signed, anchored log: each attack by someone holding the database (truncate and rewrite
the head, forge an append, edit and re-chain, bypass the triggers, wipe personal data silently)
is caught by ``verify`` with the public key and a signed checkpoint, on SQLite and PostgreSQL;
redaction goes through a named entry and really erases the data from the database files."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from planner.log.chain import entry_hash
from planner.log.incident_log import PERSONAL_REDACTED_KIND, IncidentLog, NewEntry
from planner.log.signing import (
    keygen,
    load_public_key,
    load_signing_key,
    make_checkpoint,
    read_checkpoint,
    sign_entry,
)
from planner.settings import PROJECT_ROOT

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ATTACKER_KEY = Ed25519PrivateKey.generate()

_GUARDS = {
    "log_entries": ("log_entries_no_update", "log_entries_no_delete", "log_entries_no_change"),
    "log_personal": ("log_personal_redact_only", "log_personal_no_delete"),
    "log_head": ("log_head_no_delete", "log_head_forward_only"),
    "log_signatures": (
        "log_signatures_no_update",
        "log_signatures_no_delete",
        "log_signatures_no_change",
    ),
}


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return keygen(tmp_path / "keys")


def _entry(i: int, *, personal: bool = False) -> NewEntry:
    return NewEntry(
        kind="note.added",
        payload={"n": i},
        personal={"caller": f"Caller Zebedee {i}"} if personal else None,
        incident="INC-1",
        actor="dispatcher-7",
        recorded_at=T0 + timedelta(minutes=i),
    )


def _signed_log(url: str, keys: tuple[Path, Path], n: int = 5) -> IncidentLog:
    log = IncidentLog(url, signing_key=load_signing_key(keys[0]))
    for i in range(1, n + 1):
        log.append(_entry(i, personal=i == 2))
    return log


def _raw(url: str, *statements: str, replica: bool = False, **params: Any) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if replica:
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            conn.execute(sa.text(statement), params)
    engine.dispose()


def _drop_guards(url: str) -> None:
    postgres = url.startswith("postgresql")
    for table, triggers in _GUARDS.items():
        for trigger in triggers:
            on = f" ON {table}" if postgres else ""
            _raw(url, f"DROP TRIGGER IF EXISTS {trigger}{on}")


def _rows(url: str) -> list[Any]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [
            SimpleNamespace(**row._mapping)
            for row in conn.execute(sa.text("SELECT * FROM log_entries ORDER BY seq"))
        ]
    engine.dispose()
    return rows


def _rechain(url: str, rows: list[Any], start: int, *, replica: bool = False) -> None:
    """Recompute hashes from index ``start`` on with the project's own hash function."""
    prev = rows[start - 1].hash if start else "0" * 64
    statements, params = [], {}
    for i, row in enumerate(rows[start:], start=start):
        digest = entry_hash(
            seq=row.seq,
            kind=row.kind,
            payload_json=row.payload,
            incident=row.incident,
            actor=row.actor,
            recorded_at=_utc(row.recorded_at),
            personal_hash=row.personal_hash,
            prev_hash=prev,
        )
        statements.append(
            f"UPDATE log_entries SET payload = :p{i}, prev_hash = :v{i}, hash = :h{i} "
            f"WHERE seq = {row.seq}"
        )
        params.update({f"p{i}": row.payload, f"v{i}": prev, f"h{i}": digest})
        prev = digest
    statements.append(f"UPDATE log_head SET hash = '{prev}'")
    _raw(url, *statements, replica=replica, **params)


def _utc(value: datetime | str) -> datetime:
    """A stored timestamp as aware UTC (SQLite returns text, PostgreSQL an aware datetime)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _verify(log: IncidentLog, keys: tuple[Path, Path], *checkpoint_paths: Path) -> Any:
    return log.verify(
        public_key=load_public_key(keys[1]),
        checkpoints=[read_checkpoint(p) for p in checkpoint_paths],
    )


def _checkpoint(log: IncidentLog, path: Path) -> Path:
    path.write_text(json.dumps(log.checkpoint().to_json()))
    return path


def test_keygen_writes_a_private_key_only_its_owner_can_read(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert private.name == "log-signing.key" and public.name == "log-signing.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    with pytest.raises(Exception, match="not overwriting"):
        keygen(private.parent)


def test_a_clean_signed_log_verifies(url: str, keys: tuple[Path, Path], tmp_path: Path) -> None:
    with _signed_log(url, keys) as log:
        mark = _checkpoint(log, tmp_path / "cp.json")
        log.append(_entry(6))
        report = _verify(log, keys, mark)
    assert report.ok and report.signed == 6 and report.checkpoints == 1


def test_truncate_and_rewrite_head_is_caught_by_a_checkpoint(
    url: str, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    with _signed_log(url, keys) as log:
        mark = _checkpoint(log, tmp_path / "cp.json")
        rows = _rows(url)
        _drop_guards(url)
        _raw(
            url,
            "DELETE FROM log_signatures WHERE seq > 3",
            "DELETE FROM log_entries WHERE seq > 3",
            f"UPDATE log_head SET seq = 3, hash = '{rows[2].hash}'",
        )
        assert _verify(log, keys).ok  # consistent on its own: only an outside anchor helps
        report = _verify(log, keys, mark)
    assert not report.ok and report.first_bad_seq == 5 and "cut off" in (report.reason or "")


def test_a_forged_append_is_caught_by_the_public_key(
    url: str, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    with _signed_log(url, keys) as log:
        mark = _checkpoint(log, tmp_path / "cp.json")
        head = _rows(url)[-1]
        payload = json.dumps({"n": 99}, separators=(",", ":"))
        forged_at = T0 + timedelta(hours=1)
        digest = entry_hash(
            seq=6,
            kind="note.added",
            payload_json=payload,
            incident="INC-1",
            actor="dispatcher-7",
            recorded_at=forged_at,
            personal_hash=None,
            prev_hash=head.hash,
        )
        _raw(
            url,
            "INSERT INTO log_entries (seq, kind, payload, incident, actor, recorded_at, "
            "personal_hash, prev_hash, hash) VALUES (6, 'note.added', :p, 'INC-1', "
            "'dispatcher-7', :at, NULL, :prev, :h)",
            f"UPDATE log_head SET seq = 6, hash = '{digest}'",
            p=payload,
            at=forged_at.replace(tzinfo=None),
            prev=head.hash,
            h=digest,
        )
        assert log.verify().ok  # the chain alone cannot tell
        unsigned = _verify(log, keys, mark)
        assert not unsigned.ok and unsigned.first_bad_seq == 6
        assert "not signed" in (unsigned.reason or "")
        # signing it with another key does not help
        signature = sign_entry(ATTACKER_KEY, seq=6, digest=digest)
        _raw(url, f"INSERT INTO log_signatures VALUES (6, 'attacker', '{signature}')")
        report = _verify(log, keys, mark)
    assert not report.ok and report.first_bad_seq == 6
    assert "signature does not match" in (report.reason or "")


@pytest.mark.parametrize("bypass", ["drop_triggers", "replica_role"])
def test_edit_and_rechain_is_caught_by_the_public_key(
    url: str, keys: tuple[Path, Path], tmp_path: Path, bypass: str
) -> None:
    postgres = url.startswith("postgresql")
    if bypass == "replica_role" and not postgres:
        pytest.skip("session_replication_role is PostgreSQL's")
    with _signed_log(url, keys) as log:
        mark = _checkpoint(log, tmp_path / "cp.json")
        rows = _rows(url)
        rows[2].payload = '{"n":333}'
        edited = rows
        if bypass == "drop_triggers":
            _drop_guards(url)
        else:  # every trigger is skipped, nothing dropped
            with pytest.raises(sa.exc.DBAPIError):
                _raw(url, "UPDATE log_entries SET payload = '{}' WHERE seq = 3")
        _rechain(url, edited, 2, replica=bypass == "replica_role")
        assert log.verify().ok  # the chain alone cannot tell
        report = _verify(log, keys)
        with_mark = _verify(log, keys, mark)
    assert not report.ok and report.first_bad_seq == 3
    assert "signature does not match" in (report.reason or "")
    assert not with_mark.ok and with_mark.first_bad_seq == 3


def test_a_checkpoint_signed_by_another_key_is_refused(
    url: str, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    with _signed_log(url, keys) as log:
        fake = make_checkpoint(ATTACKER_KEY, seq=5, digest=_rows(url)[-1].hash, at=T0)
        path = tmp_path / "fake.json"
        path.write_text(json.dumps(fake.to_json()))
        report = _verify(log, keys, path)
    assert not report.ok and "not signed by this public key" in (report.reason or "")


def test_personal_data_wiped_without_a_redaction_entry_is_flagged(
    url: str, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    with _signed_log(url, keys) as log:
        mark = _checkpoint(log, tmp_path / "cp.json")
        # the one update the triggers allow, done behind the log's back
        _raw(
            url,
            "UPDATE log_personal SET data = NULL, salt = NULL, redacted_at = :at, "
            "redacted_by = 'someone' WHERE seq = 2",
            at=T0.replace(tzinfo=None),
        )
        report = _verify(log, keys, mark)
    assert not report.ok and report.first_bad_seq == 2
    assert "no personal_data.redacted entry" in (report.reason or "")


def test_redaction_is_a_named_entry_and_erases_the_data_from_disk(
    url: str, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    with _signed_log(url, keys) as log:
        for i in range(6, 40):  # enough personal rows to spread over pages and the WAL
            log.append(_entry(i, personal=True))
        count = log.redact_personal(
            older_than=T0 + timedelta(days=1), actor="dpo", reason="retention period"
        )
        assert count == 35
        redaction = log.entries()[-1]
        assert redaction.kind == PERSONAL_REDACTED_KIND and redaction.actor == "dpo"
        assert redaction.payload["seqs"] == [2, *range(6, 40)]
        assert redaction.payload["reason"] == "retention period"
        assert _verify(log, keys).ok
        if url.startswith("sqlite"):
            database = Path(sa.make_url(url).database or "")
            files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
            assert all(b"Zebedee" not in p.read_bytes() for p in files), files
        else:
            assert b"Zebedee" not in _postgres_heap(url)


def _postgres_heap(url: str) -> bytes:
    """Every page of ``log_personal`` as stored, dead row versions included (pageinspect)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pageinspect SCHEMA public"))
        pages = conn.execute(
            sa.text("SELECT pg_relation_size('log_personal') / current_setting('block_size')::int")
        ).scalar_one()
        raw = b"".join(
            bytes(
                conn.execute(
                    sa.text(f"SELECT public.get_raw_page('log_personal', {n})")
                ).scalar_one()
            )
            for n in range(int(pages))
        )
    engine.dispose()
    return raw


@pytest.mark.postgres
def test_postgres_heap_holds_updated_rows_until_vacuum(postgres_url: str) -> None:
    """Why redaction vacuums: the heap keeps the old row version after the UPDATE."""
    with IncidentLog(postgres_url) as log:
        log.append(_entry(1, personal=True))
        _raw(
            postgres_url,
            "UPDATE log_personal SET data = NULL, salt = NULL, redacted_at = now()",
        )
        assert b"Zebedee" in _postgres_heap(postgres_url)
        log.erase_freed()
        assert b"Zebedee" not in _postgres_heap(postgres_url)


def _planner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )


def test_cli_keygen_checkpoint_and_verify_exit_codes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'log.sqlite'}"
    made = _planner("log", "keygen", "-o", str(tmp_path / "k"))
    assert made.returncode == 0, made.stderr
    private, public = tmp_path / "k" / "log-signing.key", tmp_path / "k" / "log-signing.pub"
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "type": "unit_registered",
                "unit_id": "M1",
                "capabilities": ["ALS"],
                "home": {"lat": 40.27, "lon": -76.88},
            }
        )
        + "\n"
    )
    applied = _planner("events", "apply", "--db", db, "--signing-key", str(private), str(events))
    assert applied.returncode == 0, applied.stderr
    cp = tmp_path / "cp.json"
    written = _planner(
        "log", "checkpoint", "--db", db, "--signing-key", str(private), "-o", str(cp)
    )
    assert written.returncode == 0, written.stderr
    ok = _planner("log", "verify", "--db", db, "--public-key", str(public), "--checkpoint", str(cp))
    assert ok.returncode == 0, ok.stderr
    _drop_guards(db)
    _raw(db, "DELETE FROM log_signatures WHERE seq = (SELECT max(seq) FROM log_signatures)")
    bad = _planner(
        "log", "verify", "--db", db, "--public-key", str(public), "--checkpoint", str(cp)
    )
    assert bad.returncode == 1 and "TAMPERED" in bad.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00\xff not json")
    refused = _planner("log", "verify", "--db", db, "--checkpoint", str(garbage))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1

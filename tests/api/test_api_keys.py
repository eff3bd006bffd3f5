"""API keys: hashed at rest, shown once, roles, revocation; ``planner keys create``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import InputError
from planner.log import api_keys
from planner.log.api_keys import KeyStore, Role, keys_table


def test_keys_are_stored_hashed_and_authenticate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    store = KeyStore.from_url(url)
    created = store.create(name="alice", role=Role.DISPATCHER)
    assert store.authenticate(created.token) == created.key
    assert created.key.actor == "dispatcher:alice"
    with sa.create_engine(url).connect() as conn:
        row = conn.execute(sa.select(keys_table)).one()
    assert created.token not in str(tuple(row))
    assert row.hash == hashlib.sha256(created.token.encode()).hexdigest()
    assert (
        store.authenticate(created.token[:-1] + ("A" if created.token[-1] != "A" else "B")) is None
    )
    assert store.authenticate("") is None
    store.revoke(prefix=created.key.prefix)
    assert store.authenticate(created.token) is None
    with pytest.raises(InputError, match="no live key with prefix") as info:
        store.revoke(prefix=created.key.prefix)
    assert info.value.field == "prefix"


def test_a_confirmed_key_is_trusted_for_a_second_unless_revoked_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``recent`` spares a busy server a database read per request: it knows only keys the
    database confirmed less than ``VERIFIED_FOR_S`` ago; revoking through this store forgets
    at once, revoking from another process (the CLI) takes effect within that time."""
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    server, cli = KeyStore.from_url(url), KeyStore.from_url(url)
    alice = server.create(name="alice", role=Role.DISPATCHER)
    bob = server.create(name="bob", role=Role.INTEGRATOR)
    assert server.recent(alice.token) is None  # never confirmed
    clock = [1000.0]
    monkeypatch.setattr(api_keys.time, "monotonic", lambda: clock[0])
    assert server.authenticate(alice.token) == alice.key
    assert server.authenticate(bob.token) == bob.key
    assert server.recent(alice.token) == alice.key
    assert server.recent(alice.token[:-1] + ("A" if alice.token[-1] != "A" else "B")) is None
    cli.revoke(prefix=alice.key.prefix)
    clock[0] += api_keys.VERIFIED_FOR_S - 0.01
    assert server.recent(alice.token) == alice.key  # another process's revocation: not yet
    clock[0] += 0.01
    assert server.recent(alice.token) is None
    assert server.authenticate(alice.token) is None
    assert server.recent(alice.token) is None  # a refusal is never remembered
    assert server.recent(bob.token) is None  # expired too
    assert server.authenticate(bob.token) == bob.key
    server.revoke(prefix=bob.key.prefix)
    assert server.recent(bob.token) is None  # revoked here: forgotten at once


def test_bad_role_and_name_name_their_field(tmp_path: Path) -> None:
    store = KeyStore.from_url(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    with pytest.raises(InputError) as err:
        store.create(name="x", role="boss")
    assert err.value.field == "role"
    with pytest.raises(InputError) as err:
        store.create(name=" ", role=Role.AUDITOR)
    assert err.value.field == "name"


def test_cli_prints_the_key_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "planner",
            "keys",
            "create",
            "--role",
            "integrator",
            "--name",
            "telephony",
            "--db",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    token = done.stdout.strip()
    key = KeyStore.from_url(url).authenticate(token)
    assert key is not None and key.role == Role.INTEGRATOR and key.name == "telephony"
    runner = CliRunner()
    listed = runner.invoke(app, ["keys", "list", "--db", url])
    assert listed.exit_code == 0
    assert key.prefix in listed.stdout and token not in listed.stdout
    bad = runner.invoke(app, ["keys", "create", "--role", "boss", "--name", "x", "--db", url])
    assert isinstance(bad.exception, InputError) and bad.exception.field == "role"

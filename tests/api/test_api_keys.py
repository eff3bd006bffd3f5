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

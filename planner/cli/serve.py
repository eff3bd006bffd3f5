"""``planner serve`` (the JSON API under uvicorn) and ``planner keys`` (its API keys).

The API lives in the ``api`` package, which imports ``planner`` and never the reverse: serve
hands uvicorn the app factory by its import string and passes the options through the
``PLANNER_*`` environment the factory's settings read.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from planner.log.api_keys import KeyStore, Role, parse_role
from planner.log.lease import WriterLease
from planner.settings import get_settings

APP_FACTORY = "api.app:create_app"
GRACEFUL_SHUTDOWN_S = 5
"""Open event streams are cut after this long on shutdown (they never end by themselves)."""

keys_app = typer.Typer(name="keys", help="Create, list and revoke API keys.", no_args_is_help=True)


def serve_command(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: PLANNER_DB_URL)."),
    region: str | None = typer.Option(
        None, help="Region name or path for live travel times (default: PLANNER_REGION)."
    ),
    codes: Path | None = typer.Option(
        None,
        help="Code table YAML (default: data/codes.yaml); a table that differs from the "
        "log's is recorded in the log as a reconfiguration.",
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
    policy: str | None = typer.Option(
        None,
        help="Dispatch policy DISPATCH[+RELOCATION], e.g. coverage+dmexclp (default: the "
        "log's, else optimal); a change is recorded in the log.",
    ),
    signing_key: Path | None = typer.Option(
        None, "--signing-key", help="Ed25519 private key: sign every entry this server appends."
    ),
    checkpoint_dir: Path | None = typer.Option(
        None,
        "--checkpoint-dir",
        help="Directory outside the database for signed checkpoints (needs --signing-key).",
    ),
    checkpoint_every: int | None = typer.Option(
        None, "--checkpoint-every", min=1, help="Checkpoint after this many entries (100)."
    ),
    advertise: str | None = typer.Option(
        None,
        "--advertise",
        help="This server's URL as clients reach it (PostgreSQL HA: standbys name the leader).",
    ),
    checkpoint_minutes: float | None = typer.Option(
        None, "--checkpoint-minutes", min=0.01, help="...or after this many minutes (10)."
    ),
) -> None:
    """Run the JSON API (OpenAPI at /openapi.json, docs at /docs) until interrupted."""
    import uvicorn

    options = {
        "PLANNER_SIGNING_KEY_PATH": signing_key,
        "PLANNER_CHECKPOINT_DIR": checkpoint_dir,
        "PLANNER_CHECKPOINT_EVERY": checkpoint_every,
        "PLANNER_CHECKPOINT_MINUTES": checkpoint_minutes,
        "PLANNER_POLICY": policy,
    }
    for name, value in options.items():
        if value is not None:
            os.environ[name] = str(value)
    if advertise is not None:
        os.environ["PLANNER_ADVERTISE_URL"] = advertise
    probe = WriterLease(db or get_settings().db_url)
    if not probe.postgres:  # a second writer on one SQLite file: refuse with one line, now
        probe.try_acquire()
    probe.release()
    if db is not None:
        os.environ["PLANNER_DB_URL"] = db
    if region is not None:
        os.environ["PLANNER_REGION"] = region
    if codes is not None:
        os.environ["PLANNER_CODES_PATH"] = str(codes)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


@keys_app.command("create")
def create_key(
    role: str = typer.Option(..., help=f"One of: {', '.join(r.value for r in Role)}."),
    name: str = typer.Option(..., help="Who or what uses the key (a person, a system)."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: PLANNER_DB_URL)."),
) -> None:
    """Create a key and print it once: only its hash is stored, it cannot be shown again."""
    store = KeyStore.from_url(db or get_settings().db_url)
    created = store.create(name=name, role=parse_role(role))
    typer.echo(created.token)
    typer.echo(
        f"created key {created.key.prefix} for {created.key.name} ({created.key.role.value}); "
        "send it as the X-API-Key header. It is not stored and cannot be shown again.",
        err=True,
    )


@keys_app.command("list")
def list_keys(
    db: str | None = typer.Option(None, "--db", help="Database URL (default: PLANNER_DB_URL)."),
) -> None:
    """List keys (prefix, role, name, created, revoked); never the keys themselves."""
    for key in KeyStore.from_url(db or get_settings().db_url).all_keys():
        revoked = f" revoked {key.revoked_at.isoformat()}" if key.revoked_at else ""
        typer.echo(
            f"{key.prefix}  {key.role.value:<10}  {key.name}  {key.created_at.isoformat()}{revoked}"
        )


@keys_app.command("revoke")
def revoke_key(
    prefix: str = typer.Argument(..., help="The key's 8-character prefix (see `keys list`)."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: PLANNER_DB_URL)."),
) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    key = KeyStore.from_url(db or get_settings().db_url).revoke(prefix=prefix)
    typer.echo(f"revoked {key.prefix} ({key.name}, {key.role.value})")


def register(root: typer.Typer) -> None:
    """Attach ``serve`` and ``keys`` to the root app."""
    root.command("serve")(serve_command)
    root.add_typer(keys_app, name="keys")

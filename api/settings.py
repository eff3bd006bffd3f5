"""Settings of the API server, read from the environment (prefix ``PLANNER_``) or the CLI."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from planner.settings import get_settings


def _default_db_url() -> str:
    return get_settings().db_url


class ApiSettings(BaseSettings):
    """Where the live centre keeps its log, which region it serves and the request limits."""

    model_config = SettingsConfigDict(env_prefix="PLANNER_")

    db_url: str = Field(default_factory=_default_db_url)
    """Incident log, API keys and idempotency records (SQLite by default, PostgreSQL by URL)."""

    region: str | None = None
    """Region name or path for the live centre's travel times (None: straight-line estimates)."""

    codes_path: Path | None = None
    """Code table YAML (None: the project's ``data/codes.yaml``)."""

    policy: str | None = None
    """Dispatch policy ``DISPATCH[+RELOCATION]`` (None: the log's, or ``optimal``)."""

    max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    """Requests with a larger body are refused with 413 before they are parsed."""

    max_solve_s: float = Field(default=10.0, gt=0)
    """Longest ``options.time_limit_s`` a stateless ``POST /v1/plan`` may ask for."""

    cap_sender: str = "dispatch-planner@localhost"
    """The ``sender`` of exported CAP alerts (an address that names this control room)."""

    tick_s: float = Field(default=5.0, ge=0)
    """Seconds between escalation-rule ticks while serving (0: no ticks)."""

    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    """Seconds between keep-alive comments on an idle event stream."""

    sse_recheck_s: float = Field(default=2.0, gt=0)
    """Seconds between checks that an open event stream's key is still valid (revocation)."""

    cors_origins: tuple[str, ...] = ()
    """Browser origins allowed to call the API cross-origin (CORS); empty: none. From the
    environment as JSON, e.g. ``PLANNER_CORS_ORIGINS='["https://cad.example"]'``."""

    signing_key_path: Path | None = None
    """Ed25519 private key (``planner log keygen``): sign every entry appended (None: unsigned)."""

    checkpoint_dir: Path | None = None
    """Where signed checkpoints of the head are written (outside the database; needs a key)."""

    checkpoint_every: int = Field(default=100, ge=1)
    """Write a checkpoint after this many new entries..."""

    advertise_url: str | None = None
    """This server's address as clients reach it; a standby names the leader's in its 503."""

    follow_s: float = Field(default=0.5, gt=0)
    """PostgreSQL: how often a standby reads the leader's new entries and tries the lease."""

    checkpoint_minutes: float = Field(default=10.0, gt=0)
    """...or this many minutes after the last one, if the log moved since."""

    rate_limit_per_s: float = Field(default=100.0, ge=0)
    """Requests a second each API key may make on average (0: no limit); more → 429."""

    rate_limit_burst: int = Field(default=500, ge=1)
    """Requests a key may make at once before ``rate_limit_per_s`` applies."""

    webhook_max_attempts: int = Field(default=5, ge=1, le=20)
    """Attempts per webhook delivery (the first and its retries)."""

    webhook_allow_networks: tuple[str, ...] = ()
    """Networks (CIDR, e.g. ``10.20.0.0/16``) webhooks may be delivered to although they are
    not public: for integrators on a private network. From the environment as JSON, e.g.
    ``PLANNER_WEBHOOK_ALLOW_NETWORKS='["10.20.0.0/16"]'``. Cloud metadata addresses stay
    refused."""

    @field_validator("webhook_allow_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"not a network (CIDR): {network!r}") from exc
        return value

    webhook_backoff_s: float = Field(default=1.0, gt=0, le=3600)
    """The first retry's delay; each further retry waits twice as long."""

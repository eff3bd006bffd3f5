"""The long-lived objects one API process serves from, built once by the app factory."""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from api.closed import IncidentHistory
from api.idempotency import IdempotencyStore
from api.limits import RateLimiter
from api.settings import ApiSettings
from api.versions import ResourceVersions
from api.webhooks import AddressGuard, WebhookDispatcher
from planner.centre.codes import DEFAULT_CODES_PATH, CodeTable
from planner.centre.config import EngineConfig
from planner.centre.engine import Engine, Outcome
from planner.centre.events import CentreConfigured, parse_event
from planner.errors import InputError
from planner.log.api_keys import KeyStore
from planner.log.incident_log import AUDIT_KINDS, IncidentLog
from planner.log.lease import WriterLease
from planner.log.schema import create_log_engine
from planner.log.signing import Checkpoint, CheckpointDir, load_signing_key
from planner.log.webhooks import WebhookStore
from planner.network.loader import load_region, resolve_region_path
from planner.network.region import Region

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Log, engine, code table, region, key and idempotency stores of one API process.

    ``write_lock`` serialises the write path (idempotency check, engine submit, idempotency
    record) so that two retries of one request cannot both act.
    """

    settings: ApiSettings
    db: sa.Engine
    log: IncidentLog
    keys: KeyStore
    idempotency: IdempotencyStore
    region: Region | None
    engine: Engine
    versions: ResourceVersions
    history: IncidentHistory
    rate_limiter: RateLimiter
    webhooks: WebhookStore
    webhook_guard: AddressGuard
    webhook_dispatcher: WebhookDispatcher
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    log_problem: str | None = None
    """Why the log failed verification at start-up (writes are then refused with 503)."""
    checkpoints: CheckpointDir | None = None
    lease: WriterLease | None = None
    """The write lease: only its holder (the leader) writes; the others are hot standbys."""
    _last_checkpoint: tuple[int, float] = (0, 0.0)

    @property
    def leader(self) -> bool:
        """Whether this process may write: it holds the PostgreSQL lease (SQLite has no
        standbys: a second writer was refused at start)."""
        return self.lease is None or not self.lease.postgres or self.lease.held

    def follow(self) -> None:
        """One step of high availability: a leader checks it still holds the lease; a standby
        folds the leader's new entries and tries to take the lease, and on success catches up
        and re-solves before it writes anything."""
        if self.lease is None:
            return
        if self.lease.held:
            if not self.lease.still_held():
                logger.error("lost the write lease; serving as a standby")
            return
        self.engine.catch_up()
        if self.lease.try_acquire():
            with self.write_lock:
                self.engine.catch_up()
                if self.log_problem is None:
                    self.engine.resolve_now()
            logger.warning("took over as leader at log head %d", self.engine.version)

    def maybe_checkpoint(self, *, force: bool = False) -> Checkpoint | None:
        """Write a signed checkpoint if ``checkpoint_every`` entries or ``checkpoint_minutes``
        passed since the last one (and the log moved); returns it."""
        if self.checkpoints is None or not self.log.signing or self.log_problem is not None:
            return None
        if not self.leader:
            return None
        last_seq, last_time = self._last_checkpoint
        head = self.log.head()
        moved = head > last_seq
        by_count = head - last_seq >= self.settings.checkpoint_every
        by_time = time.monotonic() - last_time >= 60 * self.settings.checkpoint_minutes
        if not (force or by_count or (moved and by_time)):
            return None
        made = self.log.checkpoint()
        self.checkpoints.write(made)
        self._last_checkpoint = (made.seq, time.monotonic())
        return made

    @property
    def codes(self) -> CodeTable:
        """The code table in force: the engine's (a logged reconfiguration may change it)."""
        return self.engine.codes

    def db_reachable(self) -> bool:
        """Whether the database answers a trivial query now."""
        try:
            with self.db.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        if self.lease is not None:
            self.lease.release()
        self.webhook_dispatcher.close()
        self.versions.close()
        self.history.close()
        self.log.close()
        self.db.dispose()


def load_codes(path: Path | None) -> CodeTable:
    """The code table at ``path``, parsed once per file version (tables are immutable)."""
    resolved = (path or DEFAULT_CODES_PATH).resolve()
    try:
        stamp = resolved.stat().st_mtime_ns
    except OSError:
        return CodeTable.load(resolved)  # raises the table's own error naming the file
    return _load_codes(resolved, stamp)


@functools.lru_cache(maxsize=8)
def _load_codes(path: Path, _mtime_ns: int) -> CodeTable:
    return CodeTable.load(path)


def build_services(settings: ApiSettings) -> Services:
    """Open the log and stores, load the code table and region, and start (or rebuild) the
    engine: a log that already holds events is replayed from its logged recommendations and
    re-solved once (a differing plan is logged, so the live picture is what ``planner log
    replay`` computes), on the region it is configured for (``InputError`` naming ``region``
    if another is asked for). If the code table file differs from the one the log carries,
    a ``centre_configured`` recording the new table is appended first."""
    key = None if settings.signing_key_path is None else load_signing_key(settings.signing_key_path)
    if settings.checkpoint_dir is not None and key is None:
        raise InputError("checkpoints are signed: give --signing-key too", field="checkpoint-dir")
    log = IncidentLog(settings.db_url, signing_key=key)
    try:
        logged = _logged_region(log)
        if logged is not None and settings.region and not _same_region(settings.region, logged):
            url = sa.make_url(settings.db_url).render_as_string(hide_password=True)
            raise InputError(
                f"the log at {url} is configured for region {logged}, not {settings.region}; "
                f"start with --region {logged} (or PLANNER_REGION={logged}) or a new --db",
                field="region",
            )
    except BaseException:
        log.close()
        raise
    checkpoints = (
        None if settings.checkpoint_dir is None else CheckpointDir(settings.checkpoint_dir)
    )
    latest = None if checkpoints is None else checkpoints.latest()
    report = log.verify(
        public_key=None if key is None else key.public_key(),
        checkpoints=() if latest is None else (latest,),
    )
    problem = None if report.ok else f"entry {report.first_bad_seq}: {report.reason}"
    if problem is not None:
        logger.error("the incident log does not verify; refusing writes: %s", problem)
    lease = WriterLease(settings.db_url, advertise=settings.advertise_url)
    try:
        leader = lease.try_acquire()
    except BaseException:
        log.close()
        raise
    db = create_log_engine(settings.db_url)
    codes = load_codes(settings.codes_path)
    region_spec = logged or settings.region
    region = load_region(region_spec, fresh=True) if region_spec else None
    if any(e.kind not in AUDIT_KINDS for e in log.entries(limit=50)):
        engine = Engine.replay(log, codes=codes, region=region, resolve=False)
        if problem is None and leader:
            engine.resolve_now()
            engine.adopt_codes(codes)
            if settings.policy is not None:
                engine.adopt_policy(settings.policy)
    else:
        config = EngineConfig(region=settings.region)
        engine = Engine(codes=codes, region=region, log=log, config=config)
        if settings.policy is not None:
            engine.adopt_policy(settings.policy)
    webhooks = WebhookStore(db)
    guard = AddressGuard(settings.webhook_allow_networks)
    services = Services(
        settings=settings,
        db=db,
        log=log,
        keys=KeyStore(db),
        idempotency=IdempotencyStore(db),
        region=engine.region,
        engine=engine,
        versions=ResourceVersions(engine),
        history=IncidentHistory(log, engine),
        log_problem=problem,
        checkpoints=checkpoints,
        lease=lease,
        rate_limiter=RateLimiter(rate=settings.rate_limit_per_s, burst=settings.rate_limit_burst),
        webhooks=webhooks,
        webhook_guard=guard,
        webhook_dispatcher=WebhookDispatcher(
            webhooks,
            log,
            engine,
            guard=guard,
            max_attempts=settings.webhook_max_attempts,
            backoff_base_s=settings.webhook_backoff_s,
        ),
    )
    if latest is not None:
        services._last_checkpoint = (latest.seq, time.monotonic())

    def checkpoint_after(_outcome: Outcome) -> None:
        services.maybe_checkpoint()

    engine.subscribe(checkpoint_after)
    return services


def _logged_region(log: IncidentLog) -> str | None:
    """The region the log's latest ``centre_configured`` names (None: none, or no region)."""
    region: str | None = None
    for entry in log.entries():
        if entry.kind == "centre_configured":
            event = parse_event(entry.payload, logged=True)
            assert isinstance(event, CentreConfigured)
            region = event.region
    return region


def _same_region(a: str, b: str) -> bool:
    """Whether two region specs (names or paths, any case of a name) mean the same map."""
    return resolve_region_path(a).resolve() == resolve_region_path(b).resolve()

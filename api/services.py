"""The long-lived objects one API process serves from, built once by the app factory."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from api.idempotency import IdempotencyStore
from api.settings import ApiSettings
from planner.api_keys import KeyStore
from planner.codes import DEFAULT_CODES_PATH, CodeTable
from planner.engine import Engine
from planner.engine_config import EngineConfig
from planner.incident_log import AUDIT_KINDS, IncidentLog
from planner.log_schema import create_log_engine
from planner.region import Region, load_region


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
    codes: CodeTable
    region: Region | None
    engine: Engine
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    def db_reachable(self) -> bool:
        """Whether the database answers a trivial query now."""
        try:
            with self.db.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
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
    engine: a log that already holds events is replayed from its logged recommendations."""
    log = IncidentLog(settings.db_url)
    db = create_log_engine(settings.db_url)
    codes = load_codes(settings.codes_path)
    region = load_region(settings.region, fresh=True) if settings.region else None
    if any(e.kind not in AUDIT_KINDS for e in log.entries(limit=50)):
        engine = Engine.replay(log, codes=codes, region=region, resolve=False)
    else:
        config = EngineConfig(region=settings.region)
        engine = Engine(codes=codes, region=region, log=log, config=config)
    return Services(
        settings=settings,
        db=db,
        log=log,
        keys=KeyStore(db),
        idempotency=IdempotencyStore(db),
        codes=codes,
        region=engine.region,
        engine=engine,
    )

"""Incident log throughput: chained, locked appends vs a plain INSERT per transaction.

Measured on a SQLite file (WAL) and, when ``PLANNER_TEST_POSTGRES_URL`` is set, on PostgreSQL
(in a throw-away schema). The plain way is one ``INSERT`` of the same row in its own
transaction, without lock, hash chain or personal table: the ratio is what tamper evidence and
safe concurrency cost. Also: 4 threads appending at once, and ``verify`` speed.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from planner.log.incident_log import IncidentLog, NewEntry
from planner.log.schema import create_log_engine, scratch_schema

APPENDS = 300
THREADS = 4
REPEATS = 3
VERIFY_ENTRIES = 2000


def _event(i: int) -> NewEntry:
    return NewEntry(
        kind="contact.received",
        payload={"channel": "phone", "contact": f"C-{i}", "code": "ALS-1", "level": 1},
        personal={"caller_name": "Jane Roe", "caller_phone": "0717 555 0101", "n": i},
        incident=f"INC-{i % 50}",
        actor="dispatcher:alice",
    )


def _rate(count: int, run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def _plain_inserts(url: str, count: int) -> float:
    """The plain way: one INSERT per transaction into a bare table (same engine settings)."""
    engine = create_log_engine(url)
    table = sa.Table(
        f"plain_{uuid.uuid4().hex[:8]}",
        sa.MetaData(),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("payload", sa.Text),
    )
    table.create(engine)

    def run() -> None:
        for i in range(count):
            with engine.begin() as conn:
                conn.execute(table.insert().values(payload=f'{{"contact":"C-{i}"}}'))

    rate = _rate(count, run)
    table.drop(engine)
    engine.dispose()
    return rate


def _measure(url: str) -> dict[str, float]:
    single, plain, threaded = [], [], []
    for _ in range(REPEATS):
        with _fresh(url) as scoped, IncidentLog(scoped) as log:
            single.append(_rate(APPENDS, lambda: [log.append(_event(i)) for i in range(APPENDS)]))
        with _fresh(url) as scoped:
            plain.append(_plain_inserts(scoped, APPENDS))
        with _fresh(url) as scoped, IncidentLog(scoped) as log:
            threaded.append(_rate(APPENDS, lambda: _threads(log, APPENDS)))
    with _fresh(url) as scoped, IncidentLog(scoped) as log:
        for i in range(VERIFY_ENTRIES):
            log.append(_event(i))
        verify = [_rate(VERIFY_ENTRIES, lambda: _check(log)) for _ in range(REPEATS)]
    return {
        "append": statistics.median(single),
        "plain": statistics.median(plain),
        "threads": statistics.median(threaded),
        "verify": statistics.median(verify),
    }


def _check(log: IncidentLog) -> None:
    report = log.verify()
    if not report.ok or report.checked != VERIFY_ENTRIES:
        raise RuntimeError(f"benchmark log does not verify: {report}")


def _threads(log: IncidentLog, total: int) -> None:
    per = total // THREADS
    workers = [
        threading.Thread(target=lambda: [log.append(_event(i)) for i in range(per)])
        for _ in range(THREADS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


@contextmanager
def _fresh(url: str) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        return
    with scratch_schema(url, prefix="bench") as scoped:
        yield scoped


def main() -> None:
    backends = [("SQLite file (WAL)", "sqlite:///")]
    postgres = os.environ.get("PLANNER_TEST_POSTGRES_URL")
    if postgres:
        backends.append(("PostgreSQL", postgres))
    else:
        print("(PostgreSQL skipped: PLANNER_TEST_POSTGRES_URL not set)")
    print(f"medians of {REPEATS} runs; {APPENDS} appends each with personal data")
    print()
    print(
        "| backend | log append /s | plain INSERT /s | log ÷ plain "
        f"| {THREADS} threads append /s | verify entries /s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, url in backends:
        m = _measure(url)
        print(
            f"| {name} | {m['append']:.0f} | {m['plain']:.0f} | {m['append'] / m['plain']:.2f} "
            f"| {m['threads']:.0f} | {m['verify']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

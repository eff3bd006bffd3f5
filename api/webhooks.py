"""Outbound webhooks: every new log entry POSTed to the registrations that want its kind.

One background thread follows the log (woken by the engine after each write, it reads the
entries since the last it saw, so derived events keep their real seqs) and delivers each
entry as the same JSON the event stream sends. The body is signed with the registration's
secret: ``X-Planner-Signature: sha256=<hex HMAC-SHA256 of the body>``; the receiver recomputes
it to know the call came from this server and was not altered. A failed attempt (no answer,
or not 2xx) is retried after ``base * 2**(attempt-1)`` seconds, up to ``max_attempts``; every
attempt is in the delivery log. Deliveries start at the log head when the server starts:
entries written while it was down are not pushed (read them with ``/v1/log?after=``).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from planner.centre.engine import Engine, Outcome
from planner.log.incident_log import IncidentLog, LogEntry
from planner.log.webhooks import Webhook, WebhookStore

SIGNATURE_HEADER = "X-Planner-Signature"
TIMEOUT_S = 5.0


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def entry_body(entry: LogEntry) -> bytes:
    """The delivered JSON: the event stream's message data (no personal data)."""
    data: dict[str, Any] = {
        "seq": entry.seq,
        "type": entry.kind,
        "incident": entry.incident,
        "actor": entry.actor,
        "recorded_at": entry.recorded_at.isoformat(),
        "event": entry.payload,
    }
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


@dataclass(order=True)
class _Job:
    due: float
    order: int
    hook: Webhook = field(compare=False)
    seq: int = field(compare=False)
    kind: str = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)


class WebhookDispatcher:
    """The background deliverer; ``close()`` stops it (pending retries are dropped)."""

    def __init__(
        self,
        store: WebhookStore,
        log: IncidentLog,
        engine: Engine,
        *,
        max_attempts: int = 5,
        backoff_base_s: float = 1.0,
    ) -> None:
        self._store = store
        self._log = log
        self._max_attempts = max_attempts
        self._base = backoff_base_s
        self._after = log.head()
        self._jobs: list[_Job] = []
        self._order = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._unsubscribe = engine.subscribe(self._on_outcome)
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._unsubscribe()
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=TIMEOUT_S + 1)

    def _on_outcome(self, _outcome: Outcome) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            due = self._jobs[0].due - time.monotonic() if self._jobs else None
            self._wake.wait(timeout=None if due is None else max(due, 0.0))
            self._wake.clear()
            if self._stop.is_set():
                return
            self._collect()
            while self._jobs and self._jobs[0].due <= time.monotonic():
                self._attempt(heapq.heappop(self._jobs))

    def _collect(self) -> None:
        """Queue the entries written since the last look for every live hook that wants them."""
        hooks = self._store.live()
        if not hooks:  # the common case: no reading of entries nobody wants
            self._after = self._log.head()
            return
        entries = self._log.entries(after_seq=self._after)
        if not entries:
            return
        self._after = entries[-1].seq
        for entry in entries:
            body = entry_body(entry)
            for hook in hooks:
                if hook.wants(entry.kind):
                    self._push(_Job(time.monotonic(), 0, hook, entry.seq, entry.kind, body))

    def _push(self, job: _Job) -> None:
        self._order += 1
        job.order = self._order
        heapq.heappush(self._jobs, job)

    def _attempt(self, job: _Job) -> None:
        if not self._store.is_live(job.hook.id):
            return
        request = urllib.request.Request(
            job.hook.url,
            data=job.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(job.hook.secret, job.body),
                "X-Planner-Delivery": f"{job.hook.id}-{job.seq}-{job.attempt}",
            },
        )
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
        except (OSError, ValueError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivered = status is not None and 200 <= status < 300
        self._store.record(
            job.hook.id,
            seq=job.seq,
            kind=job.kind,
            attempt=job.attempt,
            status_code=status,
            error=error,
            delivered=delivered,
        )
        if not delivered and job.attempt < self._max_attempts:
            delay = self._base * 2 ** (job.attempt - 1)
            job.due = time.monotonic() + delay
            job.attempt += 1
            self._push(job)

"""``GET /v1/events``: the live stream (Server-Sent Events) of engine events and
recommendation changes, so a console updates without polling.

Each message is one incident-log entry, every kind included (the log's own audit entries
too): ``id`` is its log seq, ``event`` its type, ``data`` its operational JSON (never personal
data). The log wakes the stream when entries this process wrote become durable (its watcher
runs on the writer's thread and only pokes this stream's asyncio queue); the stream then takes
the entries after its cursor from the log's in-memory tail — no thread or database read per
write, which matters with a console per dispatcher — and reads the database instead when memory
cannot tell (catch-up from further back, an entry written by another process), and at least
every ``sse_recheck_s``. Either way entries come in seq order from the cursor, so nothing is
skipped or sent twice. Resume with the ``Last-Event-ID`` header (browsers send it on reconnect;
it wins over ``?after=``, so a reconnecting EventSource never replays from the start) or
``?after=SEQ``.

The caller's key is checked again every ``sse_recheck_s`` seconds: a revoked key (or one
whose role may no longer read the stream) ends the stream within that time, and the
reconnect is refused with 401.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import ALL_ROLES, API_KEY_HEADER, Reader, ServicesDep
from api.services import Services
from planner.errors import InputError
from planner.log.incident_log import LogEntry

router = APIRouter(prefix="/v1", tags=["events"])

PAGE = 500
STREAM_ROLES = frozenset(ALL_ROLES)
"""Roles that may read the stream (``Reader``); checked again while a stream is open."""
RETRY_MS = 3000


def sse_message(entry: LogEntry) -> str:
    """One log entry as an SSE message (``id`` = seq, ``event`` = type)."""
    data = {
        "seq": entry.seq,
        "type": entry.kind,
        "incident": entry.incident,
        "actor": entry.actor,
        "recorded_at": entry.recorded_at.isoformat(),
        "event": entry.payload,
    }
    return f"id: {entry.seq}\nevent: {entry.kind}\ndata: {json.dumps(data)}\n\n"


def _start(after: int | None, last_event_id: str | None, services: Services) -> int:
    """Where the stream starts: ``Last-Event-ID`` first (a reconnect), then ``after``, else
    the head (new entries only)."""
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not text.isdigit() or len(text) > 18:
            raise InputError("must be the seq of the last event received", field="Last-Event-ID")
        return int(text)
    if after is not None:
        return after
    return services.log.head()


def _still_allowed(services: Services, token: str) -> bool:
    key = services.keys.authenticate(token)
    return key is not None and key.role in STREAM_ROLES


def _next_page(services: Services, token: str | None, cursor: int) -> list[LogEntry] | None:
    """The durable entries after ``cursor`` (one thread-pool call per wake-up), or None when
    the key, checked again if ``token`` is given, may no longer read the stream."""
    if token is not None and not _still_allowed(services, token):
        return None
    services.log.sync()  # the waking commit, flushed
    return services.log.entries(after_seq=cursor, limit=PAGE)


async def _stream(
    request: Request,
    services: Services,
    *,
    token: str,
    cursor: int,
    limit: int | None,
    kinds: frozenset[str] | None,
    incident: str | None,
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    wake: asyncio.Queue[None] = asyncio.Queue()

    def on_durable() -> None:  # runs on the writer's thread
        if not loop.is_closed():
            loop.call_soon_threadsafe(wake.put_nowait, None)

    unwatch = services.log.watch(on_durable)
    heartbeat = services.settings.sse_heartbeat_s
    recheck = min(services.settings.sse_recheck_s, heartbeat)
    checked = loop.time()
    sent = 0
    idle = 0.0
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            while not wake.empty():
                wake.get_nowait()
            due = loop.time() - checked >= recheck
            entries = None if due else services.log.recent(after_seq=cursor, limit=PAGE)
            if entries is None:
                entries = await run_in_threadpool(
                    _next_page, services, token if due else None, cursor
                )
            if entries is None:
                return
            if due:
                checked = loop.time()
            for entry in entries:
                cursor = entry.seq
                if kinds is not None and entry.kind not in kinds:
                    continue
                if incident is not None and entry.incident != incident:
                    continue
                yield sse_message(entry)
                sent += 1
                if limit is not None and sent >= limit:
                    return
            if len(entries) == PAGE:
                continue
            if await request.is_disconnected():
                return
            try:
                await asyncio.wait_for(wake.get(), timeout=recheck)
            except TimeoutError:
                idle += recheck
                if idle >= heartbeat:
                    idle = 0.0
                    yield ": keep-alive\n\n"
            else:
                idle = 0.0
    finally:
        unwatch()


@router.get(
    "/events",
    summary="Live stream of events and recommendation changes (SSE)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An SSE stream."}},
)
async def events(
    request: Request,
    _key: Reader,
    services: ServicesDep,
    after: Annotated[
        int | None, Query(ge=0, le=2**62, description="Start after this log seq.")
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=100_000, description="Close the stream after this many events."),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=20,
            pattern=r"^\s*[0-9]{0,18}\s*$",
            description="Resume after this seq (wins over ``after``).",
        ),
    ] = None,
    kind: Annotated[
        list[str] | None,
        Query(
            max_length=50,
            description="Only entries of these kinds (repeat the parameter), e.g. "
            "``incident_opened``, ``recommendation_issued``, ``personal_data.read``.",
        ),
    ] = None,
    incident: Annotated[
        str | None, Query(max_length=80, description="Only entries of this incident.")
    ] = None,
) -> StreamingResponse:
    """Every log entry after the start, in seq order: without ``Last-Event-ID``/``after`` the
    stream starts at the current head (new entries only). ``kind`` and ``incident`` filter the
    entries sent (the ids stay log seqs, so resuming works the same). A comment line is sent
    every ``sse_heartbeat_s`` seconds while idle; a revoked key's stream ends within
    ``sse_recheck_s`` seconds."""
    cursor = _start(after, last_event_id, services)
    token = request.headers.get(API_KEY_HEADER, "")
    kinds = None if not kind else frozenset(k for k in kind if len(k) <= 80)
    return StreamingResponse(
        _stream(
            request,
            services,
            token=token,
            cursor=cursor,
            limit=limit,
            kinds=kinds,
            incident=incident,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

"""``GET /v1/events``: the live stream (Server-Sent Events) of engine events and
recommendation changes, so a console updates without polling.

Each message is one incident-log entry: ``id`` is its log seq, ``event`` its type, ``data``
its operational JSON (never personal data). The engine's subscriber callback runs on the
writer's thread; it only hands the new version to this stream's asyncio queue
(``call_soon_threadsafe``), and the stream then reads the log from its cursor, so live
delivery and catch-up are one code path and nothing is skipped or sent twice. Resume with the
``Last-Event-ID`` header (browsers send it on reconnect) or ``?after=SEQ``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import Reader, ServicesDep
from api.services import Services
from planner.centre.engine import Outcome
from planner.errors import InputError
from planner.log.incident_log import AUDIT_KINDS, LogEntry

router = APIRouter(prefix="/v1", tags=["events"])

PAGE = 500
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
    if after is not None:
        return after
    if last_event_id is not None:
        text = last_event_id.strip()
        if not text.isdigit() or len(text) > 18:
            raise InputError("must be the seq of the last event received", field="Last-Event-ID")
        return int(text)
    return services.log.head()


async def _stream(
    request: Request, services: Services, *, cursor: int, limit: int | None
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    wake: asyncio.Queue[int] = asyncio.Queue()

    def on_outcome(outcome: Outcome) -> None:  # runs on the writer's thread
        loop.call_soon_threadsafe(wake.put_nowait, outcome.version)

    unsubscribe = services.engine.subscribe(on_outcome)
    heartbeat = services.settings.sse_heartbeat_s
    sent = 0
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            while not wake.empty():
                wake.get_nowait()
            entries = await run_in_threadpool(services.log.entries, after_seq=cursor, limit=PAGE)
            for entry in entries:
                cursor = entry.seq
                if entry.kind in AUDIT_KINDS:
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
                await asyncio.wait_for(wake.get(), timeout=heartbeat)
            except TimeoutError:
                yield ": keep-alive\n\n"
    finally:
        unsubscribe()


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
        Header(alias="Last-Event-ID", max_length=20, description="Resume after this seq."),
    ] = None,
) -> StreamingResponse:
    """Without ``after``/``Last-Event-ID`` the stream starts at the current head (new events
    only). Audit entries (personal-data reads) are not streamed. A comment line is sent every
    ``sse_heartbeat_s`` seconds while idle."""
    cursor = _start(after, last_event_id, services)
    return StreamingResponse(
        _stream(request, services, cursor=cursor, limit=limit),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

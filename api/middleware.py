"""ASGI middleware every request passes: no 500 that leaks, no input the database can't take.

* :class:`ProblemGuard` turns any unhandled exception into a problem+json 500 and logs only
  the exception's type, the method, the route path and the traceback's frames: never its
  message, the body or the caller, which may hold personal data.
* :class:`StrictInput` refuses a NUL byte in the path or query (400; PostgreSQL cannot store
  one) and, for JSON bodies, ``NaN``, ``Infinity``, numbers that overflow to infinity and
  NUL characters in strings (422) before any route parses them.
* :class:`HeadAsGet` answers ``HEAD`` for every ``GET`` route: the GET's status and headers,
  no body.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PROBLEM_MEDIA_TYPE, problem

logger = logging.getLogger("api.errors")


async def send_problem(
    send: Send, status: int, detail: str, *, field: str | None = None, close: bool = False
) -> None:
    """Send a whole problem+json response from middleware."""
    body = json.dumps(problem(status, detail, field=field)).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ProblemGuard:
    """Any unhandled exception → 500 problem+json, logged without request content."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            frames = "".join(traceback.format_tb(exc.__traceback__))
            logger.error(
                "unhandled %s on %s %s\n%s",
                type(exc).__name__,
                scope.get("method"),
                scope.get("path"),
                frames,
            )
            if not started:
                await send_problem(send, 500, "internal error; nothing was changed by it")


class _Refused(ValueError):
    """A JSON value the API does not accept (non-finite number, NUL character)."""


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused("a number overflows to infinity")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number the API accepts")


def _no_nul(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise _Refused("a string contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item)


def refusal(body: bytes) -> str | None:
    """Why a JSON body is refused (non-finite number, NUL character), or None. Bodies that are
    not JSON at all are left to the route's own validation."""
    try:
        parsed = json.loads(body, parse_float=_finite, parse_constant=_constant)
    except _Refused as exc:
        return str(exc)
    except ValueError:
        return None
    try:
        _no_nul(parsed)
    except _Refused as exc:
        return str(exc)
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return bool(media == b"application/json" or media.endswith(b"+json"))
    return False


class StrictInput:
    """Refuse NUL bytes in the URL (400) and non-finite numbers or NULs in JSON bodies (422)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or b""
        query = scope.get("query_string") or b""
        if "\x00" in scope.get("path", "") or b"%00" in raw_path or b"%00" in query:
            await send_problem(send, 400, "the URL contains a NUL byte", field="url")
            return
        if not _is_json(scope):
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        reason = refusal(body) if body else None
        if reason is not None:
            await send_problem(send, 422, reason, field="body")
            return

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


class HeadAsGet:
    """``HEAD`` runs the ``GET`` route and sends its status and headers without the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return
        done = False

        async def headless(message: Message) -> None:
            nonlocal done
            if done:
                return
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body":
                done = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def hang_up() -> Message:
            if done:  # an endless GET (the event stream) sees the client leave
                return {"type": "http.disconnect"}
            return await receive()

        await self.app({**scope, "method": "GET"}, hang_up, headless)

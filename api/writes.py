"""The write path every live-centre endpoint shares: idempotency, If-Match, one engine event.

One request is one engine event. Under the services' write lock: a replayed
``Idempotency-Key`` returns the stored first response (header ``Idempotent-Replayed: true``)
without touching the engine; otherwise the event is submitted with ``If-Match`` as the
expected version of the resource in the path (stale → 412, nothing logged; for a create, the
collection's state version), and the response is stored under the key in the same transaction
as the event and what it caused. The response carries the new state version in its body and
the written resource's version as the ``ETag`` header, ready for the next ``If-Match``.
The response is sent only once the log is on disk: the flush (one ``fsync`` on SQLite) runs
after the write lock is released, so writers queued behind each other share it (group
commit) while the next one is already being decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from api.bodies import to_event
from api.errors import PreconditionFailed
from api.idempotency import StoredResponse, check_key, fingerprint
from api.services import Services
from api.versions import Kind, check_if_match, etag, parse_version
from planner.centre.engine import Outcome
from planner.centre.events import RecommendationChanges
from planner.centre.recommendations import recommendation_changes
from planner.errors import ConflictError, InputError
from planner.log.api_keys import ApiKey


class WriteResult(BaseModel):
    """What one accepted write did: the new state version and what the engine derived."""

    version: int = Field(description="State version after the write; send it as If-Match.")
    seq: int = Field(description="The log sequence number of this event.")
    type: str
    incident_id: str | None
    event: dict[str, Any] = Field(description="The event as logged, without personal data.")
    derived: list[dict[str, Any]] = Field(
        description="Events the engine emitted because of it (recommendations, escalations)."
    )
    recommendation_changed: bool
    changes: RecommendationChanges

    @classmethod
    def of(cls, outcome: Outcome) -> WriteResult:
        """The result of ``outcome``, naming the incident the log recorded it under."""
        changes = RecommendationChanges()
        if outcome.plan is not None and not outcome.changes.empty:
            changes = recommendation_changes(outcome.changes)
        return cls(
            version=outcome.version,
            seq=outcome.seq,
            type=outcome.event.type,
            incident_id=outcome.incident,
            event=outcome.event.model_dump(mode="json"),
            derived=[e.model_dump(mode="json") for e in outcome.derived],
            recommendation_changed=any(e.type == "recommendation_issued" for e in outcome.derived),
            changes=changes,
        )


@dataclass(frozen=True, slots=True)
class WriteHeaders:
    """The write-control headers of one request and where it was sent."""

    method: str
    path: str
    idempotency_key: str | None
    expected_version: int | None


IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,18}"|[0-9]{1,18})$'
"""``If-Match``: ``*`` or one entity tag as sent in ``ETag`` (``"12"``; ``12`` and ``W/"12"``
are read the same way)."""


def parse_if_match(value: str | None) -> int | None:
    """The version in an ``If-Match`` header (``"12"``, ``12``, ``W/"12"``; ``*``: any)."""
    if value is None or value.strip() == "*":
        return None
    return parse_version(value, field="If-Match")


async def write_headers(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            pattern=r"^[!-~][ -~]{0,199}$",
            description="Any unique printable-ASCII string; a retry with the same key returns "
            "the first response and does not act twice.",
        ),
    ] = None,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=64,
            pattern=IF_MATCH_PATTERN,
            description="The ETag the write is based on: of the resource in the path, or of "
            "the collection (its state version) for a create; stale → 412, nothing changes.",
        ),
    ] = None,
) -> WriteHeaders:
    return WriteHeaders(
        method=request.method,
        path=request.url.path,
        idempotency_key=None if idempotency_key is None else check_key(idempotency_key),
        expected_version=parse_if_match(if_match),
    )


WriteHeadersDep = Annotated[WriteHeaders, Depends(write_headers)]

WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "The current state forbids the event; nothing changed."},
    412: {"description": "Stale If-Match; nothing changed."},
    503: {
        "description": "This server does not write now: a standby (see X-Planner-Leader), "
        "or its log failed verification."
    },
}
"""Statuses every write may answer (the app documents the problem body of each)."""


def submit_event(
    services: Services,
    event_type: type[BaseModel],
    body: BaseModel | None,
    *,
    key: ApiKey,
    headers: WriteHeaders,
    resource: Kind | None = None,
    status_code: int = 200,
    **path: str,
) -> Response:
    """The whole work of a write route: ``body``, the path's ids and the caller as one
    ``event_type`` event, run through idempotency, If-Match and the engine (see the module
    docstring). ``resource`` is the kind of resource the route writes: named by the path's
    id, or created by the body (then ``If-Match`` is the collection's state version); None
    for writes that are no resource (the ETag is then the state version)."""
    event = to_event(event_type, body, key=key, **path)
    rid = None if resource is None else str(getattr(event, f"{resource}_id"))
    in_path = f"{resource}_id" in path
    idem = headers.idempotency_key
    request_id = (
        ""
        if idem is None
        else fingerprint(
            method=headers.method, path=headers.path, body=event.model_dump_json().encode()
        )
    )

    def current() -> int | None:
        """The written resource's version now (the state version for non-resources)."""
        if resource is None or rid is None:
            return services.engine.version
        return services.versions.version(resource, rid)

    refuse_if_not_writable(services)
    with services.write_lock:
        if idem is not None:
            stored = _lookup(services, owner=key.prefix, key=idem, request_id=request_id)
            if stored is not None:
                services.log.sync()  # the first response may not be on disk yet
                return _response(stored, replayed=True, etag_of=current())
        if in_path:
            check_if_match(headers.expected_version, current(), what=f"{resource} {rid!r}")
        kept: list[StoredResponse] = []

        def remember(outcome: Outcome) -> None:
            """With a key, store the response in the decision's transaction."""
            if idem is not None:
                kept.append(_result(outcome, status_code))
                services.idempotency.save(
                    services.log.connection(),
                    owner=key.prefix,
                    key=idem,
                    request_fingerprint=request_id,
                    response=kept[0],
                )

        try:
            outcome = services.engine.submit(
                event,
                expected_version=None if in_path else headers.expected_version,
                before_commit=remember,
                durable=False,
            )
        except ConflictError as exc:
            raise PreconditionFailed(exc.message, field="If-Match") from exc
        except IntegrityError:
            if idem is None:
                raise
            # another process stored this key first
            stored = _lookup(services, owner=key.prefix, key=idem, request_id=request_id)
            if stored is None:
                raise
            return _response(stored, replayed=True, etag_of=current())
        version = current()
    # Outside the write lock: the next writer is already being decided while this response is
    # built (without a key nothing needs it inside the transaction) and the log is flushed
    # (queued writers share one flush).
    response = kept[0] if kept else _result(outcome, status_code)
    services.log.sync()
    return _response(response, replayed=False, etag_of=version)


def _result(outcome: Outcome, status_code: int) -> StoredResponse:
    """The response to an accepted write (as stored for replays)."""
    return StoredResponse(status=status_code, body=WriteResult.of(outcome).model_dump_json())


def refuse_if_not_writable(services: Services) -> None:
    """503 while this process must not write: it is a standby (the leader's address, if
    known, is in the ``X-Planner-Leader`` header and the message), or its log failed
    verification at start-up."""
    if not services.leader:
        leader = None if services.lease is None else services.lease.leader()
        where = f"; the leader is at {leader}" if leader else ""
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"this server is a standby and does not write{where}",
            headers={"X-Planner-Leader": leader or "", "Retry-After": "1"},
        )
    if services.log_problem is not None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"writes refused: the incident log does not verify ({services.log_problem})",
        )


def _lookup(services: Services, *, owner: str, key: str, request_id: str) -> StoredResponse | None:
    """The stored response for ``key``; 409 if the key was used for a different request (the
    key is bound to that one: a conflict with stored state, not malformed input)."""
    try:
        return services.idempotency.lookup(owner=owner, key=key, request_fingerprint=request_id)
    except InputError as exc:
        raise ConflictError(exc.message, field="Idempotency-Key") from exc


def _response(stored: StoredResponse, *, replayed: bool, etag_of: int | None) -> Response:
    """The stored response, with the written resource's ETag (none once it is gone)."""
    headers = {} if etag_of is None else {"ETag": etag(etag_of)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        content=stored.body,
        status_code=stored.status,
        media_type="application/json",
        headers=headers,
    )

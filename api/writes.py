"""The write path every live-centre endpoint shares: idempotency, If-Match, one engine event.

One request is one engine event. Under the services' write lock: a replayed
``Idempotency-Key`` returns the stored first response (header ``Idempotent-Replayed: true``)
without touching the engine; otherwise the event is submitted with ``If-Match`` as the
expected state version (stale → ``ConflictError`` → 409, nothing logged), and the response is
stored under the key in the same transaction as the event and what it caused. The response
carries the new state version in its body and as the ``ETag`` header, ready for the next
``If-Match``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from api.bodies import to_event
from api.idempotency import StoredResponse, check_key, fingerprint
from api.services import Services
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


def parse_if_match(value: str | None) -> int | None:
    """The state version in an ``If-Match`` header (``"12"``, ``12``, ``W/"12"``; ``*``: any)."""
    if value is None or value.strip() == "*":
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 18:
        raise InputError('must be a state version, e.g. "12"', field="If-Match")
    return int(text)


def write_headers(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="Any unique string; a retry with the same key returns the first "
            "response and does not act twice.",
        ),
    ] = None,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=64,
            description="The state version the write is based on; stale → 409, nothing changes.",
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
    404: {"description": "The unit, incident or contact named does not exist; nothing changed."},
    409: {
        "description": "Stale If-Match, or the current state forbids the event; nothing changed."
    },
    422: {"description": "Invalid input; the body names the field."},
}


def submit_event(
    services: Services,
    event_type: type[BaseModel],
    body: BaseModel | None,
    *,
    key: ApiKey,
    headers: WriteHeaders,
    status_code: int = 200,
    **path: str,
) -> Response:
    """The whole work of a write route: ``body``, the path's ids and the caller as one
    ``event_type`` event, run through idempotency, If-Match and the engine (see the module
    docstring)."""
    event = to_event(event_type, body, key=key, **path)
    request_id = fingerprint(
        method=headers.method, path=headers.path, body=event.model_dump_json().encode()
    )
    idem = headers.idempotency_key
    with services.write_lock:
        if idem is not None:
            stored = services.idempotency.lookup(
                owner=key.prefix, key=idem, request_fingerprint=request_id
            )
            if stored is not None:
                return _response(stored, replayed=True)
        responses: list[StoredResponse] = []

        def remember(outcome: Outcome) -> None:
            """Build the response and, with a key, store it in the decision's transaction."""
            response = StoredResponse(
                status=status_code, body=WriteResult.of(outcome).model_dump_json()
            )
            responses.append(response)
            if idem is not None:
                services.idempotency.save(
                    services.log.connection(),
                    owner=key.prefix,
                    key=idem,
                    request_fingerprint=request_id,
                    response=response,
                )

        try:
            outcome = services.engine.submit(
                event, expected_version=headers.expected_version, before_commit=remember
            )
        except ConflictError as exc:
            raise ConflictError(exc.message, field="If-Match") from exc
        except IntegrityError:
            if idem is None:
                raise
            stored = services.idempotency.lookup(  # another process stored this key first
                owner=key.prefix, key=idem, request_fingerprint=request_id
            )
            if stored is None:
                raise
            return _response(stored, replayed=True)
    return _response(responses[0], replayed=False, version=outcome.version)


def _response(stored: StoredResponse, *, replayed: bool, version: int | None = None) -> Response:
    if version is None:
        version = WriteResult.model_validate_json(stored.body).version
    headers = {"ETag": f'"{version}"'}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        content=stored.body,
        status_code=stored.status,
        media_type="application/json",
        headers=headers,
    )

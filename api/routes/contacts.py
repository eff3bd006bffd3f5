"""Contacts: calls, texts, e-mails, web forms, radio and agency messages as they arrive."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from api.bodies import ContactIn
from api.deps import EngineDep, Feed, Reader, ServicesDep
from api.pagination import (
    CONTACT_CURSOR,
    DEFAULT_LIMIT,
    NO_WINDOW,
    Limit,
    TimeWindow,
    cursor_query,
    decode_cursor,
    list_etag,
    micros,
    paginate,
    time_window,
)
from api.schemas import ContactList, ContactOut
from api.versions import etag, not_modified
from api.writes import WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import ID_PATTERN, Channel, ContactReceived
from planner.centre.state import ContactState
from planner.errors import NotFoundError

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])

ContactId = Path(min_length=1, max_length=80, pattern=ID_PATTERN)


@router.get(
    "", summary="Contacts received", response_model=ContactList, openapi_extra={"x-etag": True}
)
def list_contacts(
    _key: Reader,
    engine: EngineDep,
    request: Request,
    response: Response,
    channel: Annotated[Channel | None, Query(description="Only this channel.")] = None,
    incident: Annotated[
        str | None,
        Query(
            max_length=80, pattern=ID_PATTERN, description="Only contacts linked to this incident."
        ),
    ] = None,
    linked: Annotated[
        bool | None, Query(description="true: only linked to an incident; false: only unlinked.")
    ] = None,
    received: Annotated[TimeWindow, Depends(time_window("Received"))] = NO_WINDOW,
    cursor: Annotated[str | None, cursor_query(CONTACT_CURSOR)] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> ContactList | Response:
    """Contacts with their channel and incident, oldest first, a page at a time (caller
    details are personal data: they are in the log, readable through the timeline by allowed
    roles). The ``ETag`` is the state version."""
    version = engine.version
    if (cached := list_etag(request, response, version)) is not None:
        return cached

    def wanted(c: ContactState) -> bool:
        return (
            (channel is None or c.channel == channel)
            and (incident is None or c.incident == incident)
            and (linked is None or (c.incident is not None) == linked)
            and c.received_at in received
        )

    page, next_cursor = paginate(
        (c for c in engine.state.contacts.values() if wanted(c)),
        lambda c: (micros(c.received_at), c.id),
        after=None if cursor is None else tuple(decode_cursor(cursor)),
        limit=limit,
    )
    return ContactList(version=version, contacts=list(page), next_cursor=next_cursor)


@router.get(
    "/{contact_id}",
    summary="One contact",
    response_model=ContactOut,
    openapi_extra={"x-etag": True},
)
def get_contact(
    _key: Reader,
    services: ServicesDep,
    request: Request,
    response: Response,
    contact_id: str = ContactId,
) -> ContactOut | Response:
    """The contact's channel, time and incident; ``ETag`` is the contact's own version."""
    contact = services.engine.state.contacts.get(contact_id)
    version = services.versions.version("contact", contact_id)
    if contact is None or version is None:
        raise NotFoundError(f"unknown contact {contact_id!r}", field="contact_id")
    if (cached := not_modified(request, version)) is not None:
        return cached
    response.headers["ETag"] = etag(version)
    return ContactOut(version=version, contact=contact)


@router.post("", summary="Record a contact", status_code=201, response_model=WriteResult)
def receive_contact(
    body: ContactIn, key: Feed, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """A contact arrived (caller name, phone, address and summary are personal data, stored
    apart from the operational record). Open an incident from it or link it to one."""
    return submit_event(
        services,
        ContactReceived,
        body,
        key=key,
        headers=headers,
        resource="contact",
        status_code=201,
    )

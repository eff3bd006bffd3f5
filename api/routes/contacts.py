"""Contacts: calls, texts, e-mails, web forms, radio and agency messages as they arrive."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.bodies import ContactIn
from api.deps import EngineDep, Feed, Reader, ServicesDep
from api.schemas import ContactList
from api.writes import WRITE_RESPONSES, WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import ContactReceived

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


@router.get("", summary="Contacts received", response_model=ContactList)
def list_contacts(_key: Reader, engine: EngineDep) -> ContactList:
    """Every contact with its channel and incident (caller details are personal data: they
    are in the log, readable through the timeline by allowed roles)."""
    version = engine.version
    contacts = sorted(engine.state.contacts.values(), key=lambda c: c.received_at)
    return ContactList(version=version, contacts=contacts)


@router.post(
    "",
    summary="Record a contact",
    status_code=201,
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def receive_contact(
    body: ContactIn, key: Feed, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """A contact arrived (caller name, phone, address and summary are personal data, stored
    apart from the operational record). Open an incident from it or link it to one."""
    return submit_event(services, ContactReceived, body, key=key, headers=headers, status_code=201)

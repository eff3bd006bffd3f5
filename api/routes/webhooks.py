"""Outbound webhooks: an integrator's key registers URLs that receive every new log entry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Fleet, ServicesDep
from api.webhooks import SIGNATURE_HEADER
from planner.errors import NotFoundError
from planner.log.webhooks import (
    MAX_KINDS,
    MAX_URL_LEN,
    SECRET_PATTERN,
    URL_PATTERN,
    Delivery,
    Webhook,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

WebhookId = Annotated[
    str, Path(max_length=80, description="The registration's id (unknown or not this key's: 404).")
]
Kind = Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,59}$", description="An entry kind.")]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LEN,
        pattern=URL_PATTERN,
        description="http(s) URL to POST to (host name or dotted-quad IPv4, printable ASCII); "
        "not a loopback, private, link-local, multicast or other non-public address.",
    )
    kinds: list[Kind] = Field(
        default_factory=list,
        max_length=MAX_KINDS,
        description="Only entries of these kinds (empty: every entry).",
    )
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        pattern=SECRET_PATTERN,
        description="HMAC-SHA256 key for the signature header; generated when absent.",
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    kinds: list[str]
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description=f"Shown once: verifies the {SIGNATURE_HEADER} header.")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    seq: int
    kind: str
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    delivered: bool


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


def _number(webhook_id: str) -> int:
    """Path ids follow the API's id grammar; one that is not a registration number is unknown."""
    if not (webhook_id.isascii() and webhook_id.isdigit()) or len(webhook_id) > 18:
        raise NotFoundError(f"no webhook {webhook_id!r}")
    return int(webhook_id)


def _out(hook: Webhook) -> WebhookOut:
    return WebhookOut(id=hook.id, url=hook.url, kinds=list(hook.kinds), created_at=hook.created_at)


def _delivery(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        seq=d.seq,
        kind=d.kind,
        attempt=d.attempt,
        attempted_at=d.attempted_at,
        status_code=d.status_code,
        error=d.error,
        delivered=d.delivered,
    )


@router.post(
    "",
    summary="Register a webhook for this key",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
)
async def create_webhook(key: Fleet, services: ServicesDep, body: WebhookIn) -> WebhookCreated:
    """New log entries (of ``kinds``, or all) are POSTed to ``url`` as the event stream's JSON,
    signed ``X-Planner-Signature: sha256=<hex HMAC-SHA256 of the body>``; failures are retried
    with exponential backoff. The secret is returned once. A URL whose host is or resolves
    to a loopback, private, link-local, multicast or other non-public address is 422 (unless
    in ``PLANNER_WEBHOOK_ALLOW_NETWORKS``); deliveries start after the current log head."""
    await run_in_threadpool(services.webhook_guard.check, body.url, unresolved_ok=True)
    hook = await run_in_threadpool(
        services.webhooks.create,
        key_prefix=key.prefix,
        url=body.url,
        kinds=tuple(dict.fromkeys(body.kinds)),
        secret=body.secret,
        after_seq=services.log.head(),
    )
    return WebhookCreated(**_out(hook).model_dump(), secret=hook.secret)


@router.get("", summary="This key's webhooks", response_model=WebhookList)
async def list_webhooks(key: Fleet, services: ServicesDep) -> WebhookList:
    """Live registrations of the calling key (secrets are not shown again)."""
    hooks = await run_in_threadpool(services.webhooks.live, key_prefix=key.prefix)
    return WebhookList(items=[_out(h) for h in hooks])


@router.delete(
    "/{webhook_id}",
    summary="Remove a webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def delete_webhook(key: Fleet, services: ServicesDep, webhook_id: WebhookId) -> Response:
    """Deliveries stop, pending retries included; 404 if the key has no such webhook."""
    await run_in_threadpool(services.webhooks.delete, _number(webhook_id), key_prefix=key.prefix)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{webhook_id}/deliveries", summary="A webhook's delivery log", response_model=DeliveryList
)
async def webhook_deliveries(
    key: Fleet, services: ServicesDep, webhook_id: WebhookId
) -> DeliveryList:
    """The latest 100 attempts, oldest first: entry seq and kind, attempt number, the
    receiver's status code or the error, and whether it counted as delivered (2xx)."""
    number = _number(webhook_id)
    await run_in_threadpool(services.webhooks.get, number, key_prefix=key.prefix)
    items = await run_in_threadpool(services.webhooks.deliveries, number)
    return DeliveryList(items=[_delivery(d) for d in items])

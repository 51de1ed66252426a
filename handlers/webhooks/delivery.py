"""One delivery from a CRM or helpdesk, and the steps every source takes with it: check the signature with the
source's own scheme, read the payload with its own mapping, then store the event (or every event of a batch) in the
workspace it is for, and answer the way that vendor expects.

A source is one `WebhookSource` (handlers/webhooks/sources.py lists them): whether its secret comes from settings
(a single-workspace install) or from a workspace's connection, a delivery goes through the same steps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from bot.context import AppContext
from bot.settings import Settings
from habits.connections import SourceGuide
from habits.events import BusinessEvent
from habits.vendor_events import Ignored
from handlers.webhooks.intake import (
    capped_body,
    ignored,
    no_single_workspace,
    problem,
    refused_signature,
    store_all,
    store_and_answer,
)
from handlers.webhooks.signature import SignatureRejected


@dataclass(frozen=True)
class Delivery:
    request: Request
    # Within the size limit, not yet trusted until the source's `verify` passes.
    body: bytes
    context: AppContext
    # The secrets the source signs with, by the names its guide gives them ("secret", "signing_secret").
    secrets: Mapping[str, str]
    # What the connection keeps that is not secret (a Salesforce Organization ID).
    details: Mapping[str, str] = field(default_factory=dict)

    def secret(self, name: str, *, source: str) -> str:
        """The named secret; a delivery is never checked against an empty one (anyone can sign with that)."""
        value = self.secrets.get(name)
        if not value:
            raise SignatureRejected(
                # Read on Slack and on Teams (`connections`) and by the sender: no platform's command prefix.
                f"this connection has no {name.replace('_', ' ')} yet: an admin connects {source} again to add it"
            )
        return value


@dataclass(frozen=True)
class Batch:
    """The events of a delivery that carries many (HubSpot's array of notifications, the up to 100 notifications of a
    Salesforce outbound message), all stored before the sender is answered."""

    events: Sequence[BusinessEvent]
    # What the sender is told once every event is stored, given each one's id (None: stored before, a repeat).
    answer: Callable[[Sequence[int | None]], Response]


# Raises SignatureRejected (the reason is shown to the sender) unless the delivery is signed as the source signs.
Verify = Callable[[Delivery], None]
# The event a trusted delivery describes, the batch it carries, Ignored with the reason, or a 4xx saying what is
# wrong with it.
Read = Callable[[Delivery], Awaitable[BusinessEvent | Batch | Ignored | Response]]


def usual_body_limit(settings: Settings) -> int:
    return settings.webhook_max_body_bytes


@dataclass(frozen=True)
class WebhookSource:
    guide: SourceGuide
    verify: Verify
    read: Read
    # The largest body the source may send (Salesforce's messages hold up to 100 records).
    body_limit: Callable[[Settings], int] = usual_body_limit

    @property
    def name(self) -> str:
        return self.guide.source


async def receive(source: WebhookSource, delivery: Delivery, *, workspace_id: str) -> Response:
    """Checks, reads and stores one delivery in `workspace_id`: 401, 400, 200 ignored or duplicate, 202 or 503; a
    batch is answered as its source says once every event in it is stored."""
    refused = refused_signature(
        delivery.body, sender=f"{source.name} webhook", check=lambda _body: source.verify(delivery)
    )
    if refused is not None:
        return refused
    event = await source.read(delivery)
    if isinstance(event, Response):
        return event
    if isinstance(event, Ignored):
        return ignored(source.name, event.reason)
    if isinstance(event, Batch):
        stored = await store_all(delivery.context, event.events, workspace_id=workspace_id)
        return stored if isinstance(stored, Response) else event.answer(stored)
    return await store_and_answer(delivery.context, event, workspace_id=workspace_id)


async def receive_server_wide(
    request: Request, source: WebhookSource, *, secret_setting: str, secret_name: str
) -> Response:
    """A vendor's address for the whole server (`POST /webhooks/<source>`), on a single-workspace install: signed
    with the secret in the setting `secret_setting`, which the source's check reads as `secret_name`."""
    context: AppContext = request.app.state.context
    if (refused := no_single_workspace(context)) is not None:
        return refused
    secret = context.settings.secret(secret_setting)
    if not secret or not secret.strip() or not context.default_workspace_id:
        return problem(
            503, f"{source.guide.name} webhooks are not configured on this whoelse: set {secret_setting.upper()}"
        )
    body = await capped_body(request, context)
    if isinstance(body, JSONResponse):
        return body
    delivery = Delivery(request=request, body=body, context=context, secrets={secret_name: secret})
    return await receive(source, delivery, workspace_id=context.default_workspace_id)

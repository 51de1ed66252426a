"""One delivery from a CRM or helpdesk, and the steps every source takes with it: check the signature with the
source's own scheme, read the payload with its own mapping, then store the event in the workspace it is for.

A source is one `WebhookSource` (handlers/webhooks/sources.py lists them): whether its secret comes from settings
(a single-workspace install) or from a workspace's connection, a delivery goes through the same steps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import JSONResponse

from bot.context import AppContext
from habits.connections import SourceGuide
from habits.events import BusinessEvent
from habits.vendor_events import Ignored
from handlers.webhooks.intake import ignored, refused_signature, store_and_answer
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


# Raises SignatureRejected (the reason is shown to the sender) unless the delivery is signed as the source signs.
Verify = Callable[[Delivery], None]
# The event a trusted delivery describes, Ignored with the reason, or a 400 saying what is wrong with the payload.
Read = Callable[[Delivery], Awaitable[BusinessEvent | Ignored | JSONResponse]]


@dataclass(frozen=True)
class WebhookSource:
    guide: SourceGuide
    verify: Verify
    read: Read

    @property
    def name(self) -> str:
        return self.guide.source


async def receive(source: WebhookSource, delivery: Delivery, *, workspace_id: str) -> JSONResponse:
    """Checks, reads and stores one delivery in `workspace_id`: 401, 400, 200 ignored or duplicate, 202 or 503."""
    refused = refused_signature(
        delivery.body, sender=f"{source.name} webhook", check=lambda _body: source.verify(delivery)
    )
    if refused is not None:
        return refused
    event = await source.read(delivery)
    if isinstance(event, JSONResponse):
        return event
    if isinstance(event, Ignored):
        return ignored(source.name, event.reason)
    return await store_and_answer(delivery.context, event, workspace_id=workspace_id)

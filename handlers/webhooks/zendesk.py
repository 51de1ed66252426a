"""`POST /webhooks/zendesk`: Zendesk's own webhooks (trigger webhooks and ticket event subscriptions), signed with
the webhook's signing secret over the timestamp and the body."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from habits.connections import Asked, SourceGuide
from habits.events import BusinessEvent
from habits.messages import command
from habits.vendor_events import Ignored, UnreadablePayload
from habits.vendor_events.zendesk import zendesk_event
from handlers.webhooks.delivery import Delivery, WebhookSource, receive_server_wide
from handlers.webhooks.intake import json_object, problem
from handlers.webhooks.signature import SignatureRejected

logger = logging.getLogger(__name__)

ZENDESK_GUIDE = SourceGuide(
    source="zendesk",
    name="Zendesk",
    asks=(
        Asked(
            key="signing_secret",
            label="Signing secret",
            placeholder="Admin Center > Webhooks > your webhook > Reveal secret",
            # Zendesk reveals it only once the webhook exists, which needs the address whoelse gives first.
            optional=True,
        ),
    ),
    steps=lambda url, secret: [
        "In Admin Center, go to *Apps and integrations > Webhooks > Create webhook*.",
        "Subscribe it to *Ticket priority changed* and *Ticket status changed* (or use it from triggers, with the "
        "body template in whoelse's README).",
        "Endpoint URL: paste the webhook address above; method POST, format JSON, no authentication.",
        "Create it, then on its page choose *Reveal secret* under *Signing secret*.",
        f"Urgent priorities, reopenings and escalations then nudge the channel that ran {command('watch tickets')}.",
    ],
)


def verify_zendesk(
    *, body: bytes, signature: str | None, timestamp: str | None, secret: str, now: datetime, max_age_seconds: int
) -> None:
    """Zendesk's scheme: `X-Zendesk-Webhook-Signature` is base64(HMAC-SHA256(timestamp + body)) under the signing
    secret, with the ISO-8601 `X-Zendesk-Webhook-Signature-Timestamp`; an old timestamp is a replay."""
    if not signature:
        raise SignatureRejected("missing X-Zendesk-Webhook-Signature header")
    if not timestamp:
        raise SignatureRejected("missing X-Zendesk-Webhook-Signature-Timestamp header")
    try:
        sent_at = datetime.fromisoformat(timestamp.strip())
    except ValueError as error:
        raise SignatureRejected("X-Zendesk-Webhook-Signature-Timestamp must be an ISO-8601 time") from error
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)
    if abs((now - sent_at).total_seconds()) > max_age_seconds:
        raise SignatureRejected(
            f"X-Zendesk-Webhook-Signature-Timestamp is more than {max_age_seconds // 60} minutes off"
        )
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureRejected("X-Zendesk-Webhook-Signature must be base64") from error
    expected = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        raise SignatureRejected("signature does not match the body")


def verify_delivery(delivery: Delivery) -> None:
    secret = delivery.secret("signing_secret", source="zendesk")
    verify_zendesk(
        body=delivery.body,
        signature=delivery.request.headers.get("x-zendesk-webhook-signature"),
        timestamp=delivery.request.headers.get("x-zendesk-webhook-signature-timestamp"),
        secret=secret,
        now=delivery.context.clock(),
        max_age_seconds=delivery.context.settings.webhook_max_age_seconds,
    )


async def read_delivery(delivery: Delivery) -> BusinessEvent | Ignored | JSONResponse:
    document = json_object(delivery.body)
    if isinstance(document, JSONResponse):
        return document
    try:
        return zendesk_event(document)
    except UnreadablePayload as unreadable:
        return problem(400, str(unreadable))


ZENDESK = WebhookSource(guide=ZENDESK_GUIDE, verify=verify_delivery, read=read_delivery)


async def zendesk_webhook(request: Request) -> Response:
    """`POST /webhooks/zendesk` (registered in handlers/webhooks): the single-workspace install's Zendesk, whose
    signing secret is ZENDESK_WEBHOOK_SECRET."""
    return await receive_server_wide(
        request, ZENDESK, secret_setting="zendesk_webhook_secret", secret_name="signing_secret"
    )

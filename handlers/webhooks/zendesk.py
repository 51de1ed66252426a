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
from fastapi.responses import JSONResponse

from bot.context import AppContext
from habits.vendor_events import Ignored, UnreadablePayload
from habits.vendor_events.zendesk import SOURCE, zendesk_event
from handlers.webhooks.intake import (
    ignored,
    json_object,
    no_single_workspace,
    problem,
    signed_body,
    store_and_answer,
)
from handlers.webhooks.signature import SignatureRejected

logger = logging.getLogger(__name__)


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


async def zendesk_webhook(request: Request) -> JSONResponse:
    """`POST /webhooks/zendesk` (registered in handlers/webhooks)."""
    context: AppContext = request.app.state.context
    settings = context.settings
    if (refused := no_single_workspace(context)) is not None:
        return refused
    secret = settings.secret("zendesk_webhook_secret")
    if not secret or not secret.strip() or not context.default_workspace_id:
        return problem(503, "Zendesk webhooks are not configured on this whoelse: set ZENDESK_WEBHOOK_SECRET")

    body = await signed_body(
        request,
        context,
        sender="Zendesk webhook",
        check=lambda raw: verify_zendesk(
            body=raw,
            signature=request.headers.get("x-zendesk-webhook-signature"),
            timestamp=request.headers.get("x-zendesk-webhook-signature-timestamp"),
            secret=secret,
            now=context.clock(),
            max_age_seconds=settings.webhook_max_age_seconds,
        ),
    )
    if isinstance(body, JSONResponse):
        return body

    document = json_object(body)
    if isinstance(document, JSONResponse):
        return document
    try:
        event = zendesk_event(document)
    except UnreadablePayload as unreadable:
        return problem(400, str(unreadable))
    if isinstance(event, Ignored):
        return ignored(SOURCE, event.reason)
    return await store_and_answer(context, event)

"""`POST /webhooks/jira`: Jira Cloud's own issue webhooks, signed with the webhook's secret (X-Hub-Signature)."""

from __future__ import annotations

import hashlib
import hmac
import logging

from fastapi import Request
from fastapi.responses import JSONResponse

from bot.context import AppContext
from habits.vendor_events import Ignored, UnreadablePayload
from habits.vendor_events.jira import SOURCE, jira_event
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

MAX_DELIVERY_ID_LENGTH = 255


def verify_jira(*, body: bytes, signature: str | None, secret: str) -> None:
    """Jira's scheme: `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>` under the webhook's secret."""
    if not signature:
        raise SignatureRejected("missing X-Hub-Signature header (give the Jira webhook the secret whoelse has)")
    method, _, digest = signature.partition("=")
    if method.strip().lower() != "sha256" or not digest:
        raise SignatureRejected("X-Hub-Signature must look like sha256=<hex digest>")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        raise SignatureRejected("signature does not match the body")


async def jira_webhook(request: Request) -> JSONResponse:
    """`POST /webhooks/jira` (registered in handlers/webhooks)."""
    context: AppContext = request.app.state.context
    settings = context.settings
    if (refused := no_single_workspace(context)) is not None:
        return refused
    secret = settings.secret("jira_webhook_secret")
    if not secret or not secret.strip() or not context.default_workspace_id:
        return problem(503, "Jira webhooks are not configured on this whoelse: set JIRA_WEBHOOK_SECRET")

    body = await signed_body(
        request,
        context,
        sender="Jira webhook",
        check=lambda raw: verify_jira(body=raw, signature=request.headers.get("x-hub-signature"), secret=secret),
    )
    if isinstance(body, JSONResponse):
        return body

    # Stable across Jira's retries of one delivery, so a retry is recognised and never nudges twice.
    delivery_id = (request.headers.get("x-atlassian-webhook-identifier") or "").strip()
    if not delivery_id or len(delivery_id) > MAX_DELIVERY_ID_LENGTH:
        return problem(400, "missing or overlong X-Atlassian-Webhook-Identifier header")
    document = json_object(body)
    if isinstance(document, JSONResponse):
        return document
    try:
        event = jira_event(document, delivery_id=delivery_id)
    except UnreadablePayload as unreadable:
        return problem(400, str(unreadable))
    if isinstance(event, Ignored):
        return ignored(SOURCE, event.reason)
    return await store_and_answer(context, event)

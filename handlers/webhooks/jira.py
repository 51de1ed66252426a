"""`POST /webhooks/jira`: Jira Cloud's own issue webhooks, signed with the webhook's secret (X-Hub-Signature)."""

from __future__ import annotations

import hashlib
import hmac
import logging

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from habits.connections import SourceGuide
from habits.events import BusinessEvent
from habits.messages import command
from habits.vendor_events import Ignored, UnreadablePayload
from habits.vendor_events.jira import jira_event
from handlers.webhooks.delivery import Delivery, WebhookSource, receive_server_wide
from handlers.webhooks.intake import json_object, problem
from handlers.webhooks.signature import SignatureRejected

logger = logging.getLogger(__name__)

JIRA_GUIDE = SourceGuide(
    source="jira",
    name="Jira",
    generates="secret",
    steps=lambda url, secret: [
        "Go to *Settings > System > WebHooks* and choose *Create a WebHook*.",
        "URL: paste the webhook address above. Secret: paste the secret above.",
        "Events: *Issue created* and *Issue updated* (a JQL filter such as `project = SUP` keeps other projects "
        "out), then *Create*.",
        f"Escalations, reopenings and urgent priorities then nudge the channel that ran {command('watch tickets')}.",
    ],
)

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


def verify_delivery(delivery: Delivery) -> None:
    verify_jira(
        body=delivery.body,
        signature=delivery.request.headers.get("x-hub-signature"),
        secret=delivery.secret("secret", source="jira"),
    )


async def read_delivery(delivery: Delivery) -> BusinessEvent | Ignored | JSONResponse:
    # Stable across Jira's retries of one delivery, so a retry is recognised and never nudges twice.
    delivery_id = (delivery.request.headers.get("x-atlassian-webhook-identifier") or "").strip()
    if not delivery_id or len(delivery_id) > MAX_DELIVERY_ID_LENGTH:
        return problem(400, "missing or overlong X-Atlassian-Webhook-Identifier header")
    document = json_object(delivery.body)
    if isinstance(document, JSONResponse):
        return document
    try:
        return jira_event(document, delivery_id=delivery_id)
    except UnreadablePayload as unreadable:
        return problem(400, str(unreadable))


JIRA = WebhookSource(guide=JIRA_GUIDE, verify=verify_delivery, read=read_delivery)


async def jira_webhook(request: Request) -> Response:
    """`POST /webhooks/jira` (registered in handlers/webhooks): the single-workspace install's Jira, whose secret is
    JIRA_WEBHOOK_SECRET."""
    return await receive_server_wide(request, JIRA, secret_setting="jira_webhook_secret", secret_name="secret")

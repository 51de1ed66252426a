"""`POST /webhooks/hubspot` (from settings) and a workspace's connected HubSpot (`/webhooks/hubspot/<key>`): HubSpot's
own webhook subscriptions (deals and tickets), batched, signed with the app's client secret (`X-HubSpot-Signature-v3`).

Each notification is stored before the batch is answered; the deal's or ticket's name, amount, stage and owner are
read from HubSpot's CRM API afterwards, before the nudge rules decide (bot/hubspot/details.py says why).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Sequence

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from bot.context import AppContext
from bot.settings import Settings
from habits.connections import Asked, SourceGuide
from habits.events import BusinessEvent
from habits.messages import command
from habits.nudging import OUTCOME_DETAILS
from habits.vendor_events import Ignored, UnreadablePayload
from habits.vendor_events.hubspot import SOURCE, hubspot_event
from handlers.webhooks.delivery import Batch, Delivery, WebhookSource, receive
from handlers.webhooks.intake import capped_body, count_ignored, json_document, problem
from handlers.webhooks.signature import SignatureRejected

logger = logging.getLogger(__name__)


def _private_app_token_problem(value: str) -> str | None:
    if not value.startswith("pat-"):
        return "A private app's access token starts with pat- (its Auth tab, Access token > Show token > Copy)."
    return None


HUBSPOT_GUIDE = SourceGuide(
    source=SOURCE,
    name="HubSpot",
    asks=(
        Asked(
            key="client_secret",
            label="Client secret",
            placeholder="Your private app's Auth tab > Client secret",
        ),
        Asked(
            key="private_app_token",
            label="Private app access token",
            placeholder="pat-… (the same Auth tab > Access token)",
            problem=_private_app_token_problem,
        ),
    ),
    steps=lambda url, secret: [
        "Go to *Settings > Integrations > Private Apps* and open (or create) the app whose secret and token you "
        "gave; on *Scopes*, tick `crm.objects.deals.read`, `tickets` and `crm.objects.owners.read`.",
        "On its *Webhooks* tab, set the *Target URL* to the webhook address above.",
        "Create the subscriptions *Deal > Created*, *Deal > Property changed > Deal stage*, *Ticket > Created*, "
        "*Ticket > Property changed > Priority* and *Ticket > Property changed > Pipeline stage*, then commit the "
        "changes.",
        f"New deals, stage changes, wins and losses then nudge the channel that ran {command('watch deals')}; raised "
        f"priorities, reopenings and escalations the one that ran {command('watch tickets')}, with each deal's or "
        "ticket's name, amount, stage and owner read from HubSpot with the token.",
    ],
)

# HubSpot signs the URI with these characters decoded (its documented list); every other escape stays as sent.
DECODED_IN_URI = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def _as_signed(uri: str) -> str:
    for escaped, character in DECODED_IN_URI.items():
        uri = uri.replace(escaped, character).replace(escaped.lower(), character)
    return uri


def hubspot_v3_signature(*, secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(client secret, method + URI + body + timestamp)), as HubSpot computes it."""
    signed = method.upper().encode() + _as_signed(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def verify_hubspot_v3(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now_ms: int,
    max_age_seconds: int,
) -> None:
    """Raises SignatureRejected unless the request is HubSpot's: the public URI it called (scheme and host
    included, as HubSpot saw them, not as a proxy passed them on), and a timestamp in milliseconds that is fresh."""
    if not signature:
        raise SignatureRejected("missing X-HubSpot-Signature-v3 header")
    if not timestamp or not timestamp.strip().isdigit() or not timestamp.isascii():
        raise SignatureRejected("missing X-HubSpot-Request-Timestamp header, or not milliseconds")
    if abs(now_ms - int(timestamp)) > max_age_seconds * 1000:
        raise SignatureRejected(f"X-HubSpot-Request-Timestamp is more than {max_age_seconds // 60} minutes off")
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureRejected("X-HubSpot-Signature-v3 must be base64") from error
    expected = hubspot_v3_signature(secret=secret, method=method, uri=uri, body=body, timestamp=timestamp.strip())
    if not hmac.compare_digest(base64.b64decode(expected), given):
        raise SignatureRejected("signature does not match the request")


BATCH_DETAILS = {
    "accepted": "stored; whoelse reads each deal or ticket from HubSpot and decides within moments",
    "duplicate_event": OUTCOME_DETAILS["duplicate_event"],
    "ignored": "nothing in this batch is a deal or ticket moment whoelse watches; nothing stored",
}


def _first(header: str | None) -> str | None:
    """The value the first proxy set (the one facing HubSpot), of a header each proxy may append to."""
    value = (header or "").split(",")[0].strip()
    return value or None


def public_uri(request: Request, settings: Settings) -> str:
    """The URI HubSpot called, as it signed it: PUBLIC_BASE_URL when set; otherwise the scheme and host the
    request arrived with, or those a trusted proxy says HubSpot used. The path and query are as sent, escapes kept."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string") or b""
    target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    if settings.public_base_url:
        return settings.public_base_url + target
    scheme, host = request.url.scheme, request.headers.get("host") or request.url.netloc
    if settings.trusted_proxy_headers:
        scheme = _first(request.headers.get("x-forwarded-proto")) or scheme
        host = _first(request.headers.get("x-forwarded-host")) or host
    return f"{scheme}://{host}{target}"


def _notifications(body: bytes) -> list[object] | JSONResponse:
    document = json_document(body)
    if isinstance(document, JSONResponse):
        return document
    if not isinstance(document, list):
        return problem(400, "body must be a JSON array of HubSpot notifications")
    return document


def verify_delivery(delivery: Delivery) -> None:
    """The v3 signature covers the public URI HubSpot called: a connection's address is PUBLIC_BASE_URL and its path."""
    request, context = delivery.request, delivery.context
    verify_hubspot_v3(
        secret=delivery.secret("client_secret", source=SOURCE),
        method=request.method,
        uri=public_uri(request, context.settings),
        body=delivery.body,
        signature=request.headers.get("x-hubspot-signature-v3"),
        timestamp=request.headers.get("x-hubspot-request-timestamp"),
        now_ms=int(context.clock().timestamp() * 1000),
        max_age_seconds=context.settings.webhook_max_age_seconds,
    )


async def read_delivery(delivery: Delivery) -> Batch | Response:
    """Every deal or ticket notification of the batch; 400 when none of them is readable."""
    notifications = _notifications(delivery.body)
    if isinstance(notifications, JSONResponse):
        return notifications
    events: list[BusinessEvent] = []
    ignored = 0
    unreadable: list[str] = []
    for position, notification in enumerate(notifications):
        try:
            event = hubspot_event(notification)
        except UnreadablePayload as reason:
            unreadable.append(f"notification {position}: {reason}")
            continue
        if isinstance(event, Ignored):
            count_ignored(SOURCE, event.reason)
            ignored += 1
        else:
            events.append(event)
    if unreadable and not events:
        return problem(400, "; ".join(unreadable[:10]), unreadable=len(unreadable), ignored=ignored)
    return Batch(events=events, answer=lambda stored: _answer(stored, ignored=ignored, unreadable=unreadable))


def _answer(stored: Sequence[int | None], *, ignored: int, unreadable: list[str]) -> JSONResponse:
    """202 with what was accepted, or 200 when nothing in the batch was new."""
    accepted = [event_id for event_id in stored if event_id is not None]
    status = "accepted" if accepted else "duplicate_event" if stored else "ignored"
    answer: dict[str, object] = {
        "status": status,
        "accepted": len(accepted),
        "duplicates": len(stored) - len(accepted),
        "ignored": ignored,
        "event_ids": accepted,
        "detail": BATCH_DETAILS[status],
    }
    if unreadable:
        answer |= {"unreadable": len(unreadable), "problems": unreadable[:10]}
    return JSONResponse(answer, status_code=202 if accepted else 200)


HUBSPOT = WebhookSource(guide=HUBSPOT_GUIDE, verify=verify_delivery, read=read_delivery)


async def hubspot_webhook(request: Request) -> Response:
    """`POST /webhooks/hubspot` (registered in handlers/webhooks), for this install's own workspace and HubSpot."""
    context: AppContext = request.app.state.context
    settings = context.settings
    values = {name: settings.secret(name) for name in ("hubspot_client_secret", "hubspot_private_app_token")}
    missing = [name.upper() for name, value in values.items() if not value or not value.strip()]
    if missing:
        return problem(503, f"HubSpot webhooks are not configured on this whoelse: set {' and '.join(missing)}")
    if not context.default_workspace_id:
        return problem(503, "HubSpot webhooks need a workspace to land in: turn Slack on, or set TEAMS_TENANT_ID")
    body = await capped_body(request, context)
    if isinstance(body, JSONResponse):
        return body
    secrets = {"client_secret": values["hubspot_client_secret"] or ""}
    delivery = Delivery(request=request, body=body, context=context, secrets=secrets)
    return await receive(HUBSPOT, delivery, workspace_id=context.default_workspace_id)

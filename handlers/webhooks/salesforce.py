"""`POST /webhooks/salesforce/{token}`: Salesforce Outbound Messages about Opportunities and Cases, for the install
configured by settings or for a workspace's connected Salesforce (whose address has the same shape).

Salesforce does not sign outbound messages: the message's OrganizationId and an unguessable URL are the check. Every
notification is acknowledged once stored (or found not to matter), with the exact SOAP answer Salesforce expects;
without it Salesforce redelivers the message for a day.
"""

from __future__ import annotations

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
from habits.vendor_events import Ignored, UnreadablePayload
from habits.vendor_events.salesforce import (
    SOURCE,
    fifteen_character_id,
    read_outbound_message,
    salesforce_event,
    same_organization,
)
from handlers.webhooks.connected import NO_CONNECTION, deliver_to_connection
from handlers.webhooks.delivery import Batch, Delivery, WebhookSource, receive
from handlers.webhooks.intake import capped_body, count_ignored, problem

logger = logging.getLogger(__name__)

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<soapenv:Body>"
    '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    "<Ack>true</Ack>"
    "</notificationsResponse>"
    "</soapenv:Body>"
    "</soapenv:Envelope>"
)
ORGANIZATION_ID = "organization_id"


def _organization_id_problem(value: str) -> str | None:
    if not value.startswith("00D") or fifteen_character_id(value) is None:
        return (
            "An Organization ID starts with 00D and is 15 or 18 letters and digits: copy it from Setup > Company "
            "Information."
        )
    return None


SALESFORCE_GUIDE = SourceGuide(
    source=SOURCE,
    name="Salesforce",
    asks=(
        Asked(
            key=ORGANIZATION_ID,
            label="Organization ID",
            placeholder="00D… from Setup > Company Information",
            secret=False,
            problem=_organization_id_problem,
        ),
    ),
    steps=lambda url, secret: [
        "Salesforce does not sign its outbound messages: the address above is the secret, and only messages from "
        "the Organization ID you gave are taken. Paste it nowhere else.",
        "Optional, so the nudge mentions the owner: on Opportunity and on Case, add a Text formula field "
        "`Owner_Email__c` = `Owner:User.Email` (and on Opportunity `Account_Name__c` = `Account.Name`).",
        "*Setup > Outbound Messages > New Outbound Message*, object *Opportunity*: Endpoint URL: the address above; "
        "fields `Id`, `Name`, `StageName`, `IsClosed`, `IsWon`, `CreatedDate`, `LastModifiedDate` (and the formula "
        "fields). The same for *Case*: `Id`, `CaseNumber`, `Subject`, `Priority`, `Status`, `IsEscalated`, "
        "`IsClosed`, `CreatedDate`, `LastModifiedDate`.",
        "Send each one from a record-triggered flow or workflow rule on new records and the changes that matter "
        "(whoelse's README, section Salesforce, has the formulas).",
        f"New deals, stage changes, wins and losses then nudge the channel that ran {command('watch deals')}; "
        f"escalated, urgent and reopened cases the one that ran {command('watch tickets')}.",
    ],
)


def acknowledged() -> Response:
    return Response(ACK, status_code=200, media_type="text/xml; charset=utf-8")


def verify_delivery(_delivery: Delivery) -> None:
    """Nothing is signed: the address (settings' token or a connection's key) and the org, read with the message,
    are the check."""


async def read_delivery(delivery: Delivery) -> Batch | Response:
    """The message's notifications, once its OrganizationId is the org connected (15 or 18 characters); 401 for
    another org, 400 for a message whoelse cannot read."""
    organization_id = str(delivery.details.get(ORGANIZATION_ID) or "")
    try:
        message = read_outbound_message(delivery.body)
    except UnreadablePayload as unreadable:
        return problem(400, str(unreadable))
    if not same_organization(organization_id, message.organization_id):
        logger.warning("Salesforce outbound message from org %s refused", message.organization_id)
        return problem(
            401, f"OrganizationId {message.organization_id} is not the Salesforce org this whoelse is connected to"
        )
    events: list[BusinessEvent] = []
    try:
        for notification in message.notifications:
            event = salesforce_event(notification, instance_host=message.instance_host)
            if isinstance(event, Ignored):
                count_ignored(SOURCE, event.reason)
            else:
                events.append(event)
    except UnreadablePayload as unreadable:
        return problem(400, str(unreadable))
    return Batch(events=events, answer=_acknowledge_all)


def _acknowledge_all(_stored: Sequence[int | None]) -> Response:
    # A redelivered notification is found stored already and acknowledged all the same, so Salesforce stops.
    return acknowledged()


def salesforce_body_limit(settings: Settings) -> int:
    return settings.salesforce_max_body_bytes


SALESFORCE = WebhookSource(
    guide=SALESFORCE_GUIDE, verify=verify_delivery, read=read_delivery, body_limit=salesforce_body_limit
)


async def salesforce_webhook(request: Request, token: str) -> Response:
    """`POST /webhooks/salesforce/{token}` (registered in handlers/webhooks): the single-workspace install that
    SALESFORCE_ORGANIZATION_ID and SALESFORCE_WEBHOOK_TOKEN configure, or else the workspace whose connection has
    `token` as its key."""
    context: AppContext = request.app.state.context
    settings = context.settings
    expected = settings.secret("salesforce_webhook_token")
    organization_id = settings.salesforce_organization_id
    configured = bool(expected and organization_id and context.default_workspace_id)
    if not configured or not hmac.compare_digest(token.encode(), (expected or "").encode()):
        # Not the configured address: a workspace's connection, or not an address whoelse serves.
        return await deliver_to_connection(
            request, SALESFORCE, token, unknown=lambda: _not_served(context, configured=configured)
        )
    body = await capped_body(request, context, limit=SALESFORCE.body_limit(settings))
    if isinstance(body, JSONResponse):
        return body
    delivery = Delivery(
        request=request, body=body, context=context, secrets={}, details={ORGANIZATION_ID: organization_id or ""}
    )
    return await receive(SALESFORCE, delivery, workspace_id=context.default_workspace_id)


def _not_served(context: AppContext, *, configured: bool) -> JSONResponse:
    if configured or context.settings.slack_multi_workspace:
        # The address itself is the secret: a wrong one is simply not an address whoelse serves.
        return problem(404, NO_CONNECTION)
    return problem(
        503,
        "Salesforce is not configured on this whoelse: set SALESFORCE_ORGANIZATION_ID and SALESFORCE_WEBHOOK_TOKEN, "
        "or connect it with /whoelse connect salesforce",
    )

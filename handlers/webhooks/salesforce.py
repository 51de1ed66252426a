"""`POST /webhooks/salesforce/{token}`: Salesforce Outbound Messages about Opportunities and Cases.

Salesforce does not sign outbound messages: the message's OrganizationId and an unguessable URL are the check. Every
notification is acknowledged once stored (or found not to matter), with the exact SOAP answer Salesforce expects;
without it Salesforce redelivers the message for a day.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from bot.context import AppContext
from habits.events import BusinessEvent
from habits.vendor_events import Ignored, UnreadablePayload
from habits.vendor_events.salesforce import SOURCE, read_outbound_message, salesforce_event, same_organization
from handlers.webhooks.intake import STORE_RETRY_AFTER_SECONDS, capped_body, count_ignored, problem

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


def acknowledged() -> Response:
    return Response(ACK, status_code=200, media_type="text/xml; charset=utf-8")


async def accept_outbound_message(
    context: AppContext, body: bytes, *, workspace_id: str, organization_id: str
) -> Response:
    """Reads, checks and stores one outbound message for `workspace_id`, whose Salesforce org is `organization_id`
    (15 or 18 characters); answers with Salesforce's acknowledgement, or a 4xx/503 with the reason."""
    try:
        message = read_outbound_message(body)
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
    return await _store_all(context, events, workspace_id=workspace_id)


async def _store_all(context: AppContext, events: list[BusinessEvent], *, workspace_id: str) -> Response:
    """Stores every event of the message (a redelivered notification is found stored already and left alone)."""
    assert context.intake is not None
    intake = context.intake
    try:
        # Side by side, so the batch shares the database's group commits instead of waiting one by one.
        await asyncio.gather(*(intake.accept(workspace_id=workspace_id, event=event) for event in events))
    except (SQLAlchemyError, OSError):  # OSError includes TimeoutError: the database did not answer in time.
        logger.exception("could not store a Salesforce outbound message's %d events", len(events))
        refused = problem(503, "the events could not be stored; Salesforce retries the message", retry=True)
        refused.headers["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)
        return refused
    return acknowledged()


async def salesforce_webhook(request: Request, token: str) -> Response:
    """`POST /webhooks/salesforce/{token}` (registered in handlers/webhooks), for the single-workspace install that
    SALESFORCE_ORGANIZATION_ID and SALESFORCE_WEBHOOK_TOKEN configure."""
    context: AppContext = request.app.state.context
    settings = context.settings
    expected = settings.secret("salesforce_webhook_token")
    organization_id = settings.salesforce_organization_id
    if not expected or not organization_id or not context.default_workspace_id:
        return problem(
            503,
            "Salesforce is not configured on this whoelse: set SALESFORCE_ORGANIZATION_ID and SALESFORCE_WEBHOOK_TOKEN",
        )
    if not hmac.compare_digest(token.encode(), expected.encode()):
        # The address itself is the secret: a wrong one is simply not an address whoelse serves.
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    body = await capped_body(request, context, limit=settings.salesforce_max_body_bytes)
    if isinstance(body, JSONResponse):
        return body
    return await accept_outbound_message(
        context, body, workspace_id=context.default_workspace_id, organization_id=organization_id
    )

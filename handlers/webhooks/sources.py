"""Every source a workspace can connect (`/whoelse connect <source>`), by the name in its webhook URL, and the route
their connections' deliveries arrive at.

Adding a source is one entry: its `WebhookSource` says what the form asks, what whoelse generates, how deliveries are
verified and read, how the sender is answered, and the steps to follow in that system.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from handlers.webhooks.connected import NO_CONNECTION, deliver_to_connection
from handlers.webhooks.delivery import WebhookSource
from handlers.webhooks.generic import GENERIC
from handlers.webhooks.hubspot import HUBSPOT
from handlers.webhooks.intake import problem
from handlers.webhooks.jira import JIRA
from handlers.webhooks.salesforce import SALESFORCE
from handlers.webhooks.zendesk import ZENDESK

SOURCES: dict[str, WebhookSource] = {
    source.name: source for source in (GENERIC, HUBSPOT, JIRA, SALESFORCE, ZENDESK)
}


async def connected_webhook(request: Request, source: str, key: str) -> Response:
    """`POST /webhooks/{source}/{key}` (registered in handlers/webhooks); Salesforce's connections arrive through
    its own route, which has the same shape (handlers/webhooks/salesforce.py)."""
    webhook = SOURCES.get(source)
    if webhook is None:
        return problem(404, NO_CONNECTION)
    return await deliver_to_connection(request, webhook, key)

"""Every source a workspace can connect (`/whoelse connect <source>`), by the name in its webhook URL.

Adding a source is one entry: its `WebhookSource` says what the form asks, what whoelse generates, how deliveries are
verified and read, and the steps to follow in that system.
"""

from __future__ import annotations

from handlers.webhooks.delivery import WebhookSource
from handlers.webhooks.generic import GENERIC
from handlers.webhooks.jira import JIRA
from handlers.webhooks.zendesk import ZENDESK

SOURCES: dict[str, WebhookSource] = {source.name: source for source in (GENERIC, JIRA, ZENDESK)}

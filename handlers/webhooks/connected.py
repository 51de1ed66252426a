"""A delivery to one workspace's connection (`POST /webhooks/{source}/{key}`), found by the key in its address.

The key names the workspace, so nothing about the delivery is trusted until that connection's own secret verifies
it. An address no connection has answers 404 and changes nothing. What happened last (an event received, or why a
delivery was refused, never its body) is kept on the connection for `/whoelse connections`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from bot.context import AppContext
from bot.secret_box import SecretUnreadable
from bot.settings import ConfigurationError
from handlers.webhooks.delivery import Delivery, WebhookSource, receive
from handlers.webhooks.intake import STORE_RETRY_AFTER_SECONDS, capped_body, problem
from models.connections import SourceConnection, connection_by_key, open_secrets, record_delivery, record_error
from models.db import session_scope

logger = logging.getLogger(__name__)

NO_CONNECTION = "no whoelse connection at this address (it was never made, or it was disconnected)"
# The time of the last event is for people reading `/whoelse connections`: a busy source need not write it each time.
LAST_EVENT_RESOLUTION = timedelta(minutes=1)


async def deliver_to_connection(
    request: Request, webhook: WebhookSource, key: str, *, unknown: Callable[[], Response] | None = None
) -> Response:
    """A delivery to the `webhook` connection whose address ends in `key`; an address no connection of that source
    has is answered by `unknown` (404 unless the route says otherwise)."""
    context: AppContext = request.app.state.context
    body = await capped_body(request, context, limit=webhook.body_limit(context.settings))
    if isinstance(body, JSONResponse):
        return body
    try:
        async with context.sessions() as session:
            connection = await connection_by_key(session, key)
    except (SQLAlchemyError, OSError):
        logger.exception("could not look up the %s connection a webhook was sent to", webhook.name)
        return _retry_later()
    if connection is None or connection.source != webhook.name:
        return unknown() if unknown is not None else problem(404, NO_CONNECTION)

    try:
        secrets = open_secrets(context.settings.secret_box(), connection.sealed_secrets)
    except (ConfigurationError, SecretUnreadable) as unreadable:
        logger.error(
            "the %s connection of workspace %s cannot be checked: %s",
            webhook.name,
            connection.workspace_id,
            unreadable,
        )
        unopened = problem(503, "whoelse cannot read this connection's secret; its operator has been told")
        await _remember(context, connection, unopened, failed=True)
        return unopened
    details = {name: str(value) for name, value in (connection.details or {}).items()}
    delivery = Delivery(request=request, body=body, context=context, secrets=secrets, details=details)
    answer = await receive(webhook, delivery, workspace_id=connection.workspace_id)
    # A refused delivery (401, 400) is the connection's to fix; a store that failed for a moment (503) is not.
    await _remember(context, connection, answer, failed=400 <= answer.status_code < 500)
    return answer


def _retry_later() -> JSONResponse:
    refused = problem(503, "the delivery could not be checked just now; please retry", retry=True)
    refused.headers["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)
    return refused


async def _remember(context: AppContext, connection: SourceConnection, answer: Response, *, failed: bool) -> None:
    """Keeps when the connection last received an event, or why it last refused one (the reason the sender got)."""
    now = context.clock()
    try:
        async with session_scope(context.sessions) as session:
            if answer.status_code < 300:
                last = connection.last_event_at
                if last is None or now - last >= LAST_EVENT_RESOLUTION:
                    await record_delivery(session, connection_id=connection.id, now=now)
            elif failed:
                await record_error(session, connection_id=connection.id, error=_reason(answer), now=now)
    except (SQLAlchemyError, OSError):
        # The delivery was answered already; only its trace on the connection is missing.
        logger.exception("could not record the last delivery of connection %s", connection.id)


def _reason(answer: Response) -> str:
    try:
        document = json.loads(bytes(answer.body))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return str(answer.status_code)
    return f"{answer.status_code}: {document.get('error') or document if isinstance(document, dict) else document}"

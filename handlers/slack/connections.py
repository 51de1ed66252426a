"""`/whoelse connect <source>`, `/whoelse connections` and `/whoelse disconnect <source>`: admins connect their
workspace's own CRM or helpdesk, see how each connection is doing, and remove one.

The connect form's answer (the webhook address, and the secret whoelse generated, shown this once) replaces the
form itself, so only the admin who sent it sees it and it is never stored anywhere else.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import AppContext
from bot.gateway import DeliveryError
from bot.secret_box import SecretUnreadable
from bot.settings import ConfigurationError
from bot.slack.blocks import dialog_values, render_answer_view
from habits.connections import (
    CONNECT_DIALOG,
    CONNECT_SYNTAX,
    DISCONNECT_SYNTAX,
    NOT_AN_ADMIN,
    ConnectionSummary,
    InvalidAnswers,
    connect_dialog,
    connected_message,
    connections_message,
    disconnected_message,
    generate_secret,
    missing_secrets,
    read_answers,
    source_of_dialog,
    source_word,
    unknown_source_message,
)
from habits.form_origin import NOT_YOUR_FORM, FormOrigin, read_origin
from habits.messages import Message
from handlers.commands import CommandRequest, CommandRouter
from handlers.slack.slack_trouble import trouble_asking_slack
from handlers.webhooks.delivery import WebhookSource
from handlers.webhooks.sources import SOURCES
from models.connections import (
    find_connection,
    open_secrets,
    remove_connection,
    save_connection,
    seal_secrets,
    workspace_connections,
)
from models.db import session_scope
from models.workspaces import get_or_create_workspace

logger = logging.getLogger(__name__)

CANNOT_CONNECT_HERE = (
    "whoelse can't connect a CRM or helpdesk yet: {problem} Ask whoever runs whoelse to set it, then try again."
)


def webhook_path(source: str, key: str) -> str:
    return f"/webhooks/{source}/{key}"


async def _refused_unless_admin(
    request_user: str, context: AppContext, *, workspace_id: str, to: str
) -> Message | None:
    try:
        person = await (await context.gateway_for(workspace_id)).person(user=request_user)
    except DeliveryError as error:
        logger.exception("could not check the admin rights of %s to %s", request_user, to)
        return Message(text=trouble_asking_slack(error, to="check your admin rights"))
    return None if person.is_admin else Message(text=NOT_AN_ADMIN)


def _setup_problem(context: AppContext) -> str | None:
    """What the operator has not configured that connecting needs, in one line naming the variable; else None."""
    try:
        context.settings.public_url("/")
        context.settings.secret_box()
    except ConfigurationError as missing:
        logger.error("a workspace admin tried to connect a source: %s", missing)
        return str(missing)
    return None


def _source(arguments: str, *, syntax: str) -> WebhookSource | Message:
    typed = source_word(arguments)
    webhook = SOURCES.get(typed)
    return webhook if webhook is not None else unknown_source_message(typed, sorted(SOURCES), syntax=syntax)


async def connect(request: CommandRequest, context: AppContext) -> Message | None:
    webhook = _source(request.arguments, syntax=CONNECT_SYNTAX)
    if isinstance(webhook, Message):
        return webhook
    refused = await _refused_unless_admin(
        request.user_id, context, workspace_id=request.workspace_id, to="connect a source"
    )
    if refused is not None:
        return refused
    problem = _setup_problem(context)
    if problem is not None:
        return Message(text=CANNOT_CONNECT_HERE.format(problem=problem))
    async with session_scope(context.sessions) as session:
        existing = await find_connection(session, workspace_id=request.workspace_id, source=webhook.name)
    dialog = connect_dialog(
        webhook.guide,
        origin=FormOrigin(channel_id=request.channel_id, user_id=request.user_id),
        connected=existing is not None,
    )
    try:
        gateway = await context.gateway_for(request.workspace_id)
        await gateway.open_dialog(trigger_id=request.trigger_id, dialog=dialog)
    except DeliveryError:
        logger.exception("could not open the connect form for %s", request.user_id)
        return Message(text="Slack didn't let me open the form just now. Please run the command again.")
    return None


async def list_connections(request: CommandRequest, context: AppContext) -> Message:
    refused = await _refused_unless_admin(
        request.user_id, context, workspace_id=request.workspace_id, to="list connections"
    )
    if refused is not None:
        return refused
    async with session_scope(context.sessions) as session:
        connections = await workspace_connections(session, workspace_id=request.workspace_id)
    summaries = []
    for connection in connections:
        webhook = SOURCES.get(connection.source)
        waiting = None
        if webhook is not None:
            try:
                stored = open_secrets(context.settings.secret_box(), connection.sealed_secrets)
            except (ConfigurationError, SecretUnreadable) as unreadable:
                logger.error(
                    "the %s connection of %s cannot be read: %s",
                    connection.source,
                    request.workspace_id,
                    unreadable,
                )
                stored = {}
            waiting = ", ".join(missing_secrets(webhook.guide, stored)) or None
        summaries.append(
            ConnectionSummary(
                source=connection.source,
                # Without PUBLIC_BASE_URL (unset since), the path alone still tells the admin which address it is.
                address=f"{context.settings.public_base_url or ''}{webhook_path(connection.source, connection.key)}",
                connected_by=connection.connected_by,
                connected_at=connection.connected_at,
                last_event_at=connection.last_event_at,
                last_error=connection.last_error,
                last_error_at=connection.last_error_at,
                waiting_for=waiting,
            )
        )
    names = {name: webhook.guide.name for name, webhook in SOURCES.items()}
    return connections_message(summaries, names, now=context.clock())


async def disconnect(request: CommandRequest, context: AppContext) -> Message:
    webhook = _source(request.arguments, syntax=DISCONNECT_SYNTAX)
    if isinstance(webhook, Message):
        return webhook
    refused = await _refused_unless_admin(
        request.user_id, context, workspace_id=request.workspace_id, to="disconnect a source"
    )
    if refused is not None:
        return refused
    async with session_scope(context.sessions) as session:
        removed = await remove_connection(session, workspace_id=request.workspace_id, source=webhook.name)
    if removed:
        logger.info("%s disconnected %s", request.user_id, webhook.name, extra={"workspace": request.workspace_id})
    return disconnected_message(webhook.guide.name, removed=removed)


def add_commands(router: CommandRouter) -> None:
    router.add(
        connect,
        syntax=CONNECT_SYNTAX,
        summary=f"connect this workspace's CRM or helpdesk ({', '.join(sorted(SOURCES))}) to nudge on its events "
        "(admins)",
        order=82,
    )
    router.add(
        list_connections,
        syntax="connections",
        summary="the CRMs and helpdesks connected here, their last event and last refused delivery (admins)",
        order=83,
    )
    router.add(
        disconnect,
        syntax=DISCONNECT_SYNTAX,
        summary="remove a connected CRM or helpdesk; its webhook address stops working (admins)",
        order=84,
    )


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    @bolt.view(re.compile(f"^{re.escape(CONNECT_DIALOG)}:"))
    async def on_connect_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack(**await _connect_answer(context, body, view))


async def _connect_answer(context: AppContext, body: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """What Slack is told to show: errors next to a field, or the form replaced by the address and the steps."""
    user_id = str(body["user"]["id"])
    workspace_id = str((body.get("team") or {}).get("id") or body["user"]["team_id"])
    webhook = SOURCES.get(source_of_dialog(view.get("callback_id")) or "")
    first_field = webhook.guide.asks[0].key if webhook is not None and webhook.guide.asks else None

    def refused(reason: str) -> dict[str, Any]:
        # A form with no field to show it next to gets its answer in place of the form.
        if first_field is None:
            return {"response_action": "update", "view": render_answer_view("whoelse", Message(text=reason))}
        return {"response_action": "errors", "errors": {first_field: reason}}

    if webhook is None or read_origin(view.get("private_metadata"), user_id=user_id) is None:
        logger.warning("refused a connect form that %s did not open", user_id, extra={"workspace": workspace_id})
        return refused(NOT_YOUR_FORM)
    # Rights may have changed since the form opened, and anyone could send this submission.
    not_admin = await _refused_unless_admin(user_id, context, workspace_id=workspace_id, to="connect a source")
    if not_admin is not None:
        logger.warning("connect form from %s, who is not an admin, was refused", user_id)
        return refused(not_admin.text)
    problem = _setup_problem(context)
    if problem is not None:
        return refused(CANNOT_CONNECT_HERE.format(problem=problem))
    try:
        answers = read_answers(webhook.guide, dialog_values(view.get("state") or {}))
    except InvalidAnswers as invalid:
        return {"response_action": "errors", "errors": invalid.errors}

    box = context.settings.secret_box()
    generated = generate_secret() if webhook.guide.generates else None
    async with session_scope(context.sessions) as session:
        await get_or_create_workspace(
            session, workspace_id=workspace_id, default_timezone=context.settings.default_timezone
        )
        existing = await find_connection(session, workspace_id=workspace_id, source=webhook.name)
        try:
            kept = open_secrets(box, existing.sealed_secrets) if existing is not None else {}
        except SecretUnreadable:
            logger.error(
                "the stored %s secrets of %s could not be opened; replacing them", webhook.name, workspace_id
            )
            kept = {}
        # A secret left empty keeps the one already stored; a generated one is new each time.
        secrets = {**kept, **answers.secrets}
        if generated is not None and webhook.guide.generates is not None:
            secrets[webhook.guide.generates] = generated
        connection = await save_connection(
            session,
            workspace_id=workspace_id,
            source=webhook.name,
            sealed_secrets=seal_secrets(box, secrets),
            details=answers.details,
            connected_by=user_id,
            now=context.clock(),
        )
        key = connection.key
    logger.info("%s connected %s", user_id, webhook.name, extra={"workspace": workspace_id})
    answer = connected_message(
        webhook.guide,
        url=context.settings.public_url(webhook_path(webhook.name, key)),
        generated=generated,
        waiting_for=missing_secrets(webhook.guide, secrets),
    )
    return {"response_action": "update", "view": render_answer_view("Connected", answer)}

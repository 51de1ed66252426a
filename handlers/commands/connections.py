"""`connect <source>`, `connections` and `disconnect <source>`: admins connect their workspace's own CRM or helpdesk,
see how each connection is doing, and remove one, on Slack and on Teams.

The connect form's answer (the webhook address, and the secret whoelse generated, shown this once) is given in the
form itself, so only the admin who sent it sees it, and it is never posted or stored anywhere else. On Slack the
command opens the form at once; a message on Teams cannot open a dialog, only a card's button can, so there the
reply carries that button (handlers/teams/connections.py opens the form and answers it).
"""

from __future__ import annotations

import logging

from bot.context import AppContext
from bot.gateway import DeliveryError
from bot.gateways import TEAMS
from bot.secret_box import SecretUnreadable
from bot.settings import ConfigurationError
from habits.connections import (
    CONNECT_SYNTAX,
    DISCONNECT_SYNTAX,
    NOT_AN_ADMIN,
    Answers,
    ConnectionSummary,
    connect_dialog,
    connected_message,
    connections_message,
    disconnected_message,
    generate_secret,
    missing_secrets,
    source_word,
    unknown_source_message,
)
from habits.form_origin import FormOrigin
from habits.messages import Actions, Button, Dialog, Message, Paragraph, command
from handlers.commands import CommandRequest, CommandRouter
from handlers.commands.admin_rights import refusal_unless_admin, teams_admins_only
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
# The Teams button that opens the connect form; its value names the source.
OPEN_CONNECT_BUTTON = "whoelse_connect_open"
# How Slack names a direct message, and Teams commands name a person's own chat with whoelse.
DIRECT_MESSAGE = "directmessage"
HIDDEN_KEY = "…"
ADDRESSES_IN_PRIVATE = (
    f"Everyone here can read this, so the addresses are shown without their keys: type {command('connections')} "
    "in your own chat with whoelse to see them whole, and who connected each."
)
TEAMS_REFUSAL_WHY = "lets a CRM or helpdesk nudge every channel that watches deals or tickets"


def webhook_path(source: str, key: str) -> str:
    return f"/webhooks/{source}/{key}"


def refusal_for(platform: str) -> Message:
    if platform == TEAMS:
        what = f"{command(CONNECT_SYNTAX)}, {command('connections')} or {command(DISCONNECT_SYNTAX)}"
        return teams_admins_only(what, TEAMS_REFUSAL_WHY)
    return Message(text=NOT_AN_ADMIN)


def setup_problem(context: AppContext) -> str | None:
    """What the operator has not configured that connecting needs, in one line naming the variable; else None."""
    try:
        context.settings.public_url("/")
        context.settings.secret_box()
    except ConfigurationError as missing:
        logger.error("a workspace admin tried to connect a source: %s", missing)
        return str(missing)
    return None


def source_named(arguments: str, *, syntax: str) -> WebhookSource | Message:
    """The source typed after the command, or the reply naming the sources whoelse knows."""
    typed = source_word(arguments)
    webhook = SOURCES.get(typed)
    return webhook if webhook is not None else unknown_source_message(typed, sorted(SOURCES), syntax=syntax)


async def connect_form(
    context: AppContext, *, workspace_id: str, webhook: WebhookSource, origin: FormOrigin
) -> Dialog:
    async with session_scope(context.sessions) as session:
        existing = await find_connection(session, workspace_id=workspace_id, source=webhook.name)
    return connect_dialog(webhook.guide, origin=origin, connected=existing is not None)


def open_connect_prompt(webhook: WebhookSource) -> Message:
    """Teams' answer to `connect <source>`: the button that opens the form as a dialog."""
    text = f"Connect {webhook.guide.name}: the form asks for what it needs, and answers with the address to paste."
    return Message(
        text=text,
        parts=[
            Paragraph(text=text),
            Actions(
                block_id="whoelse_connect",
                controls=[
                    Button(
                        action_id=OPEN_CONNECT_BUTTON,
                        label=f"Connect {webhook.guide.name}",
                        value=webhook.name,
                        style="primary",
                        opens_dialog=True,
                    )
                ],
            ),
        ],
    )


async def connect(request: CommandRequest, context: AppContext) -> Message | None:
    webhook = source_named(request.arguments, syntax=CONNECT_SYNTAX)
    if isinstance(webhook, Message):
        return webhook
    refused = await refusal_unless_admin(request, context, refusal=refusal_for(request.platform))
    if refused is not None:
        return refused
    problem = setup_problem(context)
    if problem is not None:
        return Message(text=CANNOT_CONNECT_HERE.format(problem=problem))
    if request.platform == TEAMS:
        return open_connect_prompt(webhook)
    dialog = await connect_form(
        context,
        workspace_id=request.workspace_id,
        webhook=webhook,
        origin=FormOrigin(channel_id=request.channel_id, user_id=request.user_id),
    )
    try:
        gateway = await context.gateway_for(request.workspace_id)
        await gateway.open_dialog(trigger_id=request.trigger_id, dialog=dialog)
    except DeliveryError:
        logger.exception("could not open the connect form for %s", request.user_id)
        return Message(text="Slack didn't let me open the form just now. Please run the command again.")
    return None


async def save_answers(
    context: AppContext,
    *,
    workspace_id: str,
    user_id: str,
    platform: str,
    webhook: WebhookSource,
    answers: Answers,
) -> Message:
    """Keeps the connection (a secret left empty keeps the one stored; a generated one is new each time) and returns
    the answer for the admin alone: the address, the steps and the generated secret, shown this once."""
    box = context.settings.secret_box()
    generated = generate_secret() if webhook.guide.generates else None
    async with session_scope(context.sessions) as session:
        await get_or_create_workspace(
            session,
            workspace_id=workspace_id,
            default_timezone=context.settings.default_timezone,
            platform=platform,
        )
        existing = await find_connection(session, workspace_id=workspace_id, source=webhook.name)
        try:
            kept = open_secrets(box, existing.sealed_secrets) if existing is not None else {}
        except SecretUnreadable:
            logger.error(
                "the stored %s secrets of %s could not be opened; replacing them", webhook.name, workspace_id
            )
            kept = {}
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
    return connected_message(
        webhook.guide,
        url=context.settings.public_url(webhook_path(webhook.name, key)),
        generated=generated,
        waiting_for=missing_secrets(webhook.guide, secrets),
    )


async def list_connections(request: CommandRequest, context: AppContext) -> Message:
    refused = await refusal_unless_admin(request, context, refusal=refusal_for(request.platform))
    if refused is not None:
        return refused
    async with session_scope(context.sessions) as session:
        connections = await workspace_connections(session, workspace_id=request.workspace_id)
    # A reply on Teams is posted in the channel's thread for everyone there: the addresses' keys (which say where
    # deliveries for this workspace go), and who connected each (a mention that would notify them), are shown only
    # in the admin's own chat with whoelse, as on Slack.
    private = request.platform != TEAMS or request.channel_name == DIRECT_MESSAGE
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
                address=f"{context.settings.public_base_url or ''}"
                + webhook_path(connection.source, connection.key if private else HIDDEN_KEY),
                connected_by=connection.connected_by,
                connected_at=connection.connected_at,
                last_event_at=connection.last_event_at,
                last_error=connection.last_error,
                last_error_at=connection.last_error_at,
                waiting_for=waiting,
            )
        )
    names = {name: webhook.guide.name for name, webhook in SOURCES.items()}
    listed = connections_message(summaries, names, now=context.clock(), name_people=private)
    if summaries and not private:
        return Message(text=f"{listed.text}\n{ADDRESSES_IN_PRIVATE}")
    return listed


async def disconnect(request: CommandRequest, context: AppContext) -> Message:
    webhook = source_named(request.arguments, syntax=DISCONNECT_SYNTAX)
    if isinstance(webhook, Message):
        return webhook
    refused = await refusal_unless_admin(request, context, refusal=refusal_for(request.platform))
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
        on_teams=True,
    )
    router.add(
        list_connections,
        syntax="connections",
        summary="the CRMs and helpdesks connected here, their last event and last refused delivery (admins)",
        order=83,
        on_teams=True,
    )
    router.add(
        disconnect,
        syntax=DISCONNECT_SYNTAX,
        summary="remove a connected CRM or helpdesk; its webhook address stops working (admins)",
        order=84,
        on_teams=True,
    )

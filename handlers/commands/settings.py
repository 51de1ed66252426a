"""`settings`: the form whoelse's admins change its workspace settings with.

On Slack the command opens the form at once. A message on Teams cannot open a dialog, only a card's button can, so
there the reply carries that button (handlers/teams/settings.py opens the form and saves what comes back).
"""

from __future__ import annotations

import logging

from bot.context import AppContext
from bot.gateway import DeliveryError
from bot.gateways import TEAMS
from habits.form_origin import FormOrigin
from habits.messages import Actions, Button, Message, Paragraph, command
from habits.workspace_settings import refusal, settings_dialog
from handlers.commands import CommandRequest, CommandRouter
from handlers.commands.admin_rights import refusal_unless_admin, teams_admins_only
from models.db import session_scope
from models.workspaces import get_or_create_workspace

logger = logging.getLogger(__name__)

OPEN_SETTINGS_BUTTON = "whoelse_settings_open"
TEAMS_REFUSAL_WHY = "changes how whoelse behaves in every channel"


def refusal_for(platform: str) -> Message:
    return teams_admins_only(command("settings"), TEAMS_REFUSAL_WHY) if platform == TEAMS else refusal()


def open_settings_prompt() -> Message:
    text = (
        "whoelse's settings apply to every channel here: time zone, quiet hours, the hourly cap and nudge moments."
    )
    return Message(
        text=text,
        parts=[
            Paragraph(text=text),
            Actions(
                block_id="whoelse_settings",
                controls=[
                    Button(
                        action_id=OPEN_SETTINGS_BUTTON, label="Change settings", style="primary", opens_dialog=True
                    )
                ],
            ),
        ],
    )


async def open_settings(request: CommandRequest, context: AppContext) -> Message | None:
    refused = await refusal_unless_admin(request, context, refusal=refusal_for(request.platform))
    if refused is not None:
        return refused
    if request.platform == TEAMS:
        return open_settings_prompt()
    async with session_scope(context.sessions) as session:
        workspace = await get_or_create_workspace(
            session, workspace_id=request.workspace_id, default_timezone=context.settings.default_timezone
        )
        dialog = settings_dialog(
            workspace,
            origin=FormOrigin(channel_id=request.channel_id, user_id=request.user_id),
            own_zone=await _own_zone(request, context),
        )
    try:
        await (await context.gateway_for(request.workspace_id)).open_dialog(
            trigger_id=request.trigger_id, dialog=dialog
        )
    except DeliveryError:
        logger.exception("could not open the settings dialog for %s", request.user_id)
        return Message(
            text="Slack didn't let me open the settings just now. Please run `/whoelse settings` again."
        )
    # The dialog is the answer; Slack needs only the acknowledgement.
    return None


async def _own_zone(request: CommandRequest, context: AppContext) -> str:
    """The admin's own time zone, offered first in the form's zone menu ("" when Slack cannot say)."""
    try:
        return (await (await context.gateway_for(request.workspace_id)).person(user=request.user_id)).timezone
    except DeliveryError:
        logger.warning("could not read %s's time zone for the settings form", request.user_id)
        return ""


def add_commands(router: CommandRouter) -> None:
    router.add(
        open_settings,
        syntax="settings",
        summary="time zone, quiet hours, hourly cap and nudge moments (admins)",
        order=80,
        on_teams=True,
    )

"""`status`: scheduler and delivery health, for whoelse's admins (on Slack and on Teams)."""

from __future__ import annotations

from bot.context import AppContext
from bot.gateways import TEAMS
from habits.messages import Message, command
from habits.status import admins_only, status_report
from handlers.commands import CommandRequest, CommandRouter
from handlers.commands.admin_rights import refusal_unless_admin, teams_admins_only
from models.db import session_scope


async def show_status(request: CommandRequest, context: AppContext) -> Message:
    refusal = (
        teams_admins_only(command("status"), "shows delivery problems across every channel")
        if request.platform == TEAMS
        else admins_only()
    )
    refused = await refusal_unless_admin(request, context, refusal=refusal)
    if refused is not None:
        return refused
    async with session_scope(context.sessions) as session:
        return await status_report(
            session,
            workspace_id=request.workspace_id,
            scheduler_role=context.scheduler_role,
            now=context.clock(),
            default_timezone=context.settings.default_timezone,
        )


def add_commands(router: CommandRouter) -> None:
    router.add(
        show_status, syntax="status", summary="scheduler and delivery health (admins)", order=90, on_teams=True
    )

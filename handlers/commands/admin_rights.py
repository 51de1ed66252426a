"""Whether the person who typed a command may use whoelse's admin commands, asked of their own platform.

On Slack, workspace admins and owners; on Teams, the people named in TEAMS_ADMINS (Teams does not tell bots who
administers a tenant or owns a team). When the platform cannot answer, the reply says so in its own terms.
"""

from __future__ import annotations

import logging

from bot.context import AppContext
from bot.gateway import DeliveryError, PermanentError, RateLimited
from bot.gateways import TEAMS
from habits.messages import Message
from handlers.commands import CommandRequest
from handlers.slack.slack_trouble import trouble_asking_slack

logger = logging.getLogger(__name__)

TEAMS_ADMINS_ONLY = (
    "Sorry, {what} is only for whoelse's admins on Teams: it {why}. Whoever runs whoelse can make you one."
)


async def refusal_unless_admin(
    request: CommandRequest, context: AppContext, *, refusal: Message
) -> Message | None:
    """None for an admin; `refusal` for anyone else; when the platform cannot say, a reply that says so."""
    return await refusal_unless_person_is_admin(
        context,
        workspace_id=request.workspace_id,
        user_id=request.user_id,
        platform=request.platform,
        refusal=refusal,
    )


async def refusal_unless_person_is_admin(
    context: AppContext, *, workspace_id: str, user_id: str, platform: str, refusal: Message
) -> Message | None:
    """The same check for a click or a form rather than a command: rights may have changed since it was shown."""
    try:
        gateway = await context.gateway_for(workspace_id)
        person = await gateway.person(user=user_id)
    except DeliveryError as error:
        logger.exception("could not check the admin rights of %s", user_id, extra={"workspace": workspace_id})
        return Message(text=trouble_asking(platform, error, to="check your admin rights"))
    if person.is_admin:
        return None
    logger.info("refused an admin command to %s, who is not an admin", user_id, extra={"workspace": workspace_id})
    return refusal


def teams_admins_only(what: str, why: str) -> Message:
    """Teams' refusal: there, admins are whoever the operator named, so that is who can help."""
    return Message(text=TEAMS_ADMINS_ONLY.format(what=what, why=why))


def trouble_asking(platform: str, error: DeliveryError, *, to: str) -> str:
    """The reply when asking the person's platform about them failed, in that platform's terms."""
    if platform != TEAMS:
        return trouble_asking_slack(error, to=to)
    if isinstance(error, RateLimited):
        return f"Microsoft Teams asked whoelse to slow down, so I couldn't {to} just now. Please try again in a minute."
    if isinstance(error, PermanentError):
        return (
            f"Microsoft Teams couldn't tell whoelse who you are in this organisation, so I can't {to}. "
            "If it keeps happening, tell whoever runs whoelse."
        )
    return f"I couldn't reach Microsoft Teams to {to} just now. Please try again in a minute."

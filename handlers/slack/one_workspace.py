"""Serving one workspace (SLACK_BOT_TOKEN), a signed request from another Slack team is refused before anything reads
or writes a row or calls Slack: the one token belongs to one team, and must not answer for another.

Enterprise Grid is the exception Slack itself makes: a request from a channel shared with the installed team lists
that team among its `authorizations`, and with an org-wide token, every workspace of the org (its `enterprise_id`)
is the installed one's. Those are served.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from handlers.slack.not_installed import ALWAYS_LET_THROUGH, refusal

logger = logging.getLogger(__name__)

ONE_WORKSPACE_MESSAGE = "whoelse here serves one workspace, and this isn't it: ask your Slack admin to install it"


@dataclass(frozen=True)
class SlackHome:
    """Where the bot token belongs, as Slack's auth.test tells it."""

    team_id: str
    enterprise_id: str | None = None
    is_enterprise_install: bool = False
    # The workspace's address ("https://acme.slack.com/").
    url: str | None = None


def is_for(home: SlackHome, *, team_id: str | None, enterprise_id: str | None, body: dict[str, Any]) -> bool:
    """Whether a request is for the installed team. A request naming no team at all is left to Bolt."""
    if not team_id or team_id == home.team_id:
        return True
    if home.is_enterprise_install and home.enterprise_id is not None and enterprise_id == home.enterprise_id:
        return True
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list):
        return any(isinstance(grant, dict) and grant.get("team_id") == home.team_id for grant in authorizations)
    return False


def refuse_other_teams(home: SlackHome) -> Callable[..., Awaitable[BoltResponse]]:
    """Bolt middleware run before authorize."""

    async def before_authorize(
        req: AsyncBoltRequest, resp: BoltResponse, next_: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        body = req.body or {}
        if body.get("type") in ALWAYS_LET_THROUGH or is_for(
            home, team_id=req.context.team_id, enterprise_id=req.context.enterprise_id, body=body
        ):
            return await next_()
        logger.warning(
            "Slack request from team %s refused: SLACK_BOT_TOKEN serves team %s only",
            req.context.team_id,
            home.team_id,
            extra={"workspace": req.context.team_id, "enterprise": req.context.enterprise_id},
        )
        return refusal(body, ONE_WORKSPACE_MESSAGE)

    return before_authorize

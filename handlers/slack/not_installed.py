"""A signed request from a Slack workspace that has not installed whoelse (many-workspace mode): answered with where
to install it, before anything reads or writes a row or calls Slack for that workspace."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

logger = logging.getLogger(__name__)

# Slack sends these whatever the installation's state; they are how an uninstall is told.
ALWAYS_LET_THROUGH = frozenset({"url_verification", "ssl_check"})
UNINSTALL_EVENTS = frozenset({"app_uninstalled", "tokens_revoked"})


def not_installed_message(install_url: str) -> str:
    return f"whoelse isn't installed in this workspace: install it at {install_url}"


def refuse_uninstalled(
    installed: Callable[[str], Awaitable[bool]], *, install_url: str
) -> Callable[..., Awaitable[BoltResponse]]:
    """Bolt middleware run before authorize; `installed` says whether a workspace has installed whoelse."""

    async def before_authorize(
        req: AsyncBoltRequest, resp: BoltResponse, next_: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        body = req.body or {}
        event = body.get("event") or {}
        if body.get("type") in ALWAYS_LET_THROUGH or event.get("type") in UNINSTALL_EVENTS:
            return await next_()
        team_id = req.context.team_id
        if team_id and not req.context.is_enterprise_install and await installed(team_id):
            return await next_()
        logger.warning(
            "Slack request from a workspace that has not installed whoelse",
            extra={"workspace": team_id, "enterprise": req.context.enterprise_id},
        )
        return refusal(body, not_installed_message(install_url))

    return before_authorize


def refusal(body: dict[str, Any], message: str) -> BoltResponse:
    """A request whoelse does not serve, answered where its sender sees it, having touched nothing."""
    if body.get("command"):
        # The slash command's own answer: only the person who typed it sees it.
        answer = json.dumps({"response_type": "ephemeral", "text": message})
        return BoltResponse(status=200, body=answer, headers={"Content-Type": "application/json"})
    if body.get("type") == "view_submission":
        # A form's answer must be a response action: the form shows the refusal in place of its fields.
        view = {
            "type": "modal",
            "title": {"type": "plain_text", "text": "whoelse"},
            "blocks": [{"type": "section", "text": {"type": "plain_text", "text": message}}],
        }
        answer = json.dumps({"response_action": "update", "view": view})
        return BoltResponse(status=200, body=answer, headers={"Content-Type": "application/json"})
    if body.get("type") in ("block_actions", "shortcut", "message_action"):
        return BoltResponse(status=200, body=message)
    # An event: acknowledged so Slack does not retry it, and otherwise left alone.
    return BoltResponse(status=200, body="")

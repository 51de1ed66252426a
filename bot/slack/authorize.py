"""Which token answers a Slack request when whoelse serves many workspaces, without asking Slack each time.

Bolt's own authorize calls `auth.test` on Slack for every request (a slash command, a click, each event), only to
learn who the bot is in that workspace: one more Web API round trip per request, counted against the workspace's rate
limits. Here the installation comes from the shared rotation (bot/slack/workspaces.py), which reads it through
bot/slack/remembered.py: what this process changes is seen at once, what another replica changes within seconds.
`auth.test` is asked once per token: its answer is kept for as long as the installation still holds that same token,
for a bounded number of workspaces.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.web.async_client import AsyncWebClient

from bot.single_flight import SingleFlight
from bot.slack.oauth.installation_store import SqlInstallationStore
from bot.slack.workspaces import SharedRotation

logger = logging.getLogger(__name__)

# Workspaces whose bot identity is kept: past this, the least recently served is asked about again when it next
# sends a request. Each entry is a few hundred bytes.
KEPT_WORKSPACES = 10_000


@dataclass(frozen=True)
class _Identity:
    """What auth.test said about one token."""

    token: str
    answer: dict[str, Any]


class StoredAuthorize(AsyncAuthorize):
    def __init__(
        self,
        store: SqlInstallationStore,
        rotation: SharedRotation,
        *,
        client: AsyncWebClient,
        kept_workspaces: int = KEPT_WORKSPACES,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._rotation = rotation
        # Carries no token of its own: each auth.test names the token it asks about.
        self._client = client
        self._kept = kept_workspaces
        self._identities: OrderedDict[str, _Identity] = OrderedDict()
        self._asking: SingleFlight[tuple[str, str], _Identity | None] = SingleFlight("slack-auth-test")
        # A reinstall, a rotation or an uninstall: what was learnt about the old token is of no more use.
        store.on_change(self.forget)

    def forget(self, workspace_id: str) -> None:
        self._identities.pop(workspace_id, None)

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        # whoelse is installed one workspace at a time; an org-wide install is never stored.
        if not team_id or context.is_enterprise_install:
            return None
        try:
            bot = await self._rotation.bot(team_id)
        except SlackTokenRotationError:
            logger.exception(
                "Slack would not rotate the token of workspace %s", team_id, extra={"workspace": team_id}
            )
            return None
        if bot is None:
            return None
        identity = await self._identity(team_id, bot)
        if identity is None:
            return None
        # A new result each time: Bolt hands it to the request's listeners, which must not share one object.
        return AuthorizeResult(**identity.answer)

    async def _identity(self, workspace_id: str, bot: Bot) -> _Identity | None:
        kept = self._identities.get(workspace_id)
        if kept is not None and kept.token == bot.bot_token:
            self._identities.move_to_end(workspace_id)
            return kept
        # Requests arriving together for a workspace not seen yet share one auth.test.
        return await self._asking.run((workspace_id, bot.bot_token), lambda: self._ask(workspace_id, bot))

    async def _ask(self, workspace_id: str, bot: Bot) -> _Identity | None:
        try:
            answer = await self._client.auth_test(token=bot.bot_token)
        except SlackApiError as error:
            # The stored token no longer works (revoked without Slack telling us, say): the request is refused, and
            # the next one asks again.
            logger.warning(
                "The stored bot token of workspace %s is refused by Slack: %s",
                workspace_id,
                error.response.get("error"),
                extra={"workspace": workspace_id},
            )
            return None
        result = AuthorizeResult.from_auth_test_response(
            auth_test_response=answer, bot_token=bot.bot_token, bot_scopes=bot.bot_scopes
        )
        identity = _Identity(bot.bot_token, dict(result))
        self._identities[workspace_id] = identity
        self._identities.move_to_end(workspace_id)
        while len(self._identities) > self._kept:
            self._identities.popitem(last=False)
        return identity

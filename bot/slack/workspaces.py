"""Each Slack workspace's own gateway when whoelse serves many: a client carrying that workspace's token.

The token is read from the installation store (sealed at rest), kept while it is fresh, and rotated when the Slack
app rotates tokens and this one is about to expire; a token the store saves anew (a reinstall, a rotation made while
answering a request) replaces the one held here at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.gateway import ChatGateway, PermanentError, TransientError
from bot.single_flight import SingleFlight
from bot.slack.gateway import SlackGateway
from bot.slack.oauth.installation_store import SqlInstallationStore


class SharedRotation(AsyncTokenRotator):
    """Token rotation with at most one exchange per workspace under way in this process: a request (Bolt's
    authorize) and a delivery that both find a token about to expire share one new token instead of each spending
    the refresh token."""

    def __init__(self, *, client_id: str, client_secret: str, client: AsyncWebClient) -> None:
        super().__init__(client_id=client_id, client_secret=client_secret, client=client)
        self._running: SingleFlight[str, Bot | None] = SingleFlight("slack-token-rotation")
        # Per workspace, the refresh token last spent and what it gave: a caller that read the workspace before the
        # new token was saved gets that, rather than spending the same refresh token again.
        self._last: dict[str, tuple[str, Bot]] = {}

    async def perform_bot_token_rotation(self, *, bot: Bot, minutes_before_expiration: int = 120) -> Bot | None:
        workspace = bot.team_id or bot.enterprise_id or ""
        last = self._last.get(workspace)
        if last is not None and bot.bot_refresh_token == last[0]:
            return last[1]
        rotate = super().perform_bot_token_rotation

        async def rotate_and_remember() -> Bot | None:
            rotated = await rotate(bot=bot, minutes_before_expiration=minutes_before_expiration)
            # Remembered before the flight ends: a caller arriving just after it must find this, not spend the same
            # refresh token again.
            if rotated is not None and bot.bot_refresh_token is not None:
                self._last[workspace] = (bot.bot_refresh_token, rotated)
            return rotated

        return await self._running.run(workspace, rotate_and_remember)


NOT_INSTALLED = "whoelse isn't installed in this Slack workspace (or was removed from it)"


@dataclass(frozen=True)
class _Held:
    gateway: SlackGateway
    # When the token must be rotated (None: it does not expire).
    fresh_until: float | None


class InstalledWorkspaces:
    def __init__(
        self,
        store: SqlInstallationStore,
        *,
        base_url: str,
        rotator: AsyncTokenRotator,
        rotation_minutes: int,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._base_url = base_url
        self._rotator = rotator
        self._rotation_minutes = rotation_minutes
        self._now = now
        self._held: dict[str, _Held] = {}
        self._reading: SingleFlight[str, SlackGateway] = SingleFlight("slack-workspace-token")
        store.on_change(self.forget)

    def forget(self, workspace_id: str) -> None:
        self._held.pop(workspace_id, None)
        self._reading.drop(workspace_id)

    async def gateway(self, workspace_id: str) -> ChatGateway:
        held = self._held.get(workspace_id)
        if held is not None and (held.fresh_until is None or held.fresh_until > self._now()):
            return held.gateway
        # Concurrent callers share one read (and at most one rotation) per workspace.
        return await self._reading.run(workspace_id, lambda: self._read(workspace_id))

    async def _read(self, workspace_id: str) -> SlackGateway:
        bot = await self._store.async_find_bot(enterprise_id=None, team_id=workspace_id)
        if bot is None:
            raise PermanentError(NOT_INSTALLED)
        if bot.bot_refresh_token is not None:
            try:
                rotated = await self._rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=self._rotation_minutes
                )
            except SlackTokenRotationError as error:
                raise TransientError(f"could not rotate the workspace's Slack token: {error}") from error
            if rotated is not None:
                # Saving announces the change, which forgets what is held: hold the new token only after that.
                await self._store.async_save_bot(rotated)
                bot = rotated
        # No retries inside the client: the outbox retries, after checking whether the first attempt landed.
        client = AsyncWebClient(token=bot.bot_token, base_url=self._base_url, retry_handlers=[])
        gateway = SlackGateway(client)
        expires_at = bot.bot_token_expires_at
        fresh_until = None if expires_at is None else expires_at - self._rotation_minutes * 60
        self._held[workspace_id] = _Held(gateway, fresh_until)
        return gateway

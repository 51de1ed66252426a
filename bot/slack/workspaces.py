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
from bot.slack.remembered import RememberedInstallations


class SharedRotation:
    """Each workspace's bot token as stored, rotated when the Slack app rotates tokens and this one is about to
    expire: once per workspace across every replica sharing the database.

    In this process, concurrent callers (a request and a delivery, say) share one rotation; across processes, the
    installation's row is locked around reading, rotating and storing, and read again once locked, so a replica that
    waited uses the token the first one stored instead of spending the same refresh token again.
    """

    def __init__(
        self,
        installations: RememberedInstallations,
        *,
        client_id: str,
        client_secret: str,
        client: AsyncWebClient,
        rotation_minutes: int,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._installations = installations
        self._store = installations.store
        self._rotator = AsyncTokenRotator(client_id=client_id, client_secret=client_secret, client=client)
        self._rotation_minutes = rotation_minutes
        self._now = now
        self._running: SingleFlight[str, Bot | None] = SingleFlight("slack-token-rotation")

    def fresh_until(self, bot: Bot) -> float | None:
        """When the bot's token is due for rotation (None: it does not expire)."""
        if bot.bot_refresh_token is None or bot.bot_token_expires_at is None:
            return None
        return float(bot.bot_token_expires_at - self._rotation_minutes * 60)

    async def installed(self, workspace_id: str) -> bool:
        """Whether the workspace has installed whoelse (its token is not rotated for this)."""
        return await self._installations.is_installed(workspace_id)

    async def bot(self, workspace_id: str) -> Bot | None:
        """The workspace's bot with a token fresh enough to use (None: not installed).

        Raises SlackTokenRotationError when the token is due and Slack would not rotate it.
        """
        bot = await self._installations.bot(workspace_id)
        if bot is None:
            return None
        due = self.fresh_until(bot)
        if due is None or due > self._now():
            return bot
        fresh = await self._running.run(workspace_id, lambda: self._store.refresh_bot(workspace_id, self._rotate))
        # Rotated here, the store's announcement forgot the remembered bot already; rotated by another replica, the
        # bot remembered here is the expiring one, and the next caller should read the new one.
        self._installations.forget(workspace_id)
        return fresh

    async def _rotate(self, bot: Bot) -> Bot | None:
        # Read again under the lock: None when another replica (or an earlier caller here) has rotated it already.
        return await self._rotator.perform_bot_token_rotation(
            bot=bot, minutes_before_expiration=self._rotation_minutes
        )


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
        rotation: SharedRotation,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._base_url = base_url
        self._rotation = rotation
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
        try:
            bot = await self._rotation.bot(workspace_id)
        except SlackTokenRotationError as error:
            raise TransientError(f"could not rotate the workspace's Slack token: {error}") from error
        if bot is None:
            raise PermanentError(NOT_INSTALLED)
        # No retries inside the client: the outbox retries, after checking whether the first attempt landed.
        client = AsyncWebClient(token=bot.bot_token, base_url=self._base_url, retry_handlers=[])
        gateway = SlackGateway(client)
        self._held[workspace_id] = _Held(gateway, self._rotation.fresh_until(bot))
        return gateway

"""What serving Teams adds to the app: the Bot Connector, a gateway per tenant, token checks and reply batches.

Imported only by a bot that serves Teams: it loads the Microsoft 365 Agents SDK and the JWT library, which a
Slack-only whoelse never needs and would otherwise pay for at every start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.datastructures import State

from bot.gateway import ChatGateway
from bot.group_commit import GroupCommitter
from bot.settings import Settings
from bot.teams.auth import build_authenticator
from bot.teams.cards import activity_for
from bot.teams.certificate import load_certificate
from bot.teams.clouds import token_url
from bot.teams.connector import BotConnector, BotCredentials
from bot.teams.gateway import TeamsGateway
from handlers.teams.activities import reply_batches
from handlers.teams.invokes import invoke_handlers
from handlers.teams.known_conversations import KnownConversations


@dataclass
class TeamsServing:
    """The Teams parts the lifespan builds and closes."""

    connector: BotConnector
    gateways: Callable[[str], ChatGateway]
    # Replies to Teams messages, queued in shared batches: one transaction for all the replies of a moment.
    replies: GroupCommitter
    # Fetches Teams' signing keys for the token checks; opened by `serve`, late in the start, so that a start that
    # fails early (a Slack token refused) leaves no session open.
    key_fetcher: aiohttp.ClientSession | None = field(default=None, init=False)

    @classmethod
    def build(
        cls, settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
    ) -> TeamsServing:
        connector = BotConnector(bot_credentials(settings))
        return cls(
            connector=connector,
            gateways=teams_gateways(settings, sessions, connector),
            replies=reply_batches(engine),
        )

    def serve(self, settings: Settings, state: State) -> None:
        """Puts what `POST /api/messages` reads on the app's state."""
        state.teams_invokes = invoke_handlers()
        state.teams_conversations = KnownConversations()
        state.teams_replies = self.replies
        self.key_fetcher = aiohttp.ClientSession()
        state.teams_authenticator = build_authenticator(settings, self.key_fetcher)

    async def close(self) -> None:
        await self.replies.close()
        if self.key_fetcher is not None:
            await self.key_fetcher.close()
        await self.connector.close()


def bot_credentials(settings: Settings) -> BotCredentials | None:
    """The bot's own credentials for calling the Bot Connector; none in development (the Agents Playground)."""
    password = settings.secret("teams_app_password")
    if settings.teams_app_id is None:
        return None
    if settings.teams_app_certificate_path is not None:
        certificate = load_certificate(
            settings.teams_app_certificate_path, thumbprint=settings.teams_app_certificate_thumbprint
        )
        return BotCredentials(
            app_id=settings.teams_app_id, password=None, token_url=token_url(settings), certificate=certificate
        )
    if not password:
        return None
    return BotCredentials(app_id=settings.teams_app_id, password=password, token_url=token_url(settings))


def teams_gateways(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], connector: BotConnector
) -> Callable[[str], ChatGateway]:
    """A gateway per Teams tenant, each reading only that tenant's conversation references."""
    bot_id = f"28:{settings.teams_app_id}" if settings.teams_app_id else "28:whoelse"

    def for_tenant(tenant_id: str) -> ChatGateway:
        return TeamsGateway(
            workspace_id=tenant_id,
            bot_id=bot_id,
            sessions=sessions,
            connector=connector,
            render=activity_for,
            admins=settings.teams_admin_ids,
        )

    return for_tenant

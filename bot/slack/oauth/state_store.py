"""slack_sdk's AsyncOAuthStateStore over whoelse's own database: each install link's state is used once, and
expires.

Only a hash of the state is kept, so someone who reads the table cannot finish an install that is under way. Using
a state deletes it in the same statement that checks it, so two redirects with one state cannot both succeed, on
one replica or several.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import CursorResult, delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.installations import SlackOAuthState

logger = logging.getLogger(__name__)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class SqlOAuthStateStore(AsyncOAuthStateStore):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        expiration_seconds: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self.expiration_seconds = expiration_seconds
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        return logger

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        state = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._sessions() as session, session.begin():
            # Links nobody came back with are forgotten as new ones are handed out.
            await session.execute(delete(SlackOAuthState).where(SlackOAuthState.expires_at <= now))
            session.add(
                SlackOAuthState(
                    state_hash=_hash(state), expires_at=now + timedelta(seconds=self.expiration_seconds)
                )
            )
        return state

    async def async_consume(self, state: str) -> bool:
        if not state:
            return False
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(SlackOAuthState).where(
                    SlackOAuthState.state_hash == _hash(state), SlackOAuthState.expires_at > self._clock()
                )
            )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

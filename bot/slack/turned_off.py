"""The gateway whoelse holds for Slack when SLACK_BOT_TOKEN is not set (a Teams-only install).

Nothing reaches Slack then; anything that still tries (a schedule or a queued message for a Slack channel left from
an earlier Slack install) fails permanently with a reason an admin can act on, instead of retrying for hours.
"""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn

from bot.gateway import PermanentError, Person, Posted, UserGroup
from habits.messages import Dialog, Message

REASON = "Slack is turned off on this whoelse (SLACK_BOT_TOKEN is not set)"


class SlackTurnedOff:
    def __init__(self, reason: str = REASON) -> None:
        self.reason = reason

    def _refuse(self) -> NoReturn:
        raise PermanentError(self.reason)

    async def post(
        self, *, channel: str, message: Message, idempotency_key: str, thread_ts: str | None = None
    ) -> Posted:
        self._refuse()

    async def post_ephemeral(
        self, *, channel: str, user: str, message: Message, thread_ts: str | None = None
    ) -> None:
        self._refuse()

    async def update(self, *, channel: str, ts: str, message: Message) -> None:
        self._refuse()

    async def find_posted(
        self, *, channel: str, idempotency_key: str, since: datetime, thread_ts: str | None = None
    ) -> str | None:
        self._refuse()

    async def open_direct(self, *, user: str) -> str:
        self._refuse()

    async def join(self, *, channel: str) -> None:
        self._refuse()

    async def open_dialog(self, *, trigger_id: str, dialog: Dialog) -> None:
        self._refuse()

    async def publish_home(self, *, user: str, message: Message) -> None:
        self._refuse()

    async def person(self, *, user: str) -> Person:
        self._refuse()

    async def channel_members(self, *, channel: str) -> list[str]:
        self._refuse()

    async def user_groups(self) -> list[UserGroup]:
        self._refuse()

    async def person_by_email(self, *, email: str) -> Person | None:
        self._refuse()

    async def user_group_members(self, *, group: str) -> list[str]:
        self._refuse()

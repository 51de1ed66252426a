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


def _refuse() -> NoReturn:
    raise PermanentError(REASON)


class SlackTurnedOff:
    async def post(
        self, *, channel: str, message: Message, idempotency_key: str, thread_ts: str | None = None
    ) -> Posted:
        _refuse()

    async def post_ephemeral(
        self, *, channel: str, user: str, message: Message, thread_ts: str | None = None
    ) -> None:
        _refuse()

    async def update(self, *, channel: str, ts: str, message: Message) -> None:
        _refuse()

    async def find_posted(
        self, *, channel: str, idempotency_key: str, since: datetime, thread_ts: str | None = None
    ) -> str | None:
        _refuse()

    async def open_direct(self, *, user: str) -> str:
        _refuse()

    async def join(self, *, channel: str) -> None:
        _refuse()

    async def open_dialog(self, *, trigger_id: str, dialog: Dialog) -> None:
        _refuse()

    async def publish_home(self, *, user: str, message: Message) -> None:
        _refuse()

    async def person(self, *, user: str) -> Person:
        _refuse()

    async def channel_members(self, *, channel: str) -> list[str]:
        _refuse()

    async def user_groups(self) -> list[UserGroup]:
        _refuse()

    async def person_by_email(self, *, email: str) -> Person | None:
        _refuse()

    async def user_group_members(self, *, group: str) -> list[str]:
        _refuse()

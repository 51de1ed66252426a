"""What the rest of whoelse needs from a chat platform. Slack (and later Teams) adapters implement it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from habits.messages import Dialog, Message


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    timezone: str
    is_admin: bool = False
    is_bot: bool = False
    title: str = ""


@dataclass(frozen=True)
class UserGroup:
    """A named group of people that can be mentioned at once (a Slack user group such as @sales)."""

    group_id: str
    handle: str
    name: str


class DeliveryError(Exception):
    """The platform did not take the message."""


class RateLimited(DeliveryError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:g}s")
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """Worth retrying later: the platform is down, slow or erroring."""


class PermanentError(DeliveryError):
    """Retrying the same request cannot succeed (unknown channel, bot removed, invalid message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotInChannel(PermanentError):
    """The bot must join the channel first; public channels can be joined without anyone's help."""


class ChatGateway(Protocol):
    async def post(
        self, *, channel: str, message: Message, idempotency_key: str, thread_ts: str | None = None
    ) -> Posted: ...

    async def post_ephemeral(
        self, *, channel: str, user: str, message: Message, thread_ts: str | None = None
    ) -> None: ...

    async def update(self, *, channel: str, ts: str, message: Message) -> None: ...

    async def find_posted(
        self, *, channel: str, idempotency_key: str, since: datetime, thread_ts: str | None = None
    ) -> str | None:
        """The id of a message already carrying this idempotency key, if an earlier attempt did land."""
        ...

    async def open_direct(self, *, user: str) -> str: ...

    async def join(self, *, channel: str) -> None: ...

    async def open_dialog(self, *, trigger_id: str, dialog: Dialog) -> None: ...

    async def publish_home(self, *, user: str, message: Message) -> None:
        """Replaces what this person sees on whoelse's own page (Slack's Home tab)."""
        ...

    async def person(self, *, user: str) -> Person: ...

    async def person_by_email(self, *, email: str) -> Person | None:
        """The workspace's member with this email address, or None when nobody (or only a bot or a deactivated
        account) has it, or the platform cannot tell."""
        ...

    async def channel_members(self, *, channel: str) -> list[str]: ...

    async def user_groups(self) -> list[UserGroup]: ...

    async def user_group_members(self, *, group: str) -> list[str]: ...

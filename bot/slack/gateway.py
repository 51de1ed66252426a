"""ChatGateway over the Slack Web API (slack_sdk's async client, pointed at SLACK_API_URL)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.gateway import NotInChannel, PermanentError, Person, Posted, RateLimited, TransientError, UserGroup
from bot.slack.blocks import render_dialog, render_message
from habits.messages import Dialog, Message

logger = logging.getLogger(__name__)

METADATA_EVENT_TYPE = "whoelse_post"
# Errors that no retry can fix: the message would fail the same way every time.
PERMANENT_ERRORS = {
    "channel_not_found",
    "is_archived",
    "invalid_blocks",
    "invalid_arguments",
    "msg_too_long",
    "no_text",
    "restricted_action",
    "user_not_found",
    "account_inactive",
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "missing_scope",
    "message_not_found",
    "cant_update_message",
    "users_not_found",
}
READ_RETRIES = 3

T = TypeVar("T")


def slack_error(error: SlackApiError) -> RateLimited | TransientError | PermanentError:
    response = error.response
    if response.status_code == 429:
        retry_after = float(response.headers.get("Retry-After", response.headers.get("retry-after", 1)))
        return RateLimited(retry_after)
    code = str(response.get("error", "")) if response.data else ""
    if code == "not_in_channel":
        return NotInChannel(code)
    if code in PERMANENT_ERRORS:
        return PermanentError(code)
    return TransientError(code or f"HTTP {response.status_code}")


class SlackGateway:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def _call(self, call: Callable[[], Awaitable[AsyncSlackResponse]]) -> AsyncSlackResponse:
        try:
            return await call()
        except SlackApiError as error:
            raise slack_error(error) from error
        except (TimeoutError, OSError) as error:
            raise TransientError(f"{type(error).__name__}: {error}") from error
        except Exception as error:
            # aiohttp's client errors do not share a base class with the stdlib ones.
            if type(error).__module__.startswith("aiohttp"):
                raise TransientError(f"{type(error).__name__}: {error}") from error
            raise

    async def _read(self, call: Callable[[], Awaitable[AsyncSlackResponse]]) -> AsyncSlackResponse:
        """Reads are cheap to repeat, so they wait out a rate limit here instead of in the outbox."""
        for attempt in range(READ_RETRIES):
            try:
                return await self._call(call)
            except RateLimited as limited:
                if attempt == READ_RETRIES - 1:
                    raise
                await asyncio.sleep(limited.retry_after)
        raise AssertionError("unreachable")

    async def post(
        self, *, channel: str, message: Message, idempotency_key: str, thread_ts: str | None = None
    ) -> Posted:
        text, blocks = render_message(message)
        arguments: dict[str, Any] = {
            "channel": channel,
            "text": text,
            "blocks": blocks,
            "unfurl_links": False,
            "metadata": {
                "event_type": METADATA_EVENT_TYPE,
                "event_payload": {"idempotency_key": idempotency_key},
            },
        }
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        response = await self._call(lambda: self.client.chat_postMessage(**arguments))
        return Posted(channel=str(response["channel"]), ts=str(response["ts"]))

    async def post_ephemeral(
        self, *, channel: str, user: str, message: Message, thread_ts: str | None = None
    ) -> None:
        text, blocks = render_message(message)
        await self._call(
            lambda: self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
            )
        )

    async def update(self, *, channel: str, ts: str, message: Message) -> None:
        text, blocks = render_message(message)
        await self._call(lambda: self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks))

    async def find_posted(
        self, *, channel: str, idempotency_key: str, since: datetime, thread_ts: str | None = None
    ) -> str | None:
        # Allow for clock skew between this machine and Slack's.
        oldest = f"{(since - timedelta(minutes=2)).timestamp():.6f}"
        cursor: str | None = None
        for _page in range(10):
            if thread_ts:
                response = await self._read(
                    lambda cursor=cursor: self.client.conversations_replies(  # type: ignore[misc]
                        channel=channel,
                        ts=thread_ts,
                        oldest=oldest,
                        include_all_metadata=True,
                        limit=200,
                        cursor=cursor,
                    )
                )
            else:
                response = await self._read(
                    lambda cursor=cursor: self.client.conversations_history(  # type: ignore[misc]
                        channel=channel, oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
                    )
                )
            for found in response.get("messages") or []:
                payload = (found.get("metadata") or {}).get("event_payload") or {}
                if payload.get("idempotency_key") == idempotency_key:
                    return str(found["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    async def open_direct(self, *, user: str) -> str:
        response = await self._read(lambda: self.client.conversations_open(users=user))
        return str(response["channel"]["id"])

    async def join(self, *, channel: str) -> None:
        await self._call(lambda: self.client.conversations_join(channel=channel))

    async def open_dialog(self, *, trigger_id: str, dialog: Dialog) -> None:
        view = render_dialog(dialog)
        await self._call(lambda: self.client.views_open(trigger_id=trigger_id, view=view))

    async def publish_home(self, *, user: str, message: Message) -> None:
        _text, blocks = render_message(message)
        view = {"type": "home", "blocks": blocks}
        await self._call(lambda: self.client.views_publish(user_id=user, view=view))

    async def person(self, *, user: str) -> Person:
        response = await self._read(lambda: self.client.users_info(user=user))
        return _person(response["user"], user)

    async def person_by_email(self, *, email: str) -> Person | None:
        try:
            response = await self._read(lambda: self.client.users_lookupByEmail(email=email))
        except PermanentError as error:
            if error.reason == "users_not_found":
                return None
            raise
        info = response["user"]
        if info.get("deleted") or info.get("is_bot") or not info.get("id"):
            return None
        return _person(info, str(info["id"]))

    async def channel_members(self, *, channel: str) -> list[str]:
        members: list[str] = []
        cursor: str | None = None
        while True:
            response = await self._read(
                lambda cursor=cursor: self.client.conversations_members(  # type: ignore[misc]
                    channel=channel, limit=1000, cursor=cursor
                )
            )
            members.extend(response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return members

    async def user_groups(self) -> list[UserGroup]:
        response = await self._read(lambda: self.client.usergroups_list(include_disabled=False))
        return [
            UserGroup(
                group_id=str(group["id"]), handle=str(group.get("handle") or ""), name=str(group.get("name") or "")
            )
            for group in response.get("usergroups") or []
        ]

    async def user_group_members(self, *, group: str) -> list[str]:
        response = await self._read(lambda: self.client.usergroups_users_list(usergroup=group))
        return [str(user) for user in response.get("users") or []]


def _person(info: dict[str, Any], user: str) -> Person:
    profile = info.get("profile") or {}
    return Person(
        user_id=user,
        name=profile.get("display_name") or info.get("real_name") or info.get("name") or user,
        timezone=info.get("tz") or "UTC",
        is_admin=bool(info.get("is_admin") or info.get("is_owner")),
        is_bot=bool(info.get("is_bot")),
        title=profile.get("title") or "",
    )

"""The Home tab on Slack: published when someone opens it, refreshed after their own answers, at most once per
person every few seconds (Slack allows views.publish about 100 times a minute per workspace).

Only people who opened their Home tab since this whoelse started are refreshed after answers: for anyone else Slack
would store a view nobody looks at, and opening the tab publishes a fresh one anyway.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.context import AppContext
from bot.gateway import ChatGateway, DeliveryError, RateLimited
from habits.home import HOME_SNOOZE, Reach, channels_to_ask_about, groups_to_ask_about, home_for, snooze_action
from habits.snoozing import apply_snooze
from models.db import session_scope

logger = logging.getLogger(__name__)

# One publish per person per this many seconds; answers in between are shown by one publish at its end.
EVERY_SECONDS = 3.0
# Channels whose members are asked for per publish: the busiest workspaces show the nudges of these.
CHANNELS_ASKED = 30

Key = tuple[str, str]


class HomePublisher:
    def __init__(self, context: AppContext, *, every: float = EVERY_SECONDS) -> None:
        self._context = context
        self.every = every
        self._seen: set[Key] = set()
        self._last: dict[Key, float] = {}
        self._pending: dict[Key, asyncio.Task[None]] = {}
        # Every task until it ends, running or waiting: the event loop itself keeps only weak references to them.
        self._tasks: set[asyncio.Task[None]] = set()
        # Where each workspace's messages are ("https://acme.slack.com/archives/"), as the last request from it said.
        self._archive_urls: dict[str, str] = {}

    def learnt_url(self, workspace_id: str, workspace_url: str | None) -> None:
        """The workspace's address ("https://acme.slack.com/"), from an auth.test whoelse asked anyway: the tab's
        links are made from it, with no call to Slack of their own."""
        if workspace_url:
            self._archive_urls[workspace_id] = workspace_url.rstrip("/") + "/archives/"

    def opened(self, workspace_id: str, user_id: str, *, workspace_url: str | None = None) -> None:
        """`workspace_url` is the workspace's address as the request's authorization learnt it, when it did."""
        self.learnt_url(workspace_id, workspace_url)
        self._seen.add((workspace_id, user_id))
        self._request((workspace_id, user_id))

    def refresh(self, workspace_id: str, user_id: str) -> None:
        if (workspace_id, user_id) in self._seen:
            self._request((workspace_id, user_id))

    def _request(self, key: Key) -> None:
        if key in self._pending:
            # The publish already waiting reads the database when it runs, so it shows this change too.
            return
        loop = asyncio.get_running_loop()
        wait = max(0.0, self._last.get(key, -self.every) + self.every - loop.time())
        task = loop.create_task(self._publish_after(key, wait))
        self._pending[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_after(self, key: Key, wait: float) -> None:
        await asyncio.sleep(wait)
        self._pending.pop(key, None)
        loop = asyncio.get_running_loop()
        self._last[key] = loop.time()
        try:
            await self.publish(*key)
        except RateLimited as limited:
            logger.warning("Slack asked to wait %gs before publishing a Home tab", limited.retry_after)
            # The next try waits out Slack's pause.
            self._last[key] = loop.time() + limited.retry_after - self.every
            self._request(key)
        except DeliveryError:
            logger.exception("could not publish a Home tab", extra={"workspace": key[0], "user": key[1]})
        except Exception:
            logger.exception("building a Home tab failed", extra={"workspace": key[0], "user": key[1]})

    async def publish(self, workspace_id: str, user_id: str) -> None:
        gateway = await self._context.gateway_for(workspace_id)
        person = await gateway.person(user=user_id)
        now = self._context.clock()
        async with session_scope(self._context.sessions) as session:
            channels = await channels_to_ask_about(session, workspace_id=workspace_id, now=now)
            groups = await groups_to_ask_about(session, workspace_id=workspace_id)
        # Asked with no transaction open, so no database lock is held across calls to Slack.
        reach = Reach(
            channels=await _member_of(gateway, user_id, channels[:CHANNELS_ASKED]),
            groups=await _in_groups(gateway, user_id, groups),
            timezone=person.timezone or self._context.settings.default_timezone,
            archive_url=self._archive_urls.get(workspace_id),
        )
        async with session_scope(self._context.sessions) as session:
            message = await home_for(
                session,
                workspace_id=workspace_id,
                user_id=user_id,
                now=now,
                is_admin=person.is_admin,
                reach=reach,
                scheduler_role=self._context.scheduler_role,
                default_timezone=self._context.settings.default_timezone,
            )
        await gateway.publish_home(user=user_id, message=message)


async def _member_of(gateway: ChatGateway, user_id: str, channels: list[str]) -> frozenset[str]:
    async def has_member(channel: str) -> bool:
        try:
            return user_id in await gateway.channel_members(channel=channel)
        except DeliveryError:
            logger.warning("could not list the members of %s for a Home tab", channel)
            return False

    found = await asyncio.gather(*(has_member(channel) for channel in channels))
    return frozenset(channel for channel, member in zip(channels, found, strict=True) if member)


async def _in_groups(gateway: ChatGateway, user_id: str, groups: list[str]) -> frozenset[str]:
    async def has_member(group: str) -> bool:
        try:
            return user_id in await gateway.user_group_members(group=group)
        except DeliveryError:
            logger.warning("could not list the members of user group %s for a Home tab", group)
            return False

    found = await asyncio.gather(*(has_member(group) for group in groups))
    return frozenset(group for group, member in zip(groups, found, strict=True) if member)


# One publisher per running app; features that record someone's answer ask it to refresh that person's tab.
_publishers: dict[int, HomePublisher] = {}


def refresh_home(context: AppContext, *, workspace_id: str, user_id: str) -> None:
    """Refreshes this person's Home tab soon, if they have one open on Slack (a no-op anywhere else)."""
    publisher = _publishers.get(id(context))
    if publisher is not None:
        publisher.refresh(workspace_id, user_id)


def publisher_of(context: AppContext) -> HomePublisher | None:
    return _publishers.get(id(context))


def register(bolt: AsyncApp, context: AppContext, *, workspace_url: str | None = None) -> None:
    """`workspace_url`: serving one workspace, its address as auth.test told it at start-up (Bolt's authorization
    of that one token does not pass it on to requests)."""
    publisher = HomePublisher(context)
    if context.default_workspace_id:
        publisher.learnt_url(context.default_workspace_id, workspace_url)
    _publishers[id(context)] = publisher
    weakref.finalize(context, _publishers.pop, id(context), None)

    @bolt.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], body: dict[str, Any], req: AsyncBoltRequest) -> None:
        # The Messages tab opens this event too; only the Home tab shows what whoelse publishes.
        if event.get("tab") != "home":
            return
        publisher.opened(_team(body), str(event["user"]), workspace_url=_workspace_url(req))

    @bolt.action(HOME_SNOOZE)
    async def on_snooze(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], req: AsyncBoltRequest
    ) -> None:
        await ack()
        workspace_id, user_id = _team(body), str(body["user"]["id"])
        async with session_scope(context.sessions) as session:
            # The answer in words is not needed: the tab itself shows the snooze as it now is.
            await apply_snooze(
                session,
                workspace_id=workspace_id,
                user_id=user_id,
                action=snooze_action(str(action.get("value") or "")),
                now=context.clock(),
                timezone=None,
                default_timezone=context.settings.default_timezone,
            )
        publisher.opened(workspace_id, user_id, workspace_url=_workspace_url(req))


def _team(body: dict[str, Any]) -> str:
    return str(body.get("team_id") or (body.get("team") or {}).get("id") or body["user"]["team_id"])


def _workspace_url(req: AsyncBoltRequest) -> str | None:
    """The workspace's address, as authorizing the request learnt it from auth.test (asked once per token)."""
    authorized = req.context.authorize_result
    return authorized.url if authorized is not None else None

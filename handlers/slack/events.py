"""Posts by CRM and helpdesk bots in channels watched with `/whoelse watch deals|tickets` become deal and ticket
events, exactly like signed webhooks.

Only other bots' new posts count: people's messages are conversation, not notifications, and Bolt already drops the
bot's own posts (including its nudges) before they reach this listener.

A post's event is stored before Slack hears back, like a webhook's: Bolt answers once listener middleware returns,
and runs the listener itself only after answering. So a crash cannot lose a post Slack was told arrived, a database
that cannot store it answers an error that Slack retries (the retry is recognised by the post's channel and ts), and
a burst Slack sends faster than whoelse can store waits at Slack, not in this process's memory.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.context import AppContext
from habits.bot_posts import BotPost, Link, kind_in_channel, parse_bot_post
from handlers.commands import CommandRouter

logger = logging.getLogger(__name__)

# New posts only: edits, deletions and joins are not notifications.
POST_SUBTYPES = {None, "bot_message"}
SLACK_MARKUP = re.compile(r"<([^<>\n]+)>")
WEB_LINK = ("http://", "https://")


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    """Listens to message events; `router` is unused because watching channels is its own subcommand's job."""

    @bolt.event("message", middleware=[StoreBeforeAnswering(context)])
    async def on_message() -> None:
        """Nothing is left to do once Slack has its answer: the post was taken in before (see StoreBeforeAnswering)."""


class StoreBeforeAnswering(AsyncMiddleware):
    """Bolt answers Slack once listener middleware returns: the post's event is stored by then.

    A class rather than a function: Bolt hands a class its request as is, where it would assemble two dozen optional
    arguments for a function on every message in every channel the bot is in.
    """

    def __init__(self, context: AppContext) -> None:
        self._context = context

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        await take_in_bot_post(self._context, req.body.get("event") or {}, req.body)
        await next()
        return resp


async def take_in_bot_post(context: AppContext, message: dict[str, Any], body: dict[str, Any]) -> None:
    """Stores the event a bot's post in a watched channel announces; anything else is left alone."""
    post = bot_post_from(message)
    if post is None:
        return
    workspace_id = str(body.get("team_id") or context.default_workspace_id)
    assert context.watched is not None
    kinds = await context.watched.kinds(workspace_id=workspace_id, channel_id=post.channel_id)
    if not kinds:
        return
    parsed = parse_bot_post(post, kind=kind_in_channel(kinds, post))
    if parsed is None:
        logger.debug("bot post %s:%s announces no deal or ticket moment", post.channel_id, post.ts)
        return
    assert context.intake is not None
    # Slack retries a delivery it thinks went unanswered; the post's channel and ts make the retry a no-op.
    event_id = await context.intake.accept(workspace_id=workspace_id, event=parsed)
    logger.info(
        "bot post in a watched channel",
        extra={"channel": post.channel_id, "ts": post.ts, "event_id": event_id, "repeat": event_id is None},
    )


def bot_post_from(message: dict[str, Any]) -> BotPost | None:
    """A bot's new channel post as plain lines and links, or None for anything else (people, edits, joins)."""
    if message.get("subtype") not in POST_SUBTYPES or message.get("hidden"):
        return None
    if not message.get("bot_id") and message.get("subtype") != "bot_message":
        return None
    channel, ts = message.get("channel"), message.get("ts")
    if not channel or not ts:
        return None
    reader = _PostReader()
    reader.add(message.get("text"))
    for attachment in message.get("attachments") or []:
        reader.add_attachment(attachment)
    for block in message.get("blocks") or []:
        reader.add_block(block)
    if not reader.lines:
        return None
    thread_ts = message.get("thread_ts")
    return BotPost(
        channel_id=str(channel),
        ts=str(ts),
        lines=tuple(reader.lines),
        links=tuple(reader.links),
        thread_ts=str(thread_ts) if thread_ts and thread_ts != ts else None,
    )


class _PostReader:
    """Collects a post's text in reading order; bots repeat themselves across text, attachments and blocks."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.links: list[Link] = []

    def add(self, text: object) -> None:
        if isinstance(text, str):
            self._add_plain(self.plain(text))

    def _add_plain(self, text: str) -> None:
        for line in text.splitlines():
            line = line.strip()
            if line and line not in self.lines:
                self.lines.append(line)

    def plain(self, text: str) -> str:
        """Slack markup as people read it: links as their labels (remembered), mentions as @names."""

        def readable(match: re.Match[str]) -> str:
            target, _, label = match.group(1).partition("|")
            if target.startswith(WEB_LINK):
                self.links.append(Link(url=target, label=_unescape(label) or None))
                return label or target
            if target.startswith("mailto:"):
                return label or target.removeprefix("mailto:")
            if target.startswith(("@", "#")):
                return target[0] + (label.lstrip("@#") or target[1:])
            if target.startswith("!"):
                # <!here>, <!subteam^S1|@sales>, <!date^1700000000^{date}|Nov 14>
                return label or "@" + target[1:].split("^")[0]
            return label or target

        return _unescape(SLACK_MARKUP.sub(readable, text))

    def add_attachment(self, attachment: dict[str, Any]) -> None:
        before = len(self.lines)
        self.add(attachment.get("pretext"))
        self.add(attachment.get("author_name"))
        title, title_link = attachment.get("title"), attachment.get("title_link")
        if isinstance(title, str):
            position = len(self.links)
            plain_title = self.plain(title)
            if isinstance(title_link, str) and title_link.startswith(WEB_LINK):
                # The attachment's title names the deal or ticket and links to it: that link comes first.
                self.links.insert(position, Link(url=title_link, label=plain_title.strip() or None))
            self._add_plain(plain_title)
        self.add(attachment.get("text"))
        for field in attachment.get("fields") or []:
            label, value = field.get("title"), field.get("value")
            self.add(f"{label}: {value}" if label and value else value)
        self.add(attachment.get("footer"))
        if len(self.lines) == before:
            self.add(attachment.get("fallback"))

    def add_block(self, block: dict[str, Any]) -> None:
        kind = block.get("type")
        if kind in ("section", "header"):
            self.add((block.get("text") or {}).get("text"))
            for field in block.get("fields") or []:
                self.add(field.get("text"))
        elif kind == "context":
            for element in block.get("elements") or []:
                self.add(element.get("text"))
        elif kind == "rich_text":
            for element in block.get("elements") or []:
                self.add("".join(self._rich_text(element.get("elements") or [])))

    def _rich_text(self, elements: Iterable[dict[str, Any]]) -> Iterable[str]:
        for element in elements:
            kind = element.get("type")
            if kind == "text":
                yield str(element.get("text") or "")
            elif kind == "link":
                url, label = str(element.get("url") or ""), element.get("text")
                if url.startswith(WEB_LINK):
                    self.links.append(Link(url=url, label=label or None))
                yield str(label or url)
            elif kind == "user":
                yield "@" + str(element.get("user_id") or "")
            elif kind == "channel":
                yield "#" + str(element.get("channel_id") or "")
            elif "elements" in element:
                # Lists, quotes and preformatted sections nest their own elements, one line each.
                yield from self._rich_text(element["elements"])
                yield "\n"


def _unescape(text: str) -> str:
    # Slack escapes exactly these three in message text.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

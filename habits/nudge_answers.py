"""Answers to a nudge: who else was looped in (or nobody), and help offered or asked for. Each is recorded with
who and when, and shown in the nudge's thread; "nobody else" is acknowledged only to the person who said it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from habits.form_origin import FormOrigin
from habits.messages import Choice, ChoiceInput, Dialog, Message, Paragraph, TextInput, mention, shown
from habits.nudge_message import HELP_SUBMIT
from habits.nudging import headline, stored_event
from habits.private_notes import tell_privately
from models.events import ReceivedEvent
from models.nudges import HelpExchange, LoopIn, Nudge
from models.outbox import OutboxMessage, enqueue

HELP_KINDS = {"offer": "offers", "request": "asks for"}
HELP_CATEGORIES = ("sales", "engineering", "marketing", "support", "other")
HELP_TEXT_LIMIT = 2000
NOT_HERE = "That nudge is not from this channel, or no longer exists."
NOBODY_NOTED = "Noted: nobody else needs to know. Thanks for checking."
NOBODY_AGAIN = "You already said nobody else needs to know about this one."


@dataclass(frozen=True)
class LoopInResult:
    nudge: Nudge
    # The people this answer looped in for the first time (and mentioned in the thread), in the order picked.
    newly_looped: list[str]


async def nudge_in_channel(
    session: AsyncSession, *, workspace_id: str, channel_id: str, nudge_id: int
) -> Nudge | None:
    """The nudge, only if it was asked in this channel of this workspace: an id in a click is never trusted to
    answer (and post into) another channel, let alone another workspace."""
    return await session.scalar(
        select(Nudge).where(
            Nudge.workspace_id == workspace_id, Nudge.channel_id == channel_id, Nudge.id == nudge_id
        )
    )


async def loop_in(
    session: AsyncSession,
    *,
    nudge: Nudge,
    by_user: str,
    picked: Iterable[str],
    now: datetime,
    ignore: Iterable[str] = (),
) -> LoopInResult:
    """Records each colleague this person loops in once, and mentions the new ones in the thread.

    Slack sends the whole selection every time it changes, so people already looped in by this person are
    skipped, as is the picker (looping in yourself tells no one anything new).
    """
    skip = {by_user, *ignore}
    already = set(
        await session.scalars(
            select(LoopIn.looped_user).where(
                LoopIn.workspace_id == nudge.workspace_id, LoopIn.nudge_id == nudge.id, LoopIn.by_user == by_user
            )
        )
    )
    recorded: list[LoopIn] = []
    for user in dict.fromkeys(picked):
        if user in skip or user in already:
            continue
        row = LoopIn(
            workspace_id=nudge.workspace_id, nudge_id=nudge.id, by_user=by_user, looped_user=user, created_at=now
        )
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            # The same selection arriving twice at once: the other request recorded and announces this person.
            continue
        recorded.append(row)
    if not recorded:
        return LoopInResult(nudge, [])
    _answered(nudge, now)
    looped = [row.looped_user for row in recorded if row.looped_user is not None]
    about = await what_it_is_about(session, nudge)
    text = f"{mention(by_user)} looped in {and_list([mention(user) for user in looped])}: {about}"
    await _reply_in_thread(
        session,
        nudge=nudge,
        # Row ids are unique, so a repeated request can never queue this announcement twice.
        key=f"loop-in:{nudge.id}:{recorded[0].id}",
        message=Message(text=text, parts=[Paragraph(text=text)]),
        now=now,
    )
    return LoopInResult(nudge, looped)


async def nobody_else(
    session: AsyncSession,
    *,
    nudge: Nudge,
    by_user: str,
    now: datetime,
    thread_ts: str | None = None,
    tell_privately_too: bool = True,
) -> bool:
    """Records "nobody else needs to know", a real answer, and thanks the person where only they see it.

    Returns False when this person had said so already (they are told, and nothing new is recorded). Where the
    click itself is answered privately (a Teams card refreshed for the clicker), `tell_privately_too=False` queues
    no note: on Teams it would arrive a second time, as a message in the person's chat with whoelse.
    """
    existing = await session.scalar(
        select(LoopIn.id).where(
            LoopIn.workspace_id == nudge.workspace_id,
            LoopIn.nudge_id == nudge.id,
            LoopIn.by_user == by_user,
            LoopIn.looped_user.is_(None),
        )
    )
    if existing is not None:
        if not tell_privately_too:
            return False
        await tell_privately(
            session,
            workspace_id=nudge.workspace_id,
            channel_id=nudge.channel_id,
            user_id=by_user,
            text=NOBODY_AGAIN,
            key=f"nobody-again:{nudge.id}:{uuid.uuid4().hex}",
            now=now,
            thread_ts=thread_ts,
        )
        return False
    row = LoopIn(
        workspace_id=nudge.workspace_id, nudge_id=nudge.id, by_user=by_user, looped_user=None, created_at=now
    )
    session.add(row)
    _answered(nudge, now)
    await session.flush()
    if not tell_privately_too:
        return True
    # Only the person sees this: "nobody else" is worth recording, not announcing to the channel.
    await tell_privately(
        session,
        workspace_id=nudge.workspace_id,
        channel_id=nudge.channel_id,
        user_id=by_user,
        text=NOBODY_NOTED,
        key=f"nobody:{row.id}",
        now=now,
        thread_ts=thread_ts,
    )
    return True


async def refuse(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    user_id: str,
    now: datetime,
    thread_ts: str | None = None,
) -> None:
    """Tells someone, privately, that the nudge they answered is not one of this channel's (and nothing more)."""
    await tell_privately(
        session,
        workspace_id=workspace_id,
        channel_id=channel_id,
        user_id=user_id,
        text=NOT_HERE,
        key=f"nudge-refused:{uuid.uuid4().hex}",
        now=now,
        thread_ts=thread_ts,
    )


def help_dialog(nudge: Nudge, *, opened_by: str) -> Dialog:
    return Dialog(
        callback_id=HELP_SUBMIT,
        title="What else can we help with?",
        submit_label="Post in thread",
        context=FormOrigin(channel_id=nudge.channel_id, user_id=opened_by, subject_id=nudge.id).encoded(),
        intro=f"About: *{shown(nudge.title)}*",
        inputs=[
            ChoiceInput(
                input_id="kind",
                label="I want to…",
                style="radio",
                initial="offer",
                choices=[Choice(value="offer", label="Offer help"), Choice(value="request", label="Ask for help")],
            ),
            ChoiceInput(
                input_id="category",
                label="From or for which team?",
                choices=[Choice(value=category, label=category.capitalize()) for category in HELP_CATEGORIES],
            ),
            TextInput(
                input_id="text",
                label="What exactly?",
                multiline=True,
                max_length=HELP_TEXT_LIMIT,
                placeholder="e.g. I can join the technical call on Thursday",
            ),
        ],
    )


def help_errors(values: Mapping[str, str | list[str] | None]) -> dict[str, str]:
    """Field errors for a help form, keyed by input id (empty when it is fine)."""
    errors: dict[str, str] = {}
    if values.get("kind") not in HELP_KINDS:
        errors["kind"] = "Choose whether you offer or ask for help."
    if values.get("category") not in HELP_CATEGORIES:
        errors["category"] = "Choose a team."
    text = values.get("text")
    if not isinstance(text, str) or not text.strip():
        errors["text"] = "Say what you can help with, or what you need."
    elif len(text) > HELP_TEXT_LIMIT:
        errors["text"] = f"Keep it under {HELP_TEXT_LIMIT} characters."
    return errors


async def record_help(
    session: AsyncSession, *, nudge: Nudge, user_id: str, kind: str, category: str, text: str, now: datetime
) -> HelpExchange:
    """Records a help offer or request (already checked with `help_errors`) and shows it in the thread."""
    exchange = HelpExchange(
        workspace_id=nudge.workspace_id,
        nudge_id=nudge.id,
        user_id=user_id,
        kind=kind,
        category=category,
        text=text.strip(),
        created_at=now,
    )
    session.add(exchange)
    _answered(nudge, now)
    await session.flush()
    verb = HELP_KINDS[kind]
    await _reply_in_thread(
        session,
        nudge=nudge,
        key=f"help:{exchange.id}",
        message=Message(
            text=f"{mention(user_id)} {verb} {category} help",
            # What people type is shown as written: a typed <!channel> or link must not ping or unfurl.
            parts=[Paragraph(text=f"{mention(user_id)} {verb} *{category}* help: {shown(exchange.text)}")],
        ),
        now=now,
    )
    return exchange


async def what_it_is_about(session: AsyncSession, nudge: Nudge) -> str:
    """The moment the nudge asked about, as its headline put it ("*Acme renewal* moved to *Negotiation*")."""
    if nudge.event_id is not None:
        record = await session.scalar(
            select(ReceivedEvent).where(
                ReceivedEvent.workspace_id == nudge.workspace_id, ReceivedEvent.id == nudge.event_id
            )
        )
        if record is not None:
            return headline(stored_event(record))
    return f"*{shown(nudge.title)}*"


def and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _answered(nudge: Nudge, now: datetime) -> None:
    if nudge.first_answer_at is None:
        nudge.first_answer_at = now


async def _reply_in_thread(
    session: AsyncSession, *, nudge: Nudge, key: str, message: Message, now: datetime
) -> None:
    """Replies where the nudge lives: its own thread, or the thread it was itself posted in.

    A nudge that was never queued (held back by the hourly cap) has no buttons, so it cannot be answered.
    """
    post = await session.get(OutboxMessage, nudge.outbox_id) if nudge.outbox_id else None
    if post is None:
        return
    thread_parent_id: int | None = None
    thread_ts: str | None = None
    if post.thread_ts is not None:
        # The nudge answered a bot's post: Slack threads are one level deep, so reply in that post's thread.
        thread_ts = post.thread_ts
    else:
        thread_parent_id = post.thread_parent_id or post.id
    await enqueue(
        session,
        workspace_id=nudge.workspace_id,
        idempotency_key=key,
        channel_id=nudge.channel_id,
        message=message,
        thread_parent_id=thread_parent_id,
        thread_ts=thread_ts,
        not_before=now,
    )

"""Answers to a nudge: who else was looped in (or nobody), and help offered or asked for. Each is recorded with
who and when, and shown in the nudge's thread."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.messages import Choice, ChoiceInput, Dialog, Message, Paragraph, TextInput, mention
from habits.nudge_message import HELP_SUBMIT
from models.nudges import HelpExchange, LoopIn, Nudge
from models.outbox import OutboxMessage, enqueue

HELP_KINDS = {"offer": "offers", "request": "asks for"}
HELP_CATEGORIES = ("sales", "engineering", "marketing", "support", "other")
HELP_TEXT_LIMIT = 2000


@dataclass(frozen=True)
class LoopInResult:
    nudge: Nudge
    newly_looped: list[str]


async def nudge_in_workspace(session: AsyncSession, *, workspace_id: str, nudge_id: int) -> Nudge | None:
    """The nudge, only if it belongs to this workspace: ids in payloads are never trusted across tenants."""
    return await session.scalar(select(Nudge).where(Nudge.id == nudge_id, Nudge.workspace_id == workspace_id))


async def loop_in(
    session: AsyncSession,
    *,
    nudge: Nudge,
    by_user: str,
    picked: Iterable[str],
    now: datetime,
    ignore: Iterable[str] = (),
) -> LoopInResult:
    """Records each newly picked colleague once and mentions them in the thread; picking again changes nothing."""
    skip = {by_user, *ignore}
    already = set(
        await session.scalars(
            select(LoopIn.looped_user).where(LoopIn.nudge_id == nudge.id, LoopIn.by_user == by_user)
        )
    )
    newly = [user for user in dict.fromkeys(picked) if user not in skip and user not in already]
    if not newly:
        return LoopInResult(nudge, [])
    for user in newly:
        session.add(
            LoopIn(
                workspace_id=nudge.workspace_id,
                nudge_id=nudge.id,
                by_user=by_user,
                looped_user=user,
                created_at=now,
            )
        )
    _answered(nudge, now)
    await session.flush()
    names = ", ".join(mention(user) for user in newly)
    await _reply_in_thread(
        session,
        nudge=nudge,
        key=f"loop-in:{nudge.id}:{by_user}:{','.join(sorted(newly))}",
        message=Message(
            text=f"{mention(by_user)} looped in {names}",
            parts=[Paragraph(text=f"{mention(by_user)} looped in {names}: {nudge.title}")],
        ),
    )
    return LoopInResult(nudge, newly)


async def nobody_else(session: AsyncSession, *, nudge: Nudge, by_user: str, now: datetime) -> bool:
    """Records "nobody else needs to know" (a real answer). Returns False when this person had said so already."""
    existing = await session.scalar(
        select(LoopIn.id).where(
            LoopIn.nudge_id == nudge.id, LoopIn.by_user == by_user, LoopIn.looped_user.is_(None)
        )
    )
    if existing is not None:
        return False
    session.add(
        LoopIn(
            workspace_id=nudge.workspace_id, nudge_id=nudge.id, by_user=by_user, looped_user=None, created_at=now
        )
    )
    _answered(nudge, now)
    await session.flush()
    return True


def help_dialog(nudge: Nudge) -> Dialog:
    return Dialog(
        callback_id=HELP_SUBMIT,
        title="What else can we help with?",
        submit_label="Post in thread",
        context=str(nudge.id),
        intro=f"About: *{nudge.title}*",
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


def help_errors(values: dict[str, str | list[str] | None]) -> dict[str, str]:
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
            parts=[Paragraph(text=f"{mention(user_id)} {verb} *{category}* help: {_quoted(exchange.text)}")],
        ),
    )
    return exchange


def _answered(nudge: Nudge, now: datetime) -> None:
    if nudge.first_answer_at is None:
        nudge.first_answer_at = now


def _quoted(text: str) -> str:
    # People's text is shown, never interpreted: no channel-wide pings or links smuggled in through it.
    return text.replace("<!", "<\u200b!").replace("@{", "@\u200b{")


async def _reply_in_thread(session: AsyncSession, *, nudge: Nudge, key: str, message: Message) -> None:
    """Replies where the nudge lives: its own thread, or the thread it was itself posted in."""
    post = await session.get(OutboxMessage, nudge.outbox_id) if nudge.outbox_id else None
    if post is None:
        return
    thread_ts = post.thread_ts
    thread_parent_id = None if thread_ts is not None else (post.thread_parent_id or post.id)
    await enqueue(
        session,
        workspace_id=nudge.workspace_id,
        idempotency_key=key,
        channel_id=nudge.channel_id,
        message=message,
        thread_ts=thread_ts,
        thread_parent_id=thread_parent_id,
    )

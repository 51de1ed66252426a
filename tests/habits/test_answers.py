"""Answers to a nudge over the database: what is recorded, with whom and when, and what the thread is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.events import BusinessEvent
from habits.form_origin import FormOrigin, read_origin
from habits.messages import Paragraph
from habits.nudge_answers import (
    help_dialog,
    help_errors,
    loop_in,
    nobody_else,
    nudge_in_channel,
    record_help,
    refuse,
)
from habits.nudging import nudge_by_hand
from models.db import session_scope
from models.nudges import HelpExchange, LoopIn, Nudge
from models.outbox import OutboxMessage
from models.workspaces import get_or_create_workspace
from tests.habits.receiving import receive_event

WORKSPACE = "T0001"
OTHER = "T0002"
DEALS = "CDEALS"
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = NOON + timedelta(minutes=7)

Sessions = async_sessionmaker[AsyncSession]


def deal(event_id: str, *, stage: str = "Negotiation", **extra: Any) -> BusinessEvent:
    fields: dict[str, Any] = {
        "source": "webhook",
        "external_id": event_id,
        "kind": "deal",
        "event": "stage_changed",
        "subject_id": "https://crm.example.com/deals/1",
        "title": "Acme renewal",
        "account": "Acme",
        "stage": stage,
        "channel": DEALS,
    }
    return BusinessEvent(**(fields | extra))


async def event_nudge(sessions: Sessions, event: BusinessEvent) -> int:
    async with session_scope(sessions) as session:
        workspace = await get_or_create_workspace(session, workspace_id=WORKSPACE)
        workspace.quiet_start = workspace.quiet_end = None
        result = await receive_event(session, workspace_id=WORKSPACE, event=event, now=NOON)
    assert result.outcome == "nudged" and result.nudge_id is not None
    return result.nudge_id


async def manual_nudge(sessions: Sessions, text: str = "Acme renewal", workspace: str = WORKSPACE) -> int:
    async with session_scope(sessions) as session:
        nudge = await nudge_by_hand(
            session, workspace_id=workspace, channel_id=DEALS, user_id="UASKER", text=text, now=NOON
        )
    return nudge.id


async def the_nudge(session: AsyncSession, nudge_id: int) -> Nudge:
    nudge = await nudge_in_channel(session, workspace_id=WORKSPACE, channel_id=DEALS, nudge_id=nudge_id)
    assert nudge is not None
    return nudge


async def replies_to(sessions: Sessions, nudge_id: int) -> list[OutboxMessage]:
    """What was queued besides the nudges themselves, oldest first."""
    async with session_scope(sessions) as session:
        nudge_posts = select(Nudge.outbox_id).where(Nudge.outbox_id.is_not(None))
        return list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.not_in(nudge_posts)).order_by(OutboxMessage.id)
            )
        )


def said(row: OutboxMessage) -> str:
    [paragraph] = row.neutral_message().parts
    assert isinstance(paragraph, Paragraph)
    return paragraph.text


async def test_looping_people_in_records_who_and_when_and_says_why_in_the_nudges_thread(
    sessions: Sessions,
) -> None:
    nudge_id = await event_nudge(sessions, deal("e1"))

    async with session_scope(sessions) as session:
        result = await loop_in(
            session,
            nudge=await the_nudge(session, nudge_id),
            by_user="UANA",
            picked=["UBO", "UCY", "UDEE"],
            now=NOON,
        )

    assert result.newly_looped == ["UBO", "UCY", "UDEE"]
    async with session_scope(sessions) as session:
        rows = list(await session.scalars(select(LoopIn).order_by(LoopIn.id)))
        nudge = await the_nudge(session, nudge_id)
    assert [(r.workspace_id, r.nudge_id, r.by_user, r.looped_user, r.created_at) for r in rows] == [
        (WORKSPACE, nudge_id, "UANA", "UBO", NOON),
        (WORKSPACE, nudge_id, "UANA", "UCY", NOON),
        (WORKSPACE, nudge_id, "UANA", "UDEE", NOON),
    ]
    assert nudge.first_answer_at == NOON
    [reply] = await replies_to(sessions, nudge_id)
    assert (
        said(reply) == "@{UANA} looped in @{UBO}, @{UCY} and @{UDEE}: *Acme renewal* (Acme) moved to *Negotiation*"
    )
    assert (reply.channel_id, reply.thread_parent_id, reply.thread_ts) == (DEALS, nudge.outbox_id, None)
    assert reply.ephemeral_user_id is None


async def test_the_same_pick_again_records_and_announces_nothing(sessions: Sessions) -> None:
    nudge_id = await manual_nudge(sessions)
    async with session_scope(sessions) as session:
        await loop_in(session, nudge=await the_nudge(session, nudge_id), by_user="UANA", picked=["UBO"], now=NOON)

    async with session_scope(sessions) as session:
        again = await loop_in(
            session, nudge=await the_nudge(session, nudge_id), by_user="UANA", picked=["UBO", "UBO"], now=LATER
        )

    assert again.newly_looped == []
    async with session_scope(sessions) as session:
        assert len(list(await session.scalars(select(LoopIn)))) == 1
    assert len(await replies_to(sessions, nudge_id)) == 1


async def test_a_later_answer_keeps_the_first_answer_time_and_names_only_the_new_person(
    sessions: Sessions,
) -> None:
    nudge_id = await manual_nudge(sessions)
    async with session_scope(sessions) as session:
        await loop_in(session, nudge=await the_nudge(session, nudge_id), by_user="UANA", picked=["UBO"], now=NOON)
    async with session_scope(sessions) as session:
        await loop_in(
            session, nudge=await the_nudge(session, nudge_id), by_user="UANA", picked=["UBO", "UCY"], now=LATER
        )

    async with session_scope(sessions) as session:
        assert (await the_nudge(session, nudge_id)).first_answer_at == NOON
    assert [said(reply) for reply in await replies_to(sessions, nudge_id)] == [
        "@{UANA} looped in @{UBO}: *Acme renewal*",
        "@{UANA} looped in @{UCY}: *Acme renewal*",
    ]


async def test_the_picker_themself_and_ignored_users_are_skipped(sessions: Sessions) -> None:
    nudge_id = await manual_nudge(sessions)

    async with session_scope(sessions) as session:
        only_self = await loop_in(
            session,
            nudge=await the_nudge(session, nudge_id),
            by_user="UANA",
            picked=["UANA", "UBOT"],
            now=NOON,
            ignore={"UBOT"},
        )

    assert only_self.newly_looped == []
    async with session_scope(sessions) as session:
        assert list(await session.scalars(select(LoopIn))) == []
        assert (await the_nudge(session, nudge_id)).first_answer_at is None
    assert await replies_to(sessions, nudge_id) == []


async def test_two_people_can_each_loop_in_the_same_colleague(sessions: Sessions) -> None:
    nudge_id = await manual_nudge(sessions)
    for by_user in ("UANA", "UCY"):
        async with session_scope(sessions) as session:
            await loop_in(
                session, nudge=await the_nudge(session, nudge_id), by_user=by_user, picked=["UBO"], now=NOON
            )

    assert [said(reply) for reply in await replies_to(sessions, nudge_id)] == [
        "@{UANA} looped in @{UBO}: *Acme renewal*",
        "@{UCY} looped in @{UBO}: *Acme renewal*",
    ]


async def test_answers_to_a_follow_up_nudge_go_to_the_thread_it_lives_in(sessions: Sessions) -> None:
    first_id = await event_nudge(sessions, deal("e1", stage="Proposal"))
    follow_up_id = await event_nudge(sessions, deal("e2", stage="Negotiation"))

    async with session_scope(sessions) as session:
        await loop_in(
            session, nudge=await the_nudge(session, follow_up_id), by_user="UANA", picked=["UBO"], now=NOON
        )
        first = await the_nudge(session, first_id)

    [reply] = await replies_to(sessions, follow_up_id)
    # Slack threads are one level deep: the follow-up is a reply under the first nudge, and so is its answer.
    assert (reply.thread_parent_id, reply.thread_ts) == (first.outbox_id, None)
    assert said(reply).endswith("*Acme renewal* (Acme) moved to *Negotiation*")


async def test_answers_to_a_nudge_under_a_bots_post_go_to_that_posts_thread(sessions: Sessions) -> None:
    nudge_id = await event_nudge(sessions, deal("e1", thread_ts="1700000000.000200"))

    async with session_scope(sessions) as session:
        await record_help(
            session,
            nudge=await the_nudge(session, nudge_id),
            user_id="UANA",
            kind="offer",
            category="support",
            text="On it",
            now=NOON,
        )

    [reply] = await replies_to(sessions, nudge_id)
    assert (reply.thread_parent_id, reply.thread_ts) == (None, "1700000000.000200")


async def test_nobody_else_is_recorded_once_and_acknowledged_only_to_the_person(sessions: Sessions) -> None:
    nudge_id = await manual_nudge(sessions)

    async with session_scope(sessions) as session:
        first = await nobody_else(session, nudge=await the_nudge(session, nudge_id), by_user="UANA", now=NOON)
    async with session_scope(sessions) as session:
        second = await nobody_else(session, nudge=await the_nudge(session, nudge_id), by_user="UANA", now=LATER)

    assert (first, second) == (True, False)
    async with session_scope(sessions) as session:
        rows = list(await session.scalars(select(LoopIn)))
        assert (await the_nudge(session, nudge_id)).first_answer_at == NOON
    assert [(r.by_user, r.looped_user, r.created_at) for r in rows] == [("UANA", None, NOON)]
    notes = await replies_to(sessions, nudge_id)
    assert [(note.channel_id, note.ephemeral_user_id) for note in notes] == [(DEALS, "UANA"), (DEALS, "UANA")]
    assert "nobody else needs to know" in notes[0].neutral_message().text
    assert "already" in notes[1].neutral_message().text


async def test_help_is_recorded_and_posted_as_written_but_never_pings_or_links(sessions: Sessions) -> None:
    nudge_id = await manual_nudge(sessions)

    async with session_scope(sessions) as session:
        exchange = await record_help(
            session,
            nudge=await the_nudge(session, nudge_id),
            user_id="UANA",
            kind="request",
            category="engineering",
            text="  <!channel> need @{UCEO} on <https://evil.example|this>  ",
            now=NOON,
        )

    async with session_scope(sessions) as session:
        stored = await session.get(HelpExchange, exchange.id)
        assert (await the_nudge(session, nudge_id)).first_answer_at == NOON
    assert stored is not None
    assert (stored.workspace_id, stored.user_id, stored.kind, stored.category, stored.created_at) == (
        WORKSPACE,
        "UANA",
        "request",
        "engineering",
        NOON,
    )
    assert stored.text == "<!channel> need @{UCEO} on <https://evil.example|this>"
    [reply] = await replies_to(sessions, nudge_id)
    assert (
        said(reply) == "@{UANA} asks for *engineering* help: ‹!channel› need @UCEO on ‹https://evil.example|this›"
    )


async def test_a_crm_title_is_shown_inert_when_people_are_looped_in(sessions: Sessions) -> None:
    nudge_id = await event_nudge(sessions, deal("e1", title="Acme <!here> renewal"))

    async with session_scope(sessions) as session:
        await loop_in(session, nudge=await the_nudge(session, nudge_id), by_user="UANA", picked=["UBO"], now=NOON)

    [reply] = await replies_to(sessions, nudge_id)
    assert "<!here>" not in said(reply)
    assert "‹!here›" in said(reply)


async def test_nudges_are_found_only_in_their_own_workspace_and_channel(sessions: Sessions) -> None:
    nudge_id = await manual_nudge(sessions)

    async with session_scope(sessions) as session:
        assert await nudge_in_channel(session, workspace_id=OTHER, channel_id=DEALS, nudge_id=nudge_id) is None
        assert await nudge_in_channel(session, workspace_id=WORKSPACE, channel_id="CHR", nudge_id=nudge_id) is None
        found = await nudge_in_channel(session, workspace_id=WORKSPACE, channel_id=DEALS, nudge_id=nudge_id)
        assert found is not None and found.id == nudge_id


async def test_a_refusal_is_a_note_only_the_clicker_sees_in_their_own_workspace(sessions: Sessions) -> None:
    nudge_id = await manual_nudge(sessions)

    async with session_scope(sessions) as session:
        await refuse(session, workspace_id=OTHER, channel_id="COTHER", user_id="UEVE", now=NOON)

    [note] = await replies_to(sessions, nudge_id)
    assert (note.workspace_id, note.channel_id, note.ephemeral_user_id) == (OTHER, "COTHER", "UEVE")
    assert "not from this channel" in note.neutral_message().text


def test_the_help_form_asks_what_kind_which_team_and_what_exactly() -> None:
    nudge = Nudge(id=42, workspace_id=WORKSPACE, channel_id=DEALS, juncture="manual", title="Acme <!here>")

    dialog = help_dialog(nudge, opened_by="UANA")

    assert dialog.callback_id == "whoelse_help_submit"
    assert read_origin(dialog.context, user_id="UANA") == FormOrigin(
        channel_id=DEALS, user_id="UANA", subject_id=42
    )
    assert read_origin(dialog.context, user_id="UEVE") is None, "only the person who opened it can send it"
    assert [field.input_id for field in dialog.inputs] == ["kind", "category", "text"]
    assert "<!here>" not in dialog.intro


def test_help_form_errors_name_each_missing_or_invalid_field() -> None:
    fine = {"kind": "offer", "category": "sales", "text": "I know their CFO"}
    assert help_errors(fine) == {}
    assert help_errors(fine | {"kind": "demand"}) == {"kind": "Choose whether you offer or ask for help."}
    assert help_errors(fine | {"category": "finance"}) == {"category": "Choose a team."}
    assert help_errors(fine | {"text": " \n "}) == {"text": "Say what you can help with, or what you need."}
    assert help_errors(fine | {"text": None}) == {"text": "Say what you can help with, or what you need."}
    assert help_errors(fine | {"text": "x" * 2000}) == {}
    assert help_errors(fine | {"text": "x" * 2001}) == {"text": "Keep it under 2000 characters."}

"""The elephant-in-the-room poll: open it, name an elephant, vote, close and show the results.

A poll runs one of two ways. Overlapping (the default): people name elephants (one each) until the poll closes and,
meanwhile, vote on those named so far — one vote per person per elephant, ticked on a ballot of the elephants they
have not judged yet. Two-phase: first people name elephants, then everyone votes for the one that matters most
(one vote each). Results are shown only if enough people took part to keep everyone anonymous. Every post goes
through the outbox with a key derived from the poll's key, so a retried job never posts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal, TypeVar

from sqlalchemy import delete, insert, null, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.elephants.anonymity import (
    new_secret,
    participant_count,
    participant_token,
    with_token,
)
from habits.elephants.messages import (
    MAX_TEXT,
    naming_closed_message,
    overlap_poll_message,
    poll_closed_message,
    poll_message,
    results_message,
    too_few_message,
    voting_message,
)
from habits.elephants.results import MIN_PARTICIPANTS, ranked_submissions
from habits.messages import Message
from models.db import session_scope
from models.elephants import (
    CLOSED,
    NAMING,
    OVERLAP,
    TWO_PHASE,
    VOTING,
    ElephantPoll,
    ElephantSubmission,
    forget_outbox_rows,
    get_poll,
    new_submission_id,
    open_poll_in_channel,
    poll_by_key,
    poll_in_channel,
    schedule_for_channel,
)
from models.outbox import FAILED, OutboxMessage, enqueue
from models.workspaces import get_or_create_workspace

logger = logging.getLogger(__name__)

DEFAULT_OPEN_FOR = timedelta(days=2)
MIN_OPEN_FOR = timedelta(hours=1)
# Shorter than a week, so one week's poll has closed before the next one opens.
MAX_OPEN_FOR = timedelta(days=6)
NOT_HERE = "That poll is not from this channel, or no longer exists."

T = TypeVar("T")

StartOutcome = Literal["started", "already_open"]
SubmitOutcome = Literal[
    "recorded", "already_named", "naming_closed", "poll_closed", "empty", "too_long", "not_found"
]
VoteOutcome = Literal[
    "recorded", "already_voted", "voting_not_open", "poll_closed", "unknown_choice", "ballot_changed", "not_found"
]
AdvanceOutcome = Literal["voting_opened", "closed", "unchanged"]


class PollChanged(Exception):
    """Someone else answered the same poll at the same moment; the whole answer is retried."""


async def with_retries(
    sessions: async_sessionmaker[AsyncSession], action: Callable[[AsyncSession], Awaitable[T]], attempts: int = 8
) -> T:
    """Runs `action` in its own transaction, again from the start if a concurrent answer changed the poll."""
    for attempt in range(attempts):
        try:
            async with session_scope(sessions) as session:
                return await action(session)
        except PollChanged:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def scheduled_key(schedule_id: int, occurrence: datetime) -> str:
    return f"elephant:{schedule_id}:{occurrence.isoformat()}"


def poll_over(poll: ElephantPoll, now: datetime) -> bool:
    """Closed, or past its closing time though the job that closes it has not run yet."""
    return poll.phase == CLOSED or now >= poll.closes_at


def naming_open(poll: ElephantPoll, now: datetime) -> bool:
    if poll.mode == OVERLAP:
        return not poll_over(poll, now)
    return poll.phase == NAMING and now < poll.voting_opens_at


def voting_open(poll: ElephantPoll, now: datetime) -> bool:
    return poll.phase != CLOSED and poll.voting_opens_at <= now < poll.closes_at


def token_of(poll: ElephantPoll, user_id: str) -> str:
    if poll.secret is None:
        raise ValueError("a closed poll has no secret left to tell people apart")
    return participant_token(poll.secret, workspace_id=poll.workspace_id, user_id=user_id)


def has_named(poll: ElephantPoll, user_id: str) -> bool:
    return poll.secret is not None and token_of(poll, user_id) in (poll.named_tokens or [])


def has_voted(poll: ElephantPoll, user_id: str) -> bool:
    return poll.secret is not None and token_of(poll, user_id) in (poll.voted_tokens or [])


async def open_poll(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    key: str,
    now: datetime,
    open_for: timedelta = DEFAULT_OPEN_FOR,
    schedule_id: int | None = None,
    mode: str = OVERLAP,
    started_by: str | None = None,
) -> tuple[ElephantPoll, bool]:
    """Opens the poll `key` names and queues its message; returns (poll, False) if it was opened before."""
    existing = await poll_by_key(session, workspace_id=workspace_id, key=key)
    if existing is not None:
        return existing, False
    await get_or_create_workspace(session, workspace_id=workspace_id)
    overlap = mode == OVERLAP
    # Overlapping polls vote from the start; two-phase ones name for the first half.
    naming_for = timedelta() if overlap else open_for / 2
    poll = ElephantPoll(
        workspace_id=workspace_id,
        channel_id=channel_id,
        schedule_id=schedule_id,
        key=key,
        phase=VOTING if overlap else NAMING,
        mode=OVERLAP if overlap else TWO_PHASE,
        started_by=started_by,
        opened_at=now,
        voting_opens_at=now + naming_for,
        closes_at=now + open_for,
        secret=new_secret(),
        named_tokens=[],
        voted_tokens=[],
        reminded_tokens=[],
        seen_tokens=[] if overlap else None,
        announced_named=0,
        version=0,
    )
    try:
        async with session.begin_nested():
            session.add(poll)
    except IntegrityError:
        # Another replica or a retried job opened it between our look-up and insert.
        raced = await poll_by_key(session, workspace_id=workspace_id, key=key)
        if raced is None:
            raise
        return raced, False
    row = await enqueue(
        session,
        workspace_id=workspace_id,
        idempotency_key=f"{key}:open",
        channel_id=channel_id,
        not_before=now,
        message=(
            overlap_poll_message(poll_id=poll.id, open_for=open_for, named=0)
            if overlap
            else poll_message(poll_id=poll.id, naming_for=naming_for, voting_for=open_for - naming_for)
        ),
    )
    poll.poll_outbox_id = row.id
    await session.flush()
    logger.info(
        "elephant poll opened",
        extra={"workspace": workspace_id, "channel": channel_id, "poll": poll.id, "closes_at": poll.closes_at},
    )
    return poll, True


async def start_poll_now(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    now: datetime,
    started_by: str,
    open_for: timedelta = DEFAULT_OPEN_FOR,
    mode: str | None = None,
) -> tuple[StartOutcome, ElephantPoll]:
    """`/whoelse elephant now`: one open poll per channel at a time, run the way the channel's schedule runs."""
    current = await open_poll_in_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    if current is not None:
        return "already_open", current
    if mode is None:
        schedule = await schedule_for_channel(session, workspace_id=workspace_id, channel_id=channel_id)
        mode = schedule.mode if schedule is not None else OVERLAP
    poll, _created = await open_poll(
        session,
        workspace_id=workspace_id,
        channel_id=channel_id,
        key=f"elephant:now:{channel_id}:{now.isoformat()}",
        now=now,
        open_for=open_for,
        mode=mode,
        started_by=started_by,
    )
    return "started", poll


async def submit(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    poll_id: int,
    user_id: str,
    text: str,
    now: datetime,
) -> SubmitOutcome:
    """Records one person's elephant, without anything that says whose it is."""
    text = text.strip()
    if not text:
        return "empty"
    if len(text) > MAX_TEXT:
        return "too_long"
    poll = await poll_in_channel(
        session, workspace_id=workspace_id, channel_id=channel_id, poll_id=poll_id, for_update=True
    )
    if poll is None:
        return "not_found"
    if poll_over(poll, now):
        return "poll_closed"
    if not naming_open(poll, now):
        return "naming_closed"
    token = token_of(poll, user_id)
    if token in (poll.named_tokens or []):
        return "already_named"
    await compare_and_set(session, poll, named_tokens=with_token(poll.named_tokens, token))
    session.add(
        ElephantSubmission(id=new_submission_id(), workspace_id=workspace_id, poll_id=poll.id, text=text, votes=0)
    )
    await session.flush()
    return "recorded"


async def ballot(session: AsyncSession, *, workspace_id: str, poll_id: int) -> list[tuple[str, str]]:
    """(submission id, text) in key order: random, so the ballot's order hints at nothing."""
    rows = await session.execute(
        select(ElephantSubmission.id, ElephantSubmission.text)
        .where(ElephantSubmission.workspace_id == workspace_id, ElephantSubmission.poll_id == poll_id)
        .order_by(ElephantSubmission.id)
    )
    return [(submission_id, text) for submission_id, text in rows.all()]


async def vote(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    poll_id: int,
    user_id: str,
    submission_id: str,
    now: datetime,
) -> VoteOutcome:
    """Counts one person's vote: a counter goes up, and nothing records whose vote it was."""
    poll = await poll_in_channel(
        session, workspace_id=workspace_id, channel_id=channel_id, poll_id=poll_id, for_update=True
    )
    if poll is None:
        return "not_found"
    if poll_over(poll, now):
        return "poll_closed"
    # An overlapping poll is voted on with its own ballot only: one pick here and ticks there would be two votes.
    if not voting_open(poll, now) or poll.mode == OVERLAP:
        return "voting_not_open"
    token = token_of(poll, user_id)
    if token in (poll.voted_tokens or []):
        return "already_voted"
    choice = await session.scalar(
        select(ElephantSubmission.id).where(
            ElephantSubmission.workspace_id == workspace_id,
            ElephantSubmission.poll_id == poll.id,
            ElephantSubmission.id == submission_id,
        )
    )
    if choice is None:
        return "unknown_choice"
    await compare_and_set(session, poll, voted_tokens=with_token(poll.voted_tokens, token))
    await session.execute(
        update(ElephantSubmission)
        .where(ElephantSubmission.workspace_id == workspace_id, ElephantSubmission.id == choice)
        .values(votes=ElephantSubmission.votes + 1)
        .execution_options(synchronize_session=False)
    )
    return "recorded"


async def name_elephant(
    sessions: async_sessionmaker[AsyncSession],
    *,
    workspace_id: str,
    channel_id: str,
    poll_id: int,
    user_id: str,
    text: str,
    now: datetime,
) -> SubmitOutcome:
    """`submit` in its own transaction, retried if someone else answered the poll at the same moment."""
    return await with_retries(
        sessions,
        partial(
            submit,
            workspace_id=workspace_id,
            channel_id=channel_id,
            poll_id=poll_id,
            user_id=user_id,
            text=text,
            now=now,
        ),
    )


async def cast_vote(
    sessions: async_sessionmaker[AsyncSession],
    *,
    workspace_id: str,
    channel_id: str,
    poll_id: int,
    user_id: str,
    submission_id: str,
    now: datetime,
) -> VoteOutcome:
    """`vote` in its own transaction, retried if someone else answered the poll at the same moment."""
    return await with_retries(
        sessions,
        partial(
            vote,
            workspace_id=workspace_id,
            channel_id=channel_id,
            poll_id=poll_id,
            user_id=user_id,
            submission_id=submission_id,
            now=now,
        ),
    )


async def advance(session: AsyncSession, *, workspace_id: str, poll_id: int, now: datetime) -> AdvanceOutcome:
    """Moves a poll on when its time has come: naming → voting → closed. Safe to repeat."""
    poll = await get_poll(session, workspace_id=workspace_id, poll_id=poll_id, for_update=True)
    if poll is None or poll.phase == CLOSED:
        return "unchanged"
    if now >= poll.closes_at:
        await close_poll(session, poll, now)
        return "closed"
    if poll.phase == NAMING and now >= poll.voting_opens_at:
        await _open_voting(session, poll, now)
        return "voting_opened"
    return "unchanged"


async def _open_voting(session: AsyncSession, poll: ElephantPoll, now: datetime) -> None:
    named = len(await ballot(session, workspace_id=poll.workspace_id, poll_id=poll.id))
    voting = await enqueue(
        session,
        workspace_id=poll.workspace_id,
        idempotency_key=f"{poll.key}:voting",
        channel_id=poll.channel_id,
        not_before=now,
        message=voting_message(poll_id=poll.id, named=named, voting_for=poll.closes_at - poll.voting_opens_at),
    )
    await replace_post(
        session, poll, poll.poll_outbox_id, f"{poll.key}:naming-closed", naming_closed_message(named=named), now
    )
    await compare_and_set(session, poll, phase=VOTING, voting_outbox_id=voting.id)
    logger.info(
        "elephant poll voting opened",
        extra={"workspace": poll.workspace_id, "channel": poll.channel_id, "poll": poll.id},
    )


async def close_poll(session: AsyncSession, poll: ElephantPoll, now: datetime) -> None:
    """Closes the poll now: forgets who took part, posts the results (or that too few took part), edits its posts."""
    participants = participant_count(poll.named_tokens, poll.voted_tokens)
    await _shuffle_storage(session, poll)
    await compare_and_set(
        session,
        poll,
        phase=CLOSED,
        closed_at=now,
        participants=participants,
        voters=len(poll.voted_tokens or ()),
        # Who started it only matters while it can be closed early.
        started_by=None,
        secret=None,
        named_tokens=null(),
        voted_tokens=null(),
        reminded_tokens=null(),
        seen_tokens=null(),
    )
    # Reminder DMs name the people who had not answered yet; once the poll is over they serve no one.
    await forget_outbox_rows(session, workspace_id=poll.workspace_id, key_prefix=f"{poll.key}:remind:")
    if participants >= MIN_PARTICIPANTS:
        ranked = await ranked_submissions(session, workspace_id=poll.workspace_id, poll_id=poll.id)
        results = results_message(ranked=ranked, participants=participants)
    else:
        results = too_few_message(minimum=MIN_PARTICIPANTS)
    await enqueue(
        session,
        workspace_id=poll.workspace_id,
        idempotency_key=f"{poll.key}:results",
        channel_id=poll.channel_id,
        not_before=now,
        message=results,
    )
    await replace_post(session, poll, poll.poll_outbox_id, f"{poll.key}:closed", poll_closed_message(), now)
    await replace_post(
        session, poll, poll.voting_outbox_id, f"{poll.key}:voting-closed", poll_closed_message(), now
    )
    logger.info(
        "elephant poll closed",
        extra={
            "workspace": poll.workspace_id,
            "channel": poll.channel_id,
            "poll": poll.id,
            "results_shown": participants >= MIN_PARTICIPANTS,
        },
    )


async def _shuffle_storage(session: AsyncSession, poll: ElephantPoll) -> None:
    """Rewrites the submissions in key order, in one transaction.

    PostgreSQL stores rows (and stamps their versions) in the order they were written, which would tell which
    elephant came first and which got the last vote. Rewritten together, every row carries the same stamp and sits
    in random key order.
    """
    columns = (
        ElephantSubmission.id,
        ElephantSubmission.workspace_id,
        ElephantSubmission.poll_id,
        ElephantSubmission.text,
        ElephantSubmission.votes,
    )
    mine = (ElephantSubmission.workspace_id == poll.workspace_id, ElephantSubmission.poll_id == poll.id)
    stored = await session.execute(select(*columns).where(*mine).order_by(ElephantSubmission.id))
    rows = [dict(row) for row in stored.mappings()]
    if not rows:
        return
    await session.execute(delete(ElephantSubmission).where(*mine).execution_options(synchronize_session=False))
    await session.execute(insert(ElephantSubmission), rows)


async def replace_post(
    session: AsyncSession, poll: ElephantPoll, target_id: int | None, key: str, message: Message, now: datetime
) -> None:
    """Edits an earlier post of this poll, unless that post never made it (an edit of it would wait forever)."""
    if target_id is None:
        return
    status = await session.scalar(
        select(OutboxMessage.status).where(
            OutboxMessage.workspace_id == poll.workspace_id, OutboxMessage.id == target_id
        )
    )
    if status is None or status == FAILED:
        return
    await enqueue(
        session,
        workspace_id=poll.workspace_id,
        idempotency_key=key,
        channel_id=poll.channel_id,
        not_before=now,
        message=message,
        update_of_id=target_id,
    )


async def compare_and_set(session: AsyncSession, poll: ElephantPoll, **values: Any) -> None:
    """Writes `values` only if nobody changed the poll since it was read; raises PollChanged otherwise."""
    result = await session.execute(
        update(ElephantPoll)
        .where(
            ElephantPoll.workspace_id == poll.workspace_id,
            ElephantPoll.id == poll.id,
            ElephantPoll.version == poll.version,
        )
        .values(version=poll.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PollChanged()
    await session.refresh(poll)

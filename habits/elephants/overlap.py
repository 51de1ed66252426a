"""Overlapping polls: voting on the elephants named so far while naming goes on, and telling the channel of new ones.

Each person judges each elephant once: a ballot shows the ones they have not had on a ballot yet, and sending it
marks every one of them as judged (ticked or not) with a token that says nothing about which were ticked.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from functools import partial

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.elephants.anonymity import judged_token, with_token, with_tokens
from habits.elephants.messages import RADIO_LIMIT, new_elephants_note, overlap_poll_message
from habits.elephants.polls import (
    VoteOutcome,
    ballot,
    compare_and_set,
    poll_over,
    replace_post,
    token_of,
    with_retries,
)
from habits.time_words import known_zone
from models.elephants import (
    OVERLAP,
    ElephantPoll,
    ElephantSubmission,
    get_poll,
    poll_in_channel,
    schedule_for_channel,
)
from models.outbox import enqueue
from models.workspaces import get_or_create_workspace

logger = logging.getLogger(__name__)


def judged_by(poll: ElephantPoll, user_id: str, submission_id: str) -> str:
    if poll.secret is None:
        raise ValueError("a closed poll has no secret left to tell people apart")
    return judged_token(poll.secret, workspace_id=poll.workspace_id, user_id=user_id, submission_id=submission_id)


async def unjudged(
    session: AsyncSession, poll: ElephantPoll, user_id: str, *, limit: int = RADIO_LIMIT
) -> list[tuple[str, str]]:
    """(id, text) of up to `limit` elephants this person has not had on a ballot yet, in key order."""
    judged = set(poll.seen_tokens or ())
    choices = await ballot(session, workspace_id=poll.workspace_id, poll_id=poll.id)
    return [choice for choice in choices if judged_by(poll, user_id, choice[0]) not in judged][:limit]


async def approve(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    poll_id: int,
    user_id: str,
    shown: list[str],
    chosen: list[str],
    now: datetime,
) -> VoteOutcome:
    """An overlapping poll's ballot: one vote for each ticked elephant, and every elephant shown marked as judged.

    `shown` are the elephants the ballot listed (from the form's context, so checked here): all of this poll, none
    judged by this person yet. Elephants named while the ballot was open are not on it, and wait for the next one.
    """
    poll = await poll_in_channel(
        session, workspace_id=workspace_id, channel_id=channel_id, poll_id=poll_id, for_update=True
    )
    if poll is None:
        return "not_found"
    if poll_over(poll, now):
        return "poll_closed"
    if poll.mode != OVERLAP:
        return "voting_not_open"
    listed = set(shown)
    if not listed or len(listed) > RADIO_LIMIT or not set(chosen) <= listed:
        return "unknown_choice"
    existing = {
        submission_id for submission_id, _text in await ballot(session, workspace_id=workspace_id, poll_id=poll.id)
    }
    if not listed <= existing:
        return "unknown_choice"
    judged = set(poll.seen_tokens or ())
    tokens = {submission_id: judged_by(poll, user_id, submission_id) for submission_id in sorted(listed)}
    already = [submission_id for submission_id, token in tokens.items() if token in judged]
    if already:
        # The same ballot sent twice, or one opened before another ballot of theirs was sent.
        return "already_voted" if len(already) == len(listed) else "ballot_changed"
    await compare_and_set(
        session,
        poll,
        voted_tokens=with_token(poll.voted_tokens, token_of(poll, user_id)),
        seen_tokens=with_tokens(poll.seen_tokens, tokens.values()),
    )
    if chosen:
        await session.execute(
            update(ElephantSubmission)
            .where(
                ElephantSubmission.workspace_id == workspace_id,
                ElephantSubmission.poll_id == poll.id,
                ElephantSubmission.id.in_(sorted(set(chosen))),
            )
            .values(votes=ElephantSubmission.votes + 1)
            .execution_options(synchronize_session=False)
        )
    return "recorded"


async def approve_elephants(
    sessions: async_sessionmaker[AsyncSession],
    *,
    workspace_id: str,
    channel_id: str,
    poll_id: int,
    user_id: str,
    shown: list[str],
    chosen: list[str],
    now: datetime,
) -> VoteOutcome:
    """`approve` in its own transaction, retried if someone else answered the poll at the same moment."""
    return await with_retries(
        sessions,
        partial(
            approve,
            workspace_id=workspace_id,
            channel_id=channel_id,
            poll_id=poll_id,
            user_id=user_id,
            shown=shown,
            chosen=chosen,
            now=now,
        ),
    )


async def announce_new_elephants(session: AsyncSession, *, workspace_id: str, poll_id: int, now: datetime) -> bool:
    """Tells an overlapping poll's channel that elephants were named since it last said so, at most once a day.

    "A day" is the channel's local calendar day (its weekly poll's time zone, else the workspace's), so the word
    comes at most once per date there, even on a 23- or 25-hour day. The poll message shows the new count and a short thread reply brings people back.
    Run by the sweep, never when someone names one: the post must not line up with an answer.
    """
    poll = await get_poll(session, workspace_id=workspace_id, poll_id=poll_id, for_update=True)
    if poll is None or poll.mode != OVERLAP or poll_over(poll, now):
        return False
    named = len(poll.named_tokens or ())
    if named <= poll.announced_named:
        return False
    today = local_day(now, await poll_timezone(session, poll))
    if poll.announced_on == today:
        return False
    await compare_and_set(session, poll, announced_named=named, announced_on=today)
    await replace_post(
        session,
        poll,
        poll.poll_outbox_id,
        f"{poll.key}:named:{named}",
        overlap_poll_message(poll_id=poll.id, open_for=poll.closes_at - poll.opened_at, named=named),
        now,
    )
    if poll.poll_outbox_id is not None:
        await enqueue(
            session,
            workspace_id=workspace_id,
            idempotency_key=f"{poll.key}:new-elephants:{today.isoformat()}",
            channel_id=poll.channel_id,
            thread_parent_id=poll.poll_outbox_id,
            not_before=now,
            message=new_elephants_note(named=named),
        )
    logger.info(
        "elephant poll announced new elephants",
        extra={"workspace": workspace_id, "channel": poll.channel_id, "poll": poll.id},
    )
    return True


async def poll_timezone(session: AsyncSession, poll: ElephantPoll) -> str:
    schedule = await schedule_for_channel(session, workspace_id=poll.workspace_id, channel_id=poll.channel_id)
    if schedule is not None:
        return schedule.timezone
    return (await get_or_create_workspace(session, workspace_id=poll.workspace_id)).timezone


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(known_zone(timezone) or UTC).date()

"""One gentle reminder per poll for people who have not taken part, in their own working hours.

Who was reminded is kept the same way as who took part: as tokens under the poll's secret, so the database never
holds a list of the people who had not answered. The reminder DMs themselves have to name their recipient while
they wait to be sent; they are deleted once sent and when the poll closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.elephants.anonymity import with_token
from habits.elephants.messages import reminder_message
from habits.elephants.polls import PollChanged, compare_and_set, token_of, voting_open, with_retries
from habits.time_words import zone_or_utc
from models.db import session_scope
from models.elephants import CLOSED, OVERLAP, ElephantPoll, forget_outbox_rows, get_poll
from models.outbox import FAILED, SENT, enqueue
from models.people import snoozed_users

WORKDAY_START = time(9, 0)
WORKDAY_END = time(17, 0)


@dataclass(frozen=True)
class Colleague:
    user_id: str
    timezone: str
    is_bot: bool = False


def in_working_hours(now: datetime, timezone: str) -> bool:
    """09:00 to 17:00, Monday to Friday, on the person's own clock."""
    local = now.astimezone(zone_or_utc(timezone))
    return local.weekday() < 5 and WORKDAY_START <= local.time().replace(tzinfo=None) < WORKDAY_END


def reminder_window(poll: ElephantPoll) -> tuple[datetime, datetime]:
    """Not right after the poll opened (everyone just saw it), and not so late that answering is a rush."""
    span = poll.closes_at - poll.opened_at
    return poll.opened_at + span / 4, poll.closes_at - span / 8


def _remindable(poll: ElephantPoll | None, now: datetime) -> bool:
    if poll is None or poll.phase == CLOSED or poll.secret is None:
        return False
    start, end = reminder_window(poll)
    return start <= now < end


def _answered_or_reminded(poll: ElephantPoll) -> set[str]:
    return {*(poll.named_tokens or ()), *(poll.voted_tokens or ()), *(poll.reminded_tokens or ())}


async def awaiting_reminder(
    session: AsyncSession, *, workspace_id: str, poll_id: int, members: Iterable[str], now: datetime
) -> list[str]:
    """Channel members who have neither taken part nor been reminded, and have not snoozed whoelse."""
    poll = await get_poll(session, workspace_id=workspace_id, poll_id=poll_id)
    if poll is None or not _remindable(poll, now):
        return []
    snoozed = await snoozed_users(session, workspace_id=workspace_id, now=now)
    done = _answered_or_reminded(poll)
    return [
        member for member in dict.fromkeys(members) if member not in snoozed and token_of(poll, member) not in done
    ]


async def remind(
    session: AsyncSession, *, workspace_id: str, poll_id: int, colleague: Colleague, now: datetime
) -> bool:
    """Queues the one reminder for `colleague` if now is the moment; returns whether it did."""
    if colleague.is_bot or not in_working_hours(now, colleague.timezone):
        return False
    poll = await get_poll(session, workspace_id=workspace_id, poll_id=poll_id, for_update=True)
    if poll is None or not _remindable(poll, now):
        return False
    if colleague.user_id in await snoozed_users(session, workspace_id=workspace_id, now=now):
        return False
    token = token_of(poll, colleague.user_id)
    if token in _answered_or_reminded(poll):
        return False
    voting = voting_open(poll, now)
    await compare_and_set(session, poll, reminded_tokens=with_token(poll.reminded_tokens, token))
    await enqueue(
        session,
        workspace_id=workspace_id,
        idempotency_key=f"{poll.key}:remind:{token}",
        dm_user_id=colleague.user_id,
        not_before=now,
        message=reminder_message(channel_id=poll.channel_id, voting=voting, overlap=poll.mode == OVERLAP),
    )
    return True


async def send_reminders(
    sessions: async_sessionmaker[AsyncSession],
    *,
    workspace_id: str,
    poll_id: int,
    members: Iterable[str],
    look_up: Callable[[str], Awaitable[Colleague | None]],
    now: datetime,
) -> int:
    """Reminds every member due a reminder now; returns how many were queued.

    `look_up` answers None for someone it could not find out about; they are tried again at the next pass.

    Each reminder is its own transaction, so a failure halfway keeps the ones already queued (and their tokens).
    """
    async with session_scope(sessions) as session:
        poll = await get_poll(session, workspace_id=workspace_id, poll_id=poll_id)
        if poll is not None:
            await forget_outbox_rows(
                session, workspace_id=workspace_id, key_prefix=f"{poll.key}:remind:", statuses=(SENT, FAILED)
            )
        waiting = await awaiting_reminder(
            session, workspace_id=workspace_id, poll_id=poll_id, members=members, now=now
        )
    sent = 0
    for user_id in waiting:
        colleague = await look_up(user_id)
        if colleague is None or colleague.is_bot or not in_working_hours(now, colleague.timezone):
            continue
        try:
            reminded = await with_retries(
                sessions, partial(remind, workspace_id=workspace_id, poll_id=poll_id, colleague=colleague, now=now)
            )
        except PollChanged:
            # Busy poll: this person is still awaiting a reminder and gets it at the next pass.
            continue
        sent += reminded
    return sent

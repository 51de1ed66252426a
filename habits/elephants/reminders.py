"""One gentle reminder per poll for people who have not taken part, in their own working hours.

Who was reminded is kept the same way as who took part: as tokens under the poll's secret, so the database never
holds a list of the people who had not answered. The reminder DMs themselves have to name their recipient while
they wait to be sent; they are deleted once sent and when the poll closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.earth_clocks import FURTHEST_AHEAD, FURTHEST_BEHIND
from habits.elephants.anonymity import with_token
from habits.elephants.messages import reminder_message
from habits.elephants.polls import PollChanged, compare_and_set, token_of, voting_open, with_retries
from habits.time_words import zone_or_utc
from models.db import session_scope
from models.elephants import (
    CLOSED,
    OVERLAP,
    ElephantPoll,
    RemindablePoll,
    forget_outbox_rows,
    get_poll,
    has_outbox_rows,
    mark_reminders_done,
    polls_with_reminders_left,
)
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


def working_hours_somewhere(now: datetime) -> bool:
    """Whether `in_working_hours` holds at `now` in some time zone: from Saturday 05:00 to Sunday 19:00 UTC it holds
    nowhere, so nobody can be reminded and nobody's time zone needs reading."""
    earliest = (now - FURTHEST_BEHIND).astimezone(UTC).replace(tzinfo=None)
    latest = (now + FURTHEST_AHEAD).astimezone(UTC).replace(tzinfo=None)
    day: date = earliest.date()
    while day <= latest.date():
        opens, closes = datetime.combine(day, WORKDAY_START), datetime.combine(day, WORKDAY_END)
        if day.weekday() < 5 and opens <= latest and earliest < closes:
            return True
        day += timedelta(days=1)
    return False


def in_reminder_window(opened_at: datetime, closes_at: datetime, now: datetime) -> bool:
    """Not right after the poll opened (everyone just saw it), and not so late that answering is a rush."""
    span = closes_at - opened_at
    return opened_at + span / 4 <= now < closes_at - span / 8


def _remindable(poll: ElephantPoll | None, now: datetime) -> bool:
    if poll is None or poll.phase == CLOSED or poll.secret is None:
        return False
    return in_reminder_window(poll.opened_at, poll.closes_at, now)


async def polls_to_remind(session: AsyncSession, *, now: datetime) -> list[RemindablePoll]:
    """The open polls that may have a reminder due at `now`, found without asking the chat platform anything.

    A superset of where `send_reminders` queues one: polls in their reminder window, not yet done, at a moment that
    is somebody's working hours somewhere. Who exactly is due still takes the channel's members and their zones.
    """
    if not working_hours_somewhere(now):
        return []
    polls = await polls_with_reminders_left(session, now=now)
    return [poll for poll in polls if in_reminder_window(poll.opened_at, poll.closes_at, now)]


def _answered_or_reminded(poll: ElephantPoll) -> set[str]:
    return {*(poll.named_tokens or ()), *(poll.voted_tokens or ()), *(poll.reminded_tokens or ())}


@dataclass(frozen=True)
class Awaiting:
    """Channel members who have neither taken part nor been reminded: those to remind now, and how many of them
    snoozed whoelse (they are due once their snooze ends)."""

    members: list[str]
    snoozed: int


async def awaiting_reminder(
    session: AsyncSession, *, workspace_id: str, poll_id: int, members: Iterable[str], now: datetime
) -> Awaiting | None:
    """Who in `members` awaits a reminder; None when the poll takes no reminders at `now`."""
    poll = await get_poll(session, workspace_id=workspace_id, poll_id=poll_id)
    if poll is None or not _remindable(poll, now):
        return None
    snoozed = await snoozed_users(session, workspace_id=workspace_id, now=now)
    done = _answered_or_reminded(poll)
    waiting = [member for member in dict.fromkeys(members) if token_of(poll, member) not in done]
    awake = [member for member in waiting if member not in snoozed]
    return Awaiting(members=awake, snoozed=len(waiting) - len(awake))


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
    A pass that finds every member has taken part, been reminded or is a bot, with every reminder DM sent and
    forgotten, marks the poll done: its members are not read again, and someone who joins the channel after that is
    not reminded.
    """
    members = list(members)
    unsent = True
    async with session_scope(sessions) as session:
        poll = await get_poll(session, workspace_id=workspace_id, poll_id=poll_id)
        if poll is not None:
            prefix = f"{poll.key}:remind:"
            await forget_outbox_rows(
                session, workspace_id=workspace_id, key_prefix=prefix, statuses=(SENT, FAILED)
            )
            unsent = await has_outbox_rows(session, workspace_id=workspace_id, key_prefix=prefix)
        waiting = await awaiting_reminder(
            session, workspace_id=workspace_id, poll_id=poll_id, members=members, now=now
        )
    if waiting is None:
        return 0
    sent = 0
    # Reminders still waiting to be sent name their recipients: a later pass forgets them once sent. No members at all
    # says more about the platform's answer than about the channel.
    everyone_reached = bool(members) and waiting.snoozed == 0 and not unsent
    for user_id in waiting.members:
        colleague = await look_up(user_id)
        if colleague is not None and colleague.is_bot:
            continue
        if colleague is None or not in_working_hours(now, colleague.timezone):
            everyone_reached = False
            continue
        try:
            reminded = await with_retries(
                sessions, partial(remind, workspace_id=workspace_id, poll_id=poll_id, colleague=colleague, now=now)
            )
        except PollChanged:
            # Busy poll: this person is still awaiting a reminder and gets it at the next pass.
            reminded = False
        # Not queued (the poll changed, or they snoozed just now): the next pass looks again.
        everyone_reached &= reminded
        sent += reminded
    if everyone_reached and not sent:
        async with session_scope(sessions) as session:
            await mark_reminders_done(session, workspace_id=workspace_id, poll_id=poll_id)
    return sent

"""The monthly digest in a round-table's channel: how the month's elephants were followed through, in counts only.

It names nobody: not who named an elephant (nothing stores that), nor who came to which meeting (attendance is
counted by team).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.elephants.results import MIN_PARTICIPANTS
from habits.messages import Facts, Message, Note, Paragraph
from habits.roundtables.teams import TEAMS, teams_in
from models.elephants import CLOSED, ElephantPoll, ElephantSubmission
from models.outbox import OutboxMessage, enqueue
from models.roundtable_outcomes import RoundTableActionItem, RoundTableOutcome
from models.roundtables import RoundTable, RoundTableMeeting, RoundTableRsvp

OTHER_TEAM = "other"
# The hour the digest is posted, on the channel's clock.
POST_AT = time(9, 0)
SATURDAY = 5


def first_weekday(year: int, month: int) -> date:
    """The first Monday-to-Friday day of the month."""
    day = date(year, month, 1)
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return day


def month_before(day: date) -> date:
    """The first day of the month before `day`'s."""
    last = day.replace(day=1) - timedelta(days=1)
    return last.replace(day=1)


def digest_key(roundtable_id: int, month: date) -> str:
    return f"roundtable:{roundtable_id}:digest:{month:%Y-%m}"


@dataclass(frozen=True)
class DigestCounts:
    month: date
    elephants_named: int
    elephants_decided: int
    done_on_time: int
    done_late: int
    still_open: int
    # One entry per "I'll be there" at a meeting of the month: who, to be counted by team and then forgotten.
    attendees: Sequence[str]


async def digest_counts(session: AsyncSession, *, roundtable: RoundTable, month: date) -> DigestCounts:
    """The counts for the calendar month starting on `month`, on the channel's clock."""
    zone = ZoneInfo(roundtable.timezone)
    next_month = (month + timedelta(days=32)).replace(day=1)
    start = datetime.combine(month, time(0), tzinfo=zone)
    end = datetime.combine(next_month, time(0), tzinfo=zone)
    workspace_id = roundtable.workspace_id
    polls = (
        select(ElephantPoll.id)
        .where(
            ElephantPoll.workspace_id == workspace_id,
            ElephantPoll.channel_id == roundtable.channel_id,
            ElephantPoll.phase == CLOSED,
            ElephantPoll.participants >= MIN_PARTICIPANTS,
            ElephantPoll.closed_at >= start,
            ElephantPoll.closed_at < end,
        )
        .scalar_subquery()
    )
    named = select(ElephantSubmission.id).where(
        ElephantSubmission.workspace_id == workspace_id, ElephantSubmission.poll_id.in_(polls)
    )
    elephants_named = await session.scalar(select(func.count()).select_from(named.subquery())) or 0
    elephants_decided = (
        await session.scalar(
            select(func.count(distinct(RoundTableOutcome.submission_id))).where(
                RoundTableOutcome.workspace_id == workspace_id,
                RoundTableOutcome.poll_id.in_(polls),
                RoundTableOutcome.decision != "",
            )
        )
        or 0
    )
    meetings = select(RoundTableMeeting.id).where(
        RoundTableMeeting.workspace_id == workspace_id, RoundTableMeeting.roundtable_id == roundtable.id
    )
    items = await session.scalars(
        select(RoundTableActionItem).where(
            RoundTableActionItem.workspace_id == workspace_id,
            RoundTableActionItem.meeting_id.in_(meetings),
            RoundTableActionItem.due_on >= month,
            RoundTableActionItem.due_on < next_month,
        )
    )
    on_time = late = still_open = 0
    for item in items:
        if item.done_at is None:
            still_open += 1
        elif item.done_at.astimezone(zone).date() <= item.due_on:
            on_time += 1
        else:
            late += 1
    attendees = await session.scalars(
        select(RoundTableRsvp.user_id)
        .join(RoundTableMeeting, RoundTableMeeting.id == RoundTableRsvp.meeting_id)
        .where(
            RoundTableRsvp.workspace_id == workspace_id,
            RoundTableMeeting.workspace_id == workspace_id,
            RoundTableMeeting.roundtable_id == roundtable.id,
            RoundTableMeeting.starts_at >= start,
            RoundTableMeeting.starts_at < end,
            RoundTableRsvp.attending.is_(True),
        )
    )
    return DigestCounts(
        month=month,
        elephants_named=elephants_named,
        elephants_decided=elephants_decided,
        done_on_time=on_time,
        done_late=late,
        still_open=still_open,
        attendees=list(attendees),
    )


def attendance_by_team(attendees: Sequence[str], titles: Mapping[str, str]) -> dict[str, int]:
    """Attendances per team, in the order of TEAMS then "other"; a person whose title names no team is "other"."""
    counted: Counter[str] = Counter()
    for person in attendees:
        found = teams_in([titles.get(person, "")])
        counted[next((team for team in TEAMS if team in found), OTHER_TEAM)] += 1
    return {team: counted[team] for team in (*TEAMS, OTHER_TEAM) if counted[team]}


def digest_message(counts: DigestCounts, attendance: Mapping[str, int]) -> Message:
    month = f"{counts.month:%B %Y}"
    by_team = ", ".join(f"{team} {count}" for team, count in attendance.items()) or "nobody said they'd come"
    return Message(
        text=f"Round-table digest for {month}",
        parts=[
            Paragraph(text=f":bar_chart: *Round-table digest for {month}*"),
            Facts(
                facts=[
                    ("Elephants named", str(counts.elephants_named)),
                    ("Reached a decision", f"{counts.elephants_decided} of {counts.elephants_named}"),
                    (
                        "Action items due",
                        f"{counts.done_on_time} done on time, {counts.done_late} done late, "
                        f"{counts.still_open} still open",
                    ),
                    ("Round-table attendance by team", by_team),
                ]
            ),
            Note(text="Counts only: nobody is named, and nothing says who named an elephant."),
        ],
    )


async def digest_queued(session: AsyncSession, *, roundtable: RoundTable, month: date) -> bool:
    found = await session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.workspace_id == roundtable.workspace_id,
            OutboxMessage.idempotency_key == digest_key(roundtable.id, month),
        )
    )
    return bool(found)


async def post_digest(
    session: AsyncSession,
    *,
    roundtable: RoundTable,
    counts: DigestCounts,
    attendance: Mapping[str, int],
    now: datetime,
) -> None:
    """Queues the month's digest; its key makes a second run (a retry, another replica) queue nothing."""
    await enqueue(
        session,
        workspace_id=roundtable.workspace_id,
        idempotency_key=digest_key(roundtable.id, counts.month),
        channel_id=roundtable.channel_id,
        message=digest_message(counts, attendance),
        not_before=now,
    )


def next_digest_at(roundtable: RoundTable, now: datetime) -> datetime:
    """When the next digest is due: 09:00 on the first weekday of this month on the channel's clock, or of next
    month once that has passed."""
    zone = ZoneInfo(roundtable.timezone)
    local = now.astimezone(zone)
    this_month = datetime.combine(first_weekday(local.year, local.month), POST_AT, tzinfo=zone)
    if now < this_month:
        return this_month
    following = (local.date().replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime.combine(first_weekday(following.year, following.month), POST_AT, tzinfo=zone)


def digest_due(roundtable: RoundTable, now: datetime) -> date | None:
    """The month to digest when `now` is on or after 09:00 of this month's first weekday on the channel's clock
    (and still that day), else None."""
    local = now.astimezone(ZoneInfo(roundtable.timezone))
    if local.date() != first_weekday(local.year, local.month) or local.time() < POST_AT:
        return None
    return month_before(local.date())

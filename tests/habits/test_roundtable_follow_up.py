"""The round-table's follow-through as rules: outcomes read from the notes form, the owner's one reminder on their
own clock (daylight saving included), the monthly digest's day and counts, and decisions per elephant."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import available_timezones

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.roundtables.digest import attendance_by_team, digest_due, first_weekday, month_before
from habits.roundtables.follow_up import (
    DueItem,
    end_of,
    items_to_remind,
    mark_done,
    remind_owner,
    reminder_moment,
)
from habits.roundtables.form import FormErrors
from habits.roundtables.meetings import set_up
from habits.roundtables.messages import AgendaElephant
from habits.roundtables.notes_form import ActionItemEntry, OutcomeEntry, read_outcomes
from habits.roundtables.outcomes import decisions_for_polls, save_outcomes
from models.db import session_scope
from models.elephants import CLOSED, ElephantPoll, ElephantSubmission
from models.outbox import OutboxMessage
from models.roundtable_outcomes import RoundTableActionItem
from models.roundtables import RoundTable, RoundTableMeeting, meeting_at
from scheduler.roundtable_jobs import remind
from tests.habits.test_roundtables import CHANNEL, DAY, WORKSPACE, add_elephants, message_text, outbox, plan, utc

ELEPHANT = AgendaElephant(
    submission_id="5f0c6d0e-0000-4000-8000-000000000001", poll_id=1, text="Handoffs", votes=3
)
TODAY = date(2026, 3, 5)


def fields(**values: str | list[str] | None) -> dict[str, str | list[str] | None]:
    return {f"{kind}:{ELEPHANT.submission_id}": value for kind, value in values.items()}


def test_an_action_item_needs_what_who_and_a_due_date_from_today_on() -> None:
    with pytest.raises(FormErrors) as missing:
        read_outcomes(fields(action="Add a context field", due="2026-03-04"), elephants=[ELEPHANT], today=TODAY)
    assert set(missing.value.errors) == {f"owner:{ELEPHANT.submission_id}", f"due:{ELEPHANT.submission_id}"}
    with pytest.raises(FormErrors) as no_what:
        read_outcomes(fields(owner="UANNA", due="2026-03-06"), elephants=[ELEPHANT], today=TODAY)
    assert list(no_what.value.errors) == [f"action:{ELEPHANT.submission_id}"]
    with pytest.raises(FormErrors) as odd_date:
        read_outcomes(fields(action="x", owner="UANNA", due="next week"), elephants=[ELEPHANT], today=TODAY)
    assert list(odd_date.value.errors) == [f"due:{ELEPHANT.submission_id}"]

    # Slack sends one person; Teams' people search a list of one.
    for owner in ("UANNA", ["UANNA"]):
        [entry] = read_outcomes(
            fields(decision=" Ship it ", action="Add a context field", owner=owner, due="2026-03-05"),
            elephants=[ELEPHANT],
            today=TODAY,
        )
        assert entry.decision == "Ship it"
        assert entry.actions == (ActionItemEntry("Add a context field", "UANNA", date(2026, 3, 5)),)
    [untouched] = read_outcomes(fields(pain="", decision=None), elephants=[ELEPHANT], today=TODAY)
    assert untouched.is_empty


def test_the_owner_is_reminded_at_nine_on_their_own_clock_the_day_before_across_a_daylight_saving_change() -> None:
    # New York springs forward on Sunday 2026-03-08: Saturday's 09:00 is 14:00 UTC, Sunday's 13:00 UTC.
    assert reminder_moment(date(2026, 3, 9), "America/New_York") == datetime(2026, 3, 8, 13, tzinfo=UTC)
    assert reminder_moment(date(2026, 3, 8), "America/New_York") == datetime(2026, 3, 7, 14, tzinfo=UTC)
    # Berlin falls back on Sunday 2026-10-25.
    assert reminder_moment(date(2026, 10, 26), "Europe/Berlin") == datetime(2026, 10, 25, 8, tzinfo=UTC)


def test_the_digest_is_due_from_nine_on_the_first_weekday_of_the_month_on_the_channels_clock() -> None:
    assert first_weekday(2026, 11) == date(2026, 11, 2), "1 November 2026 is a Sunday"
    assert first_weekday(2026, 8) == date(2026, 8, 3), "1 August 2026 is a Saturday"
    assert first_weekday(2027, 1) == date(2027, 1, 1)
    assert month_before(date(2027, 1, 1)) == date(2026, 12, 1)
    tokyo = RoundTable(timezone="Asia/Tokyo")
    # Monday 2 November 2026, 09:00 in Tokyo is Sunday 1 November, 24:00 UTC.
    assert digest_due(tokyo, datetime(2026, 11, 1, 23, 59, tzinfo=UTC)) is None
    assert digest_due(tokyo, datetime(2026, 11, 2, 0, 0, tzinfo=UTC)) == date(2026, 10, 1)
    assert digest_due(tokyo, datetime(2026, 11, 2, 15, 0, tzinfo=UTC)) is None, "the next day in Tokyo"
    assert digest_due(RoundTable(timezone="UTC"), datetime(2026, 11, 2, 0, 0, tzinfo=UTC)) is None


def test_attendance_is_counted_by_team_from_job_titles() -> None:
    titles = {"UANNA": "Account Executive, Sales", "UBEN": "Staff Engineer", "UCARL": "Designer"}
    assert attendance_by_team(["UANNA", "UBEN", "UBEN", "UCARL", "UNOBODY"], titles) == {
        "sales": 1,
        "engineering": 2,
        "other": 2,
    }


async def meeting_with_item(
    sessions: async_sessionmaker[AsyncSession], *, due_on: date, owner: str = "UANNA"
) -> tuple[int, int]:
    async with session_scope(sessions) as session:
        roundtable, _ = await set_up(
            session,
            workspace_id=WORKSPACE,
            channel_id=CHANNEL,
            user_id="UANNA",
            plan=plan(),
            now=datetime(2026, 2, 20, tzinfo=UTC),
        )
        poll = ElephantPoll(
            workspace_id=WORKSPACE,
            channel_id=CHANNEL,
            key="elephant:test:1",
            phase=CLOSED,
            opened_at=datetime(2026, 2, 27, tzinfo=UTC),
            voting_opens_at=datetime(2026, 2, 28, tzinfo=UTC),
            closes_at=datetime(2026, 2, 28, 12, tzinfo=UTC),
            closed_at=datetime(2026, 2, 28, 12, tzinfo=UTC),
            participants=4,
            version=0,
        )
        session.add(poll)
        await session.flush()
        submission = ElephantSubmission(workspace_id=WORKSPACE, poll_id=poll.id, text="Handoffs", votes=3)
        session.add(submission)
        await session.flush()
        meeting = await meeting_at(
            session,
            workspace_id=WORKSPACE,
            roundtable_id=roundtable.id,
            starts_at=datetime(2026, 3, 1, 14, tzinfo=UTC),
        )
        elephant = AgendaElephant(submission.id, poll.id, submission.text, submission.votes)
        await save_outcomes(
            session,
            meeting=meeting,
            entries=[
                OutcomeEntry(
                    elephant=elephant,
                    pain_point="Escalations start from zero",
                    decision="Deal notes travel with the ticket",
                    actions=(ActionItemEntry("Add a context field", owner, due_on),),
                )
            ],
            recorded_by="UCARL",
            now=datetime(2026, 3, 1, 15, tzinfo=UTC),
        )
        item = await session.scalar(select(RoundTableActionItem))
        assert item is not None
        return poll.id, item.id


async def remind_all(sessions: async_sessionmaker[AsyncSession], *, now: datetime, zone: str) -> int:
    async with session_scope(sessions) as session:
        due = await items_to_remind(session, now=now)
    queued = 0
    for item in due:
        async with session_scope(sessions) as session:
            queued += await remind_owner(session, due=item, timezone=zone, now=now)
    return queued


async def test_an_action_item_is_reminded_once_at_the_owners_nine_oclock_across_the_change(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await meeting_with_item(sessions, due_on=date(2026, 3, 9))
    sunday_nine = datetime(2026, 3, 8, 13, tzinfo=UTC)

    # 12:59 UTC is 08:59 on the owner's clock now that daylight saving has begun.
    assert await remind_all(sessions, now=sunday_nine - timedelta(minutes=1), zone="America/New_York") == 0
    assert await remind_all(sessions, now=sunday_nine, zone="America/New_York") == 1
    assert await remind_all(sessions, now=sunday_nine + timedelta(minutes=5), zone="America/New_York") == 0
    async with session_scope(sessions) as session:
        [row] = list(await session.scalars(select(OutboxMessage)))
    assert (row.dm_user_id, row.channel_id) == ("UANNA", None)
    assert "due Mon 9 Mar" in row.neutral_message().text


async def test_the_sweep_reads_an_item_exactly_while_its_reminder_is_due_on_some_clock_on_earth(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Due the Monday New York moves its clocks: whose time zone is read is decided before any is known.
    due_on = date(2026, 3, 9)
    await meeting_with_item(sessions, due_on=due_on)
    zones = sorted(available_timezones())
    read = []
    for hour in range(4 * 24):
        now = datetime(2026, 3, 7, tzinfo=UTC) + timedelta(hours=hour)
        async with session_scope(sessions) as session:
            found = bool(await items_to_remind(session, now=now))
        somewhere = any(reminder_moment(due_on, zone) <= now < end_of(due_on, zone) for zone in zones)
        assert found == somewhere, now
        if found:
            read.append(now)
    # From 09:00 the day before on Kiritimati (UTC+14) until the due day ends at UTC-12.
    assert (read[0], read[-1]) == (datetime(2026, 3, 7, 19, tzinfo=UTC), datetime(2026, 3, 10, 11, tzinfo=UTC))


async def test_a_second_run_from_the_same_stale_read_queues_nothing_more(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await meeting_with_item(sessions, due_on=date(2026, 3, 9))
    now = datetime(2026, 3, 8, 13, tzinfo=UTC)
    async with session_scope(sessions) as session:
        [due] = await items_to_remind(session, now=now)
    # Two runs that both read the item as not reminded yet (a crash and retry, or a leader change).
    for _ in range(2):
        async with session_scope(sessions) as session:
            await remind_owner(session, due=due, timezone="America/New_York", now=now)
    async with session_scope(sessions) as session:
        assert len(list(await session.scalars(select(OutboxMessage)))) == 1


async def test_a_done_or_long_past_item_is_not_reminded_and_only_its_owner_marks_it_done(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, item_id = await meeting_with_item(sessions, due_on=date(2026, 3, 9))
    async with session_scope(sessions) as session:
        assert (
            await mark_done(
                session, workspace_id=WORKSPACE, item_id=item_id, user_id="UBEN", now=datetime.now(UTC)
            )
            == "not_found"
        )
        assert (
            await mark_done(
                session, workspace_id="TOTHER", item_id=item_id, user_id="UANNA", now=datetime.now(UTC)
            )
            == "not_found"
        )
        assert (
            await mark_done(
                session, workspace_id=WORKSPACE, item_id=item_id, user_id="UANNA", now=datetime.now(UTC)
            )
            == "done"
        )
        assert (
            await mark_done(
                session, workspace_id=WORKSPACE, item_id=item_id, user_id="UANNA", now=datetime.now(UTC)
            )
            == "already_done"
        )
    assert await remind_all(sessions, now=datetime(2026, 3, 8, 13, tzinfo=UTC), zone="America/New_York") == 0

    due = DueItem(WORKSPACE, item_id, "UANNA", date(2026, 3, 9), "UTC")
    async with session_scope(sessions) as session:
        # The due day is over on the owner's clock: too late to remind.
        assert not await remind_owner(
            session, due=due, timezone="America/New_York", now=datetime.combine(date(2026, 3, 10), time(5), UTC)
        )


async def test_decisions_are_found_per_poll_for_an_elephants_history(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    poll_id, _ = await meeting_with_item(sessions, due_on=date(2026, 3, 9))
    async with session_scope(sessions) as session:
        assert await decisions_for_polls(session, workspace_id=WORKSPACE, poll_ids=[poll_id]) == {
            poll_id: {"Handoffs": "Deal notes travel with the ticket"}
        }
        assert await decisions_for_polls(session, workspace_id="TOTHER", poll_ids=[poll_id]) == {}
        assert await decisions_for_polls(session, workspace_id=WORKSPACE, poll_ids=[]) == {}


async def test_a_new_owner_gets_a_reminder_of_their_own(sessions: async_sessionmaker[AsyncSession]) -> None:
    poll_id, item_id = await meeting_with_item(sessions, due_on=date(2026, 3, 9))
    now = datetime(2026, 3, 8, 13, tzinfo=UTC)
    assert await remind_all(sessions, now=now, zone="America/New_York") == 1
    async with session_scope(sessions) as session:
        item = await session.get(RoundTableActionItem, item_id)
        meeting = await session.get(RoundTableMeeting, item.meeting_id) if item else None
        assert item is not None and meeting is not None
        elephant = AgendaElephant(item.submission_id, poll_id, "Handoffs", 3)
        handed_over = ActionItemEntry(item.text, "UBEN", item.due_on)
        await save_outcomes(
            session,
            meeting=meeting,
            entries=[OutcomeEntry(elephant=elephant, pain_point="", decision="Kept", actions=(handed_over,))],
            recorded_by="UCARL",
            now=now,
        )

    assert await remind_all(sessions, now=now + timedelta(minutes=5), zone="America/New_York") == 1
    async with session_scope(sessions) as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [row.dm_user_id for row in rows] == ["UANNA", "UBEN"]


async def test_each_poll_reaches_exactly_one_agenda_the_first_meeting_it_closed_before(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Weekly on Sunday 09:00 New York (13:00 UTC after 8 March), reminded a day and 15 minutes before."""
    async with session_scope(sessions) as session:
        roundtable, _ = await set_up(
            session, workspace_id=WORKSPACE, channel_id=CHANNEL, user_id="UANNA", plan=plan(), now=utc(2026, 3, 1)
        )
        roundtable_id = roundtable.id
    async with session_scope(sessions) as session:
        await remind(session, roundtable_id=roundtable_id, offset_minutes=DAY, now=utc(2026, 3, 7, 14))
    async with session_scope(sessions) as session:
        # Closes after the day-before reminder, before the meeting.
        await add_elephants(session, closed_at=utc(2026, 3, 7, 20), participants=3, ranked={"Late handoffs": 2})
        # Closes during the meeting: the next one's.
        await add_elephants(
            session, closed_at=utc(2026, 3, 8, 13, 30), participants=3, ranked={"Release notes": 1}
        )
    async with session_scope(sessions) as session:
        await remind(session, roundtable_id=roundtable_id, offset_minutes=15, now=utc(2026, 3, 8, 12, 45))
    async with session_scope(sessions) as session:
        await remind(session, roundtable_id=roundtable_id, offset_minutes=DAY, now=utc(2026, 3, 14, 13))

    agendas = {
        row.idempotency_key.split(":", 2)[2]: message_text(row)
        for row in await outbox(sessions)
        if ":agenda" in row.idempotency_key
    }
    assert "Late handoffs" not in agendas["2026-03-08T13:00:00+00:00:agenda"], "posted before the poll closed"
    assert "1. Late handoffs (2 votes)" in agendas["2026-03-08T13:00:00+00:00:agenda:15"], "brought up to date"
    assert "Release notes" not in agendas["2026-03-08T13:00:00+00:00:agenda:15"]
    assert "1. Release notes (1 vote)" in agendas["2026-03-15T13:00:00+00:00:agenda"]
    assert "Late handoffs" not in agendas["2026-03-15T13:00:00+00:00:agenda"], "already on the meeting before"


def test_an_elephant_takes_several_action_items_and_an_empty_row_is_skipped() -> None:
    key = ELEPHANT.submission_id
    first = fields(action="Add a context field", owner="UANNA", due="2026-03-06")
    third = {f"action:{key}:3": "Train support on it", f"owner:{key}:3": "UBEN", f"due:{key}:3": "2026-03-09"}
    empty_second = {f"action:{key}:2": "", f"owner:{key}:2": None, f"due:{key}:2": None}

    [entry] = read_outcomes({**first, **empty_second, **third}, elephants=[ELEPHANT], today=TODAY)

    assert entry.actions == (
        ActionItemEntry("Add a context field", "UANNA", date(2026, 3, 6), position=1),
        ActionItemEntry("Train support on it", "UBEN", date(2026, 3, 9), position=3),
    )
    with pytest.raises(FormErrors) as half_filled:
        read_outcomes({**first, f"action:{key}:2": "Tell marketing"}, elephants=[ELEPHANT], today=TODAY)
    assert set(half_filled.value.errors) == {f"owner:{key}:2", f"due:{key}:2"}, "named on the row to fix"

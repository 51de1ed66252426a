"""Round-tables as the channel lives them: reminders at the right moment, RSVPs counted, an agenda worth meeting for."""

from __future__ import annotations

import pickle
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.slack.gateway import SlackGateway
from habits.form_origin import FormOrigin
from habits.messages import Checkboxes
from habits.roundtables.form import (
    REMINDERS,
    FormDefaults,
    FormErrors,
    RoundTablePlan,
    read_setup_form,
    setup_form,
)
from habits.roundtables.meetings import answer_rsvp, cancel, save_notes, set_up
from habits.roundtables.teams import missing_teams, teams_missing
from models.db import session_scope
from models.elephants import CLOSED, ElephantPoll, ElephantSubmission
from models.nudges import HelpExchange, LoopIn, Nudge
from models.outbox import OutboxMessage
from models.roundtables import RoundTableRsvp, roundtable_for_channel
from scheduler.jobs import JobSpec
from scheduler.roundtable_jobs import job_source, remind
from tests.fakes.slack_api import FakeSlack
from tests.support.signing import BOT_TOKEN

WORKSPACE = "T0001"
CHANNEL = "CROUND"
OTHER_CHANNEL = "COTHER"
DAY = 24 * 60
SUNDAY = 6


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def plan(**changes: Any) -> RoundTablePlan:
    values: dict[str, Any] = {
        "cadence": "weekly",
        "weekday": SUNDAY,
        "week_of_month": None,
        "at": time(9, 0),
        "timezone": "America/New_York",
        "invitees": ("UANNA", "UBEN"),
        "group_ids": (),
        "reminder_minutes": (DAY, 15),
    }
    values.update(changes)
    return RoundTablePlan(**values)


async def set_up_roundtable(sessions: async_sessionmaker[AsyncSession], *, now: datetime, **changes: Any) -> int:
    async with session_scope(sessions) as session:
        roundtable, _changed = await set_up(
            session, workspace_id=WORKSPACE, channel_id=CHANNEL, user_id="UANNA", plan=plan(**changes), now=now
        )
        return roundtable.id


async def reminder_specs(sessions: async_sessionmaker[AsyncSession]) -> dict[int, JobSpec]:
    async with session_scope(sessions) as session:
        specs = await job_source(session)
    return {spec.kwargs["offset_minutes"]: spec for spec in specs}


def fire_times(spec: JobSpec, *, start: datetime, count: int) -> list[datetime]:
    """The moments the scheduler would run this job, as APScheduler asks the trigger after every run."""
    trigger = pickle.loads(pickle.dumps(spec.trigger))  # as the job store keeps it
    moments: list[datetime] = []
    previous: datetime | None = None
    for _ in range(count):
        upcoming = trigger.get_next_fire_time(previous, previous or start)
        assert upcoming is not None
        moments.append(upcoming)
        previous = upcoming
    return moments


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with session_scope(sessions) as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def message_text(row: OutboxMessage) -> str:
    message = row.neutral_message()
    parts = [message.text]
    for part in message.parts:
        if hasattr(part, "text"):
            parts.append(part.text)
        if hasattr(part, "facts"):
            parts.extend(f"{label}: {value}" for label, value in part.facts)
    return "\n".join(parts)


# Weekly on Sunday at 09:00, reminded the day before and 15 minutes before: both DST changes fall on a Sunday, so
# the day-before reminder is on the old offset and the meeting on the new one.
DST_CASES = {
    "New York, spring forward on 2026-03-08": (
        "America/New_York",
        utc(2026, 2, 28),
        [utc(2026, 2, 28, 14), utc(2026, 3, 7, 14), utc(2026, 3, 14, 13)],
        [utc(2026, 3, 1, 13, 45), utc(2026, 3, 8, 12, 45), utc(2026, 3, 15, 12, 45)],
    ),
    "New York, fall back on 2026-11-01": (
        "America/New_York",
        utc(2026, 10, 24),
        [utc(2026, 10, 24, 13), utc(2026, 10, 31, 13), utc(2026, 11, 7, 14)],
        [utc(2026, 10, 25, 12, 45), utc(2026, 11, 1, 13, 45), utc(2026, 11, 8, 13, 45)],
    ),
    "Berlin, spring forward on 2026-03-29": (
        "Europe/Berlin",
        utc(2026, 3, 21),
        [utc(2026, 3, 21, 8), utc(2026, 3, 28, 8), utc(2026, 4, 4, 7)],
        [utc(2026, 3, 22, 7, 45), utc(2026, 3, 29, 6, 45), utc(2026, 4, 5, 6, 45)],
    ),
    "Berlin, fall back on 2026-10-25": (
        "Europe/Berlin",
        utc(2026, 10, 17),
        [utc(2026, 10, 17, 7), utc(2026, 10, 24, 7), utc(2026, 10, 31, 8)],
        [utc(2026, 10, 18, 6, 45), utc(2026, 10, 25, 7, 45), utc(2026, 11, 1, 7, 45)],
    ),
}


@pytest.mark.parametrize("case", DST_CASES.keys())
async def test_reminders_keep_the_local_time_across_daylight_saving_changes(
    sessions: async_sessionmaker[AsyncSession], case: str
) -> None:
    timezone, start, day_before, quarter_before = DST_CASES[case]
    await set_up_roundtable(sessions, now=start - timedelta(days=1), timezone=timezone)

    specs = await reminder_specs(sessions)

    assert sorted(specs) == [15, DAY]
    assert fire_times(specs[DAY], start=start, count=3) == day_before
    assert fire_times(specs[15], start=start, count=3) == quarter_before


async def test_each_fired_reminder_is_for_the_meeting_it_precedes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    roundtable_id = await set_up_roundtable(sessions, now=utc(2026, 3, 1), timezone="America/New_York")
    specs = await reminder_specs(sessions)
    before_the_change, after_the_change = fire_times(specs[DAY], start=utc(2026, 3, 2), count=2)

    async with session_scope(sessions) as session:
        first = await remind(session, roundtable_id=roundtable_id, offset_minutes=DAY, now=before_the_change)
        second = await remind(session, roundtable_id=roundtable_id, offset_minutes=DAY, now=after_the_change)

    keys = [row.idempotency_key for row in await outbox(sessions) if row.idempotency_key.endswith(f":{DAY}")]
    assert (first.outcome, second.outcome) == ("posted", "posted")
    assert keys == [
        f"roundtable:{roundtable_id}:2026-03-08T13:00:00+00:00:{DAY}",
        f"roundtable:{roundtable_id}:2026-03-15T13:00:00+00:00:{DAY}",
    ]


async def test_reminder_jobs_are_replaced_when_the_schedule_changes_and_removed_when_cancelled(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utc(2026, 3, 1)
    await set_up_roundtable(sessions, now=now)
    before = {spec.id for spec in (await reminder_specs(sessions)).values()}
    await set_up_roundtable(sessions, now=now, invitees=("UANNA", "UBEN", "UCARL"))
    same_schedule = {spec.id for spec in (await reminder_specs(sessions)).values()}
    await set_up_roundtable(sessions, now=now, at=time(10, 0))
    moved = {spec.id for spec in (await reminder_specs(sessions)).values()}
    async with session_scope(sessions) as session:
        await cancel(session, workspace_id=WORKSPACE, channel_id=CHANNEL, now=now)

    assert same_schedule == before
    assert moved.isdisjoint(before)
    assert await reminder_specs(sessions) == {}


async def test_a_late_reminder_is_skipped_once_its_meeting_has_started(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    roundtable_id = await set_up_roundtable(sessions, now=utc(2026, 3, 1))
    specs = await reminder_specs(sessions)
    (due,) = fire_times(specs[15], start=utc(2026, 3, 2), count=1)
    meeting = due + timedelta(minutes=15)

    async with session_scope(sessions) as session:
        late = await remind(
            session, roundtable_id=roundtable_id, offset_minutes=15, now=meeting + timedelta(minutes=1)
        )

    # The scheduler itself skips it (its grace ends before the meeting), and so does the job if it runs anyway.
    assert specs[15].misfire_grace_seconds < 15 * 60
    assert specs[DAY].misfire_grace_seconds < DAY * 60
    assert late.outcome == "meeting_started"
    assert await outbox(sessions) == []


async def test_a_reminder_run_twice_posts_once_and_the_agenda_comes_with_the_first_reminder_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    roundtable_id = await set_up_roundtable(sessions, now=utc(2026, 3, 1))
    specs = await reminder_specs(sessions)
    (day_before,) = fire_times(specs[DAY], start=utc(2026, 3, 2), count=1)
    (quarter_before,) = fire_times(specs[15], start=utc(2026, 3, 2), count=1)

    async with session_scope(sessions) as session:
        first = await remind(session, roundtable_id=roundtable_id, offset_minutes=DAY, now=day_before)
    async with session_scope(sessions) as session:
        again = await remind(
            session, roundtable_id=roundtable_id, offset_minutes=DAY, now=day_before + timedelta(seconds=30)
        )
    async with session_scope(sessions) as session:
        later = await remind(session, roundtable_id=roundtable_id, offset_minutes=15, now=quarter_before)

    rows = await outbox(sessions)
    meeting = "2026-03-08T13:00:00+00:00"
    assert [row.idempotency_key for row in rows] == [
        f"roundtable:{roundtable_id}:{meeting}:{DAY}",
        f"roundtable:{roundtable_id}:{meeting}:agenda",
        f"roundtable:{roundtable_id}:{meeting}:15",
    ]
    assert again.reminder_outbox_id == first.reminder_outbox_id
    assert later.meeting_id == first.meeting_id
    assert "Round-table in 1 day" in message_text(rows[0])
    assert "Round-table in 15 minutes" in message_text(rows[2])
    assert "@{UANNA}" in message_text(rows[0])


async def posted_meeting(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, list[OutboxMessage]]:
    """A round-table whose day-before and 15-minute reminders for 2026-03-08 have gone out."""
    roundtable_id = await set_up_roundtable(sessions, now=utc(2026, 3, 1))
    async with session_scope(sessions) as session:
        first = await remind(session, roundtable_id=roundtable_id, offset_minutes=DAY, now=utc(2026, 3, 7, 14))
        await remind(session, roundtable_id=roundtable_id, offset_minutes=15, now=utc(2026, 3, 8, 12, 45))
    assert first.meeting_id is not None
    rows = await outbox(sessions)
    return first.meeting_id, [row for row in rows if not row.idempotency_key.endswith("agenda")]


async def rsvp(
    sessions: async_sessionmaker[AsyncSession],
    meeting_id: int,
    user: str,
    *,
    attending: bool,
    now: datetime,
    channel: str = CHANNEL,
) -> str:
    async with session_scope(sessions) as session:
        return await answer_rsvp(
            session,
            workspace_id=WORKSPACE,
            channel_id=channel,
            meeting_id=meeting_id,
            user_id=user,
            attending=attending,
            now=now,
        )


async def test_a_meeting_is_answered_only_from_its_own_channel(sessions: async_sessionmaker[AsyncSession]) -> None:
    meeting_id, _reminders = await posted_meeting(sessions)
    now = utc(2026, 3, 8, 12, 50)
    before = len(await outbox(sessions))

    assert await rsvp(sessions, meeting_id, "UANNA", attending=True, now=now, channel=OTHER_CHANNEL) == "not_found"
    async with session_scope(sessions) as session:
        notes = await save_notes(
            session,
            workspace_id=WORKSPACE,
            channel_id=OTHER_CHANNEL,
            meeting_id=meeting_id,
            user_id="UANNA",
            text="Sneaked in",
            now=now,
        )
    assert notes == "not_found"
    assert len(await outbox(sessions)) == before, "nothing was queued for the meeting's channel"


async def test_rsvps_count_one_answer_per_person_and_update_every_reminder(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    meeting_id, reminders = await posted_meeting(sessions)
    now = utc(2026, 3, 8, 12, 50)

    assert await rsvp(sessions, meeting_id, "UANNA", attending=True, now=now) == "recorded"
    assert await rsvp(sessions, meeting_id, "UBEN", attending=True, now=now) == "recorded"
    assert await rsvp(sessions, meeting_id, "UCARL", attending=False, now=now) == "recorded"
    # Ben changes his mind: his answer moves, it is not counted twice.
    assert await rsvp(sessions, meeting_id, "UBEN", attending=False, now=now) == "recorded"

    async with session_scope(sessions) as session:
        answers = await session.scalar(select(func.count(RoundTableRsvp.id)))
    updates = [row for row in await outbox(sessions) if row.update_of_id is not None]
    latest = {row.update_of_id: row for row in updates}
    assert answers == 3
    assert len(updates) == 4 * len(reminders)
    assert len({row.idempotency_key for row in updates}) == len(updates)
    assert set(latest) == {row.id for row in reminders}
    for row in latest.values():
        text = message_text(row)
        assert "1 coming, 2 can't make it" in text
        assert "Coming (1): @{UANNA}" in text
        assert "Can't make it (2): @{UBEN}, @{UCARL}" in text


async def test_answers_close_when_the_meeting_starts_or_the_roundtable_is_cancelled(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    meeting_id, _reminders = await posted_meeting(sessions)
    started = utc(2026, 3, 8, 13)

    assert await rsvp(sessions, meeting_id, "UANNA", attending=True, now=started) == "started"
    async with session_scope(sessions) as session:
        await cancel(session, workspace_id=WORKSPACE, channel_id=CHANNEL, now=utc(2026, 3, 8, 12))
    assert await rsvp(sessions, meeting_id, "UANNA", attending=True, now=utc(2026, 3, 8, 12)) == "cancelled"
    assert await rsvp(sessions, meeting_id + 100, "UANNA", attending=True, now=utc(2026, 3, 8, 12)) == "not_found"
    assert [row for row in await outbox(sessions) if row.update_of_id is not None] == []


async def add_nudge(
    session: AsyncSession, title: str, *, at: datetime, channel: str = CHANNEL, subject: str | None = None
) -> Nudge:
    row = await session.scalar(select(func.count(OutboxMessage.id)))
    outbox_row = OutboxMessage(
        workspace_id=WORKSPACE,
        idempotency_key=f"nudge-test:{title}:{row}",
        channel_id=channel,
        message={"text": title, "parts": []},
        status="sent",
        attempts=0,
        not_before=at,
    )
    session.add(outbox_row)
    await session.flush()
    nudge = Nudge(
        workspace_id=WORKSPACE,
        channel_id=channel,
        subject_key=subject if subject is not None else f"deal:{title}",
        juncture="deal.stage_changed:negotiation",
        title=title,
        status="scheduled",
        deliver_after=at,
        outbox_id=outbox_row.id,
        created_at=at,
    )
    session.add(nudge)
    await session.flush()
    return nudge


async def add_elephants(
    session: AsyncSession, *, closed_at: datetime, participants: int, ranked: dict[str, int]
) -> None:
    poll = ElephantPoll(
        workspace_id=WORKSPACE,
        channel_id=CHANNEL,
        key=f"elephant:test:{uuid.uuid4()}",
        phase=CLOSED,
        opened_at=closed_at - timedelta(days=2),
        voting_opens_at=closed_at - timedelta(days=1),
        closes_at=closed_at,
        closed_at=closed_at,
        participants=participants,
        version=0,
    )
    session.add(poll)
    await session.flush()
    for text, votes in ranked.items():
        session.add(ElephantSubmission(workspace_id=WORKSPACE, poll_id=poll.id, text=text, votes=votes))
    await session.flush()


async def test_the_agenda_brings_the_elephants_open_help_requests_and_unanswered_deals_since_the_last_meeting(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    roundtable_id = await set_up_roundtable(sessions, now=utc(2026, 2, 20))
    last_meeting = utc(2026, 3, 1, 14)
    during = last_meeting + timedelta(days=2)
    async with session_scope(sessions) as session:
        await add_elephants(
            session,
            closed_at=during,
            participants=4,
            ranked={"Handoffs from sales arrive without context": 3, "Support hears about releases last": 1},
        )
        await add_elephants(session, closed_at=during, participants=2, ranked={"Too few took part to show": 2})
        await add_elephants(session, closed_at=last_meeting - timedelta(days=1), participants=5, ranked={"Old": 9})
        looped = await add_nudge(session, "Acme renewal", at=during)
        session.add(LoopIn(workspace_id=WORKSPACE, nudge_id=looped.id, by_user="UANNA", looped_user="UBEN"))
        asked = await add_nudge(session, "Globex escalation", at=during, subject="ticket:globex")
        session.add(
            HelpExchange(
                workspace_id=WORKSPACE,
                nudge_id=asked.id,
                user_id="UBEN",
                kind="request",
                category="engineering",
                text="Need someone who knows the billing API",
                created_at=during,
            )
        )
        solved = await add_nudge(session, "Initech upsell", at=during)
        session.add(
            HelpExchange(
                workspace_id=WORKSPACE,
                nudge_id=solved.id,
                user_id="UCARL",
                kind="request",
                category="marketing",
                text="A case study please",
                resolved_at=during + timedelta(hours=1),
                created_at=during,
            )
        )
        await add_nudge(session, "Umbrella pilot", at=during)
        await add_nudge(session, "Stark expansion", at=last_meeting - timedelta(hours=1))
        await add_nudge(session, "Wayne deal in another channel", at=during, channel=OTHER_CHANNEL)
    async with session_scope(sessions) as session:
        # The meeting before took up the poll that had closed by then.
        await remind(
            session, roundtable_id=roundtable_id, offset_minutes=DAY, now=last_meeting - timedelta(hours=1)
        )
    async with session_scope(sessions) as session:
        await remind(session, roundtable_id=roundtable_id, offset_minutes=DAY, now=utc(2026, 3, 7, 14))

    (earlier, agenda) = [row for row in await outbox(sessions) if row.idempotency_key.endswith(":agenda")]
    assert "1. Old (9 votes)" in message_text(earlier)
    text = message_text(agenda)
    assert (
        "1. Handoffs from sales arrive without context (3 votes)\n2. Support hears about releases last (1 vote)"
        in text
    )
    assert "Too few took part" not in text and "Old" not in text
    assert (
        "@{UBEN} asked for engineering help on *Globex escalation*: Need someone who knows the billing API" in text
    )
    assert "A case study please" not in text
    unanswered = text.split('Nobody answered "who else?" for*')[1]
    assert "Umbrella pilot" in unanswered
    for answered_or_elsewhere in ("Acme renewal", "Globex escalation", "Initech upsell", "Stark", "Wayne"):
        assert answered_or_elsewhere not in unanswered


async def test_notes_are_posted_as_the_debrief_and_saving_again_edits_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    meeting_id, _reminders = await posted_meeting(sessions)

    async def notes(text: str) -> str:
        async with session_scope(sessions) as session:
            return await save_notes(
                session,
                workspace_id=WORKSPACE,
                channel_id=CHANNEL,
                meeting_id=meeting_id,
                user_id="UCARL",
                text=text,
                now=utc(2026, 3, 8, 14),
            )

    assert await notes("   ") == "empty"
    assert await notes("Sales shares deal context in #deals; <!channel> support joins demos") == "posted"
    assert await notes("Sales shares deal context; support joins demos from April") == "updated"

    debriefs = [row for row in await outbox(sessions) if ":debrief" in row.idempotency_key]
    assert len(debriefs) == 2
    assert debriefs[1].update_of_id == debriefs[0].id
    assert "<!channel>" not in message_text(debriefs[0])
    assert "support joins demos from April" in message_text(debriefs[1])
    assert "Notes by @{UCARL}" in message_text(debriefs[1])


async def test_setting_up_again_changes_the_one_roundtable_of_the_channel(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utc(2026, 3, 4)  # a Wednesday
    await set_up_roundtable(sessions, now=now, cadence="biweekly", weekday=1)
    async with session_scope(sessions) as session:
        first = await roundtable_for_channel(session, workspace_id=WORKSPACE, channel_id=CHANNEL)
        assert first is not None
        anchor = first.anchor
    await set_up_roundtable(sessions, now=now + timedelta(days=6), cadence="biweekly", weekday=1, at=time(11, 0))

    async with session_scope(sessions) as session:
        again = await roundtable_for_channel(session, workspace_id=WORKSPACE, channel_id=CHANNEL)
        assert again is not None
    # The first meeting is the coming Tuesday, not the one after; changing the time keeps the same weeks.
    assert anchor.isoformat() == "2026-03-10"
    assert again.anchor == anchor and again.time_of_day == time(11, 0)
    assert again.id == first.id


def test_the_setup_form_says_what_to_fix_in_each_field() -> None:
    with pytest.raises(FormErrors) as problems:
        read_setup_form(
            {
                "cadence": "weekly",
                "time": "25:00",
                "timezone": "Mars/Olympus",
                "groups": "@nobody",
                "reminders": ["2"],
            },
            known_groups=[],
        )

    assert set(problems.value.errors) == {"weekday", "time", "timezone", "groups", "reminders"}


def test_the_setup_form_reads_a_monthly_plan_with_groups_and_the_reminders_ticked() -> None:
    class Group:
        group_id, handle, name = "SSALES", "sales", "Sales team"

    read = read_setup_form(
        {
            "cadence": "monthly:-1",
            "weekday": "4",
            "time": "09:30",
            "timezone": "Europe/Berlin",
            "invitees": ["UANNA"],
            "groups": "@Sales, SSALES",
            "reminders": ["15", str(DAY)],
        },
        known_groups=[Group()],
    )

    assert read == RoundTablePlan(
        cadence="monthly",
        weekday=4,
        week_of_month=-1,
        at=time(9, 30),
        timezone="Europe/Berlin",
        invitees=("UANNA",),
        group_ids=("SSALES",),
        reminder_minutes=(DAY, 15),
    )


def setup_values(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "cadence": "weekly",
        "weekday": "1",
        "time": "14:45",
        "timezone": "America/New_York",
        "invitees": ["UANNA"],
        "reminders": [str(DAY), "15"],
    }
    return values | changes


@pytest.mark.parametrize(
    ("reminders", "problem"),
    [
        ([], "Please tick at least one reminder."),
        (["15", "1 day"], "Please tick the reminders from the list."),
        (["15", str(7 * DAY)], "Each reminder must come between 5 minutes and 6 days before the meeting."),
        (["15", "30", "60", "120", str(DAY)], "Up to 4 reminders, please."),
    ],
)
def test_reminders_ticked_wrongly_are_named_next_to_their_checkboxes(reminders: list[str], problem: str) -> None:
    with pytest.raises(FormErrors) as problems:
        read_setup_form(setup_values(reminders=reminders), known_groups=[])

    assert problems.value.errors == {REMINDERS: problem}


def test_a_week_ahead_reminder_is_fine_for_a_round_table_every_two_weeks() -> None:
    read = read_setup_form(setup_values(cadence="biweekly", reminders=[str(7 * DAY)]), known_groups=[])

    assert read.reminder_minutes == (7 * DAY,)


def test_a_reminder_the_checkboxes_do_not_offer_stays_ticked_when_the_round_table_is_changed() -> None:
    form = setup_form(
        origin=FormOrigin(channel_id=CHANNEL, user_id="UANNA"),
        defaults=FormDefaults(reminder_minutes=(180, 15)),
        changing=True,
    )

    [reminders] = [field for field in form.inputs if isinstance(field, Checkboxes)]
    assert ("180", "3 hours before") in [(choice.value, choice.label) for choice in reminders.choices]
    assert reminders.initial == ["180", "15"]
    assert read_setup_form(setup_values(reminders=reminders.initial), known_groups=[]).reminder_minutes == (
        180,
        15,
    )


def test_a_team_counts_as_present_when_a_group_or_a_title_names_it() -> None:
    assert teams_missing(["sales Sales team", "Senior Software Engineer"]) == ["marketing", "support"]
    assert teams_missing(["Head of Customer Support", "Growth Marketer", "Account exec, Sales", "Developer"]) == []


async def test_missing_teams_are_read_from_slack_profiles_and_user_groups(fake_slack: FakeSlack) -> None:
    fake_slack.add_user("UANNA", title="Account Executive, Sales")
    fake_slack.add_user("UBEN", title="Staff Engineer")
    fake_slack.add_user("UCARL", title="Product Designer")
    fake_slack.add_usergroup("SHELP", handle="helpdesk", name="Customer Support", users=["UCARL"])
    fake_slack.add_usergroup("SGROWTH", handle="growth", name="Growth", users=["UDANA"])
    fake_slack.add_user("UDANA", title="Marketing Manager")
    gateway = SlackGateway(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.base_url))

    only_people = await missing_teams(gateway, invitees=["UANNA", "UCARL"], group_ids=[])
    with_groups = await missing_teams(gateway, invitees=["UANNA", "UBEN"], group_ids=["SHELP"])
    everyone = await missing_teams(gateway, invitees=["UANNA", "UBEN"], group_ids=["SHELP", "SGROWTH"])

    assert only_people == ["engineering", "marketing", "support"]
    assert with_groups == ["marketing"]
    assert everyone == []

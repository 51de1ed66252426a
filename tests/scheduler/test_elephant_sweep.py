"""The elephant sweep with thousands of open polls: it reads what has something to do and leaves the rest alone,
opens a weekly poll only when its own job missed it, and says "new elephants" at most once a local day."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.elephants.schedule import WeeklyPlan, missed_opening, open_scheduled_poll, opening_windows, set_weekly
from models.db import session_scope
from models.elephants import ElephantPoll, ElephantSchedule
from scheduler.elephant_jobs import MISSED_AFTER, OPEN_GRACE, sweep_polls_at
from tests.habits.test_poll_steering import WORKSPACE, announcements, name, open_overlapping

Sessions = async_sessionmaker[AsyncSession]
# A Monday 09:00 in Berlin (08:00 UTC): every weekly poll here opens then.
OPENING = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


async def weekly_poll(sessions: Sessions, channel: str, *, mode: str = "overlap") -> int:
    """A weekly poll in `channel` opening at OPENING, set a day before; returns the schedule's id."""
    plan = WeeklyPlan(weekday=0, at=time(9, 0), timezone="Europe/Berlin", open_for=timedelta(days=2), mode=mode)
    async with session_scope(sessions) as session:
        schedule = await set_weekly(
            session,
            workspace_id=WORKSPACE,
            channel_id=channel,
            plan=plan,
            now=OPENING - timedelta(days=1),
            set_by="UHOST",
        )
        return schedule.id


async def opened_by_its_job(sessions: Sessions, schedule_id: int) -> None:
    async with session_scope(sessions) as session:
        outcome = await open_scheduled_poll(
            session, workspace_id=WORKSPACE, schedule_id=schedule_id, now=OPENING, grace=OPEN_GRACE
        )
    assert outcome == "opened"


async def polls_in(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ElephantPoll)) or 0)


async def statements_of_a_sweep(sessions: Sessions, now: datetime) -> list[str]:
    statements: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert not await sweep_polls_at(sessions, now=now), "nothing to do, nothing queued"
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return statements


async def open_polls_with_nothing_to_do(sessions: Sessions, channels: range) -> None:
    """Weekly polls opened on time, half of them overlapping with one elephant named and already announced."""
    for number in channels:
        mode = "overlap" if number % 2 else "two_phase"
        schedule_id = await weekly_poll(sessions, f"CPOLL{number:04d}", mode=mode)
        await opened_by_its_job(sessions, schedule_id)


async def test_a_sweep_over_many_open_polls_with_nothing_to_do_reads_the_same_few_statements(
    sessions: Sessions,
) -> None:
    await open_polls_with_nothing_to_do(sessions, range(10))
    an_hour_in = OPENING + timedelta(hours=1)
    few = await statements_of_a_sweep(sessions, an_hour_in)

    await open_polls_with_nothing_to_do(sessions, range(10, 60))
    many = await statements_of_a_sweep(sessions, an_hour_in)

    assert await polls_in(sessions) == 60
    assert len(many) == len(few) <= 5, many
    assert not any(sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for sql in many)


async def test_a_sweep_works_only_on_the_polls_with_something_to_do(sessions: Sessions) -> None:
    await open_polls_with_nothing_to_do(sessions, range(20))
    overlapping = await open_overlapping(sessions, now=OPENING)
    idle = await statements_of_a_sweep(sessions, OPENING + timedelta(minutes=10))
    await name(sessions, overlapping, "UANNA", "Nobody owns onboarding", OPENING + timedelta(minutes=30))

    assert await sweep_polls_at(sessions, now=OPENING + timedelta(hours=1))
    assert await announcements(sessions) == ["2026-11-23"]
    # The one poll with news was read again; the twenty others were not.
    assert not await sweep_polls_at(sessions, now=OPENING + timedelta(hours=2)), "said once today already"
    assert len(await statements_of_a_sweep(sessions, OPENING + timedelta(hours=2))) == len(idle)


async def test_a_weekly_opening_is_left_to_its_job_and_opened_by_the_sweep_once_the_job_missed_it(
    sessions: Sessions,
) -> None:
    await weekly_poll(sessions, "CMISSED")

    assert not await sweep_polls_at(sessions, now=OPENING + timedelta(minutes=1)), "its weekly job opens it"
    assert await polls_in(sessions) == 0

    # whoelse was down at 09:00 and the job store has moved on to next week: the sweep opens it when back.
    assert await sweep_polls_at(sessions, now=OPENING + MISSED_AFTER + timedelta(minutes=40))
    assert await polls_in(sessions) == 1
    assert not await sweep_polls_at(sessions, now=OPENING + MISSED_AFTER + timedelta(minutes=41))
    assert await polls_in(sessions) == 1


async def test_a_weekly_opening_missed_by_more_than_its_grace_waits_for_next_week(sessions: Sessions) -> None:
    await weekly_poll(sessions, "CLONGDOWN")

    assert not await sweep_polls_at(sessions, now=OPENING + OPEN_GRACE + timedelta(minutes=1))
    assert await polls_in(sessions) == 0
    assert await sweep_polls_at(sessions, now=OPENING + timedelta(weeks=1, minutes=30))
    assert await polls_in(sessions) == 1


async def test_the_sweep_announces_new_elephants_once_per_local_day_across_the_spring_clock_change(
    sessions: Sessions,
) -> None:
    # Berlin moves its clocks from 02:00 to 03:00 on Sunday 2026-03-29 (01:00 UTC).
    opened = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)  # Saturday 10:00 in Berlin
    poll_id = await open_overlapping(sessions, now=opened, open_for=timedelta(days=3))
    assert not await sweep_polls_at(sessions, now=opened + timedelta(minutes=1)), "nothing named, nothing to say"

    await name(sessions, poll_id, "UANNA", "First", datetime(2026, 3, 28, 11, 0, tzinfo=UTC))
    assert await sweep_polls_at(sessions, now=datetime(2026, 3, 28, 11, 0, 10, tzinfo=UTC))
    await name(sessions, poll_id, "UBORIS", "Second", datetime(2026, 3, 28, 19, 0, tzinfo=UTC))
    assert not await sweep_polls_at(sessions, now=datetime(2026, 3, 28, 19, 0, 10, tzinfo=UTC)), "same day"
    # Sunday 00:30 in Berlin, still Saturday in UTC: a new local day.
    assert await sweep_polls_at(sessions, now=datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    await name(sessions, poll_id, "UCHLOE", "Third", datetime(2026, 3, 29, 21, 0, tzinfo=UTC))
    # Sunday 23:30 in Berlin (summer time now): still Sunday there.
    assert not await sweep_polls_at(sessions, now=datetime(2026, 3, 29, 21, 30, tzinfo=UTC))
    # Monday 00:10 in Berlin is Sunday 22:10 in UTC: Monday's word may come.
    assert await sweep_polls_at(sessions, now=datetime(2026, 3, 29, 22, 10, tzinfo=UTC))
    assert await announcements(sessions) == ["2026-03-28", "2026-03-29", "2026-03-30"]


def test_the_windows_the_database_narrows_schedules_with_hold_every_missed_opening_across_clock_changes() -> None:
    # Every hour of the week in two zones whose clocks change on different days, swept across both spring changes.
    zones = ("Europe/Berlin", "America/New_York")
    schedules = [
        ElephantSchedule(
            id=number,
            workspace_id=WORKSPACE,
            channel_id=f"C{number}",
            weekday=weekday,
            time_of_day=time(hour, 30),
            timezone=zone,
            open_minutes=60,
            active=True,
            effective_from=datetime(2026, 3, 1, tzinfo=UTC),
        )
        for number, (zone, weekday, hour) in enumerate(
            (zone, weekday, hour) for zone in zones for weekday in range(7) for hour in range(24)
        )
    ]
    checked = 0
    for step in range(0, 24 * 60 * 3, 50):
        for start in (datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 27, tzinfo=UTC)):
            now = start + timedelta(minutes=step)
            windows = opening_windows(zones, earliest=now - OPEN_GRACE, latest=now - MISSED_AFTER)
            for schedule in schedules:
                if missed_opening(schedule, now, grace=OPEN_GRACE, wait=MISSED_AFTER):
                    checked += 1
                    assert any(
                        window.timezone == schedule.timezone
                        and window.weekday == schedule.weekday
                        and window.earliest <= schedule.time_of_day <= window.latest
                        for window in windows
                    ), (schedule.timezone, schedule.weekday, schedule.time_of_day, now)
    assert checked > 1000

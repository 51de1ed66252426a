"""Reminders fire a fixed time before each meeting, at the right instant across daylight-saving changes."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers import base as scheduler_base
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler

from habits.recurrence import Recurrence, next_occurrence
from scheduler.triggers import STATE_VERSION, RecurrenceTrigger, occurrence_for_fire_time

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_NINE_NEW_YORK = Recurrence(
    cadence="weekly", weekday=0, at=time(9, 0), tz="America/New_York", anchor=date(2026, 1, 5)
)
MONDAY_NINE_BERLIN = Recurrence(
    cadence="weekly", weekday=0, at=time(9, 0), tz="Europe/Berlin", anchor=date(2026, 1, 5)
)
QUARTER_HOUR = timedelta(minutes=15)
ONE_DAY = timedelta(days=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fire_times(trigger: RecurrenceTrigger, start: datetime, count: int) -> list[datetime]:
    """What APScheduler asks a trigger: the first run from `start`, then each next one after the last."""
    found: list[datetime] = []
    previous: datetime | None = None
    now = start
    for _ in range(count):
        upcoming = trigger.get_next_fire_time(previous, now)
        assert upcoming is not None
        found.append(upcoming)
        previous = now = upcoming
    return found


def walls(moments: list[datetime], zone: ZoneInfo) -> list[str]:
    return [moment.astimezone(zone).strftime("%a %m-%d %H:%M %Z") for moment in moments]


@pytest.mark.parametrize(
    ("recurrence", "zone", "start", "expected"),
    [
        (
            MONDAY_NINE_NEW_YORK,
            NEW_YORK,
            utc(2026, 3, 1),
            ["Mon 03-02 08:45 EST", "Mon 03-09 08:45 EDT", "Mon 03-16 08:45 EDT"],
        ),
        (
            MONDAY_NINE_NEW_YORK,
            NEW_YORK,
            utc(2026, 10, 25),
            ["Mon 10-26 08:45 EDT", "Mon 11-02 08:45 EST", "Mon 11-09 08:45 EST"],
        ),
        (
            MONDAY_NINE_BERLIN,
            BERLIN,
            utc(2026, 3, 22),
            ["Mon 03-23 08:45 CET", "Mon 03-30 08:45 CEST", "Mon 04-06 08:45 CEST"],
        ),
        (
            MONDAY_NINE_BERLIN,
            BERLIN,
            utc(2026, 10, 18),
            ["Mon 10-19 08:45 CEST", "Mon 10-26 08:45 CET", "Mon 11-02 08:45 CET"],
        ),
    ],
    ids=["new-york-march", "new-york-november", "berlin-march", "berlin-october"],
)
def test_a_quarter_hour_reminder_is_at_845_local_on_both_sides_of_a_change(
    recurrence: Recurrence, zone: ZoneInfo, start: datetime, expected: list[str]
) -> None:
    found = fire_times(RecurrenceTrigger(recurrence, QUARTER_HOUR), start, 3)
    assert walls(found, zone) == expected
    assert all(
        meeting - reminder == QUARTER_HOUR
        for reminder, meeting in zip(found, fire_times(RecurrenceTrigger(recurrence), start, 3), strict=True)
    )


def test_the_quarter_hour_reminder_in_utc_moves_with_the_meeting() -> None:
    trigger = RecurrenceTrigger(MONDAY_NINE_NEW_YORK, QUARTER_HOUR)
    assert fire_times(trigger, utc(2026, 3, 1), 2) == [utc(2026, 3, 2, 13, 45), utc(2026, 3, 9, 12, 45)]
    assert fire_times(trigger, utc(2026, 10, 25), 2) == [utc(2026, 10, 26, 12, 45), utc(2026, 11, 2, 13, 45)]


@pytest.mark.parametrize(
    ("recurrence", "zone", "start", "expected_reminder", "expected_meeting"),
    [
        (MONDAY_NINE_NEW_YORK, NEW_YORK, utc(2026, 3, 3), "Sun 03-08 09:00 EDT", "Mon 03-09 09:00 EDT"),
        (MONDAY_NINE_NEW_YORK, NEW_YORK, utc(2026, 10, 27), "Sun 11-01 09:00 EST", "Mon 11-02 09:00 EST"),
        (MONDAY_NINE_BERLIN, BERLIN, utc(2026, 3, 24), "Sun 03-29 09:00 CEST", "Mon 03-30 09:00 CEST"),
        (MONDAY_NINE_BERLIN, BERLIN, utc(2026, 10, 20), "Sun 10-25 09:00 CET", "Mon 10-26 09:00 CET"),
    ],
    ids=["new-york-march", "new-york-november", "berlin-march", "berlin-october"],
)
def test_the_day_before_reminder_on_the_change_day_is_sunday_nine_local(
    recurrence: Recurrence, zone: ZoneInfo, start: datetime, expected_reminder: str, expected_meeting: str
) -> None:
    trigger = RecurrenceTrigger(recurrence, ONE_DAY)
    [reminder] = fire_times(trigger, start, 1)
    assert walls([reminder], zone) == [expected_reminder]
    assert walls([occurrence_for_fire_time(trigger, reminder)], zone) == [expected_meeting]


def test_the_day_before_a_change_day_meeting_is_the_same_local_time_not_24_hours_earlier() -> None:
    sunday_nine = Recurrence(
        cadence="weekly", weekday=6, at=time(9, 0), tz="America/New_York", anchor=date(2026, 1, 4)
    )
    trigger = RecurrenceTrigger(sunday_nine, ONE_DAY)
    # Saturday 09:00 local: 23 hours before the meeting in March, 25 hours before it in November.
    march = fire_times(trigger, utc(2026, 3, 1), 2)
    november = fire_times(trigger, utc(2026, 10, 26), 2)
    assert walls(march, NEW_YORK) == ["Sat 03-07 09:00 EST", "Sat 03-14 09:00 EDT"]
    assert walls(november, NEW_YORK) == ["Sat 10-31 09:00 EDT", "Sat 11-07 09:00 EST"]
    assert utc(2026, 3, 8, 13, 0) - march[0] == timedelta(hours=23)
    assert utc(2026, 11, 1, 14, 0) - november[0] == timedelta(hours=25)


def test_a_reminder_for_a_meeting_moved_by_the_gap_keeps_the_meetings_own_wall_time() -> None:
    sunday_half_past_two = Recurrence(
        cadence="weekly", weekday=6, at=time(2, 30), tz="America/New_York", anchor=date(2026, 1, 4)
    )
    day_before = RecurrenceTrigger(sunday_half_past_two, ONE_DAY)
    [reminder] = fire_times(day_before, utc(2026, 3, 2), 1)
    # The meeting happens at 03:30 that Sunday; the reminder is still at the meeting's 02:30, on Saturday.
    assert walls([reminder], NEW_YORK) == ["Sat 03-07 02:30 EST"]
    assert walls([occurrence_for_fire_time(day_before, reminder)], NEW_YORK) == ["Sun 03-08 03:30 EDT"]

    monday_half_past_two = Recurrence(
        cadence="weekly", weekday=0, at=time(2, 30), tz="America/New_York", anchor=date(2026, 1, 5)
    )
    # The day before Monday 02:30 is in the gap: moved forward like a meeting would be.
    [reminder] = fire_times(RecurrenceTrigger(monday_half_past_two, ONE_DAY), utc(2026, 3, 3), 1)
    assert walls([reminder], NEW_YORK) == ["Sun 03-08 03:30 EDT"]


def test_days_and_minutes_combine_and_a_negative_offset_is_a_follow_up() -> None:
    day_and_a_quarter = RecurrenceTrigger(MONDAY_NINE_NEW_YORK, ONE_DAY + QUARTER_HOUR)
    assert walls(fire_times(day_and_a_quarter, utc(2026, 3, 3), 1), NEW_YORK) == ["Sun 03-08 08:45 EDT"]
    follow_up = RecurrenceTrigger(MONDAY_NINE_NEW_YORK, -timedelta(days=1, hours=1))
    assert walls(fire_times(follow_up, utc(2026, 10, 27), 2), NEW_YORK) == [
        "Tue 10-27 10:00 EDT",
        "Tue 11-03 10:00 EST",
    ]


def test_the_first_run_may_be_exactly_now_and_later_runs_are_strictly_after_the_previous() -> None:
    trigger = RecurrenceTrigger(MONDAY_NINE_NEW_YORK, QUARTER_HOUR)
    due = utc(2026, 3, 9, 12, 45)
    assert trigger.get_next_fire_time(None, due) == due
    assert trigger.get_next_fire_time(None, due + timedelta(microseconds=1)) == utc(2026, 3, 16, 12, 45)
    assert trigger.get_next_fire_time(due, due) == utc(2026, 3, 16, 12, 45)


def test_a_run_missed_while_down_is_still_reported_so_apscheduler_can_coalesce_or_skip_it() -> None:
    # Like CronTrigger: after the previous run, the next one is returned even if it is already past, so that
    # APScheduler lists every missed run and applies misfire_grace_time and coalesce to them.
    trigger = RecurrenceTrigger(MONDAY_NINE_NEW_YORK)
    last_run = utc(2026, 3, 2, 14, 0)
    back_up_three_weeks_later = utc(2026, 3, 23, 15, 0)
    assert trigger.get_next_fire_time(last_run, back_up_three_weeks_later) == utc(2026, 3, 9, 13, 0)


def test_fire_times_given_in_a_local_zone_are_handled_as_instants_in_the_fall_back_hour() -> None:
    sunday_half_past_one = Recurrence(
        cadence="weekly", weekday=6, at=time(1, 30), tz="America/New_York", anchor=date(2026, 1, 4)
    )
    trigger = RecurrenceTrigger(sunday_half_past_one)
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)  # fold=0: 01:30 EDT
    second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK)  # 01:30 EST, an hour later
    assert trigger.get_next_fire_time(None, first) == utc(2026, 11, 1, 5, 30)
    assert trigger.get_next_fire_time(first, second) == utc(2026, 11, 8, 6, 30)


def test_occurrence_for_fire_time_maps_reminders_back_to_their_meeting_even_when_run_late() -> None:
    trigger = RecurrenceTrigger(MONDAY_NINE_NEW_YORK, ONE_DAY)
    reminder = utc(2026, 3, 8, 13, 0)
    assert occurrence_for_fire_time(trigger, reminder) == utc(2026, 3, 9, 13, 0)
    assert trigger.occurrence_for(reminder) == utc(2026, 3, 9, 13, 0)
    assert occurrence_for_fire_time(trigger, reminder + timedelta(minutes=3)) == utc(2026, 3, 9, 13, 0)
    assert occurrence_for_fire_time(trigger, reminder - timedelta(minutes=3)) == utc(2026, 3, 2, 14, 0)
    no_offset = RecurrenceTrigger(MONDAY_NINE_NEW_YORK)
    assert occurrence_for_fire_time(no_offset, utc(2026, 3, 9, 13, 0)) == utc(2026, 3, 9, 13, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        occurrence_for_fire_time(trigger, datetime(2026, 3, 8, 9, 0))


def test_fire_time_for_and_occurrence_for_fire_time_are_inverse_over_a_year() -> None:
    for offset in (timedelta(0), QUARTER_HOUR, ONE_DAY, timedelta(days=2, hours=3), -QUARTER_HOUR):
        for recurrence in (MONDAY_NINE_NEW_YORK, MONDAY_NINE_BERLIN):
            trigger = RecurrenceTrigger(recurrence, offset)
            meeting = next_occurrence(recurrence, utc(2026, 1, 1))
            while meeting < utc(2027, 1, 1):
                fire = trigger.fire_time_for(meeting)
                assert occurrence_for_fire_time(trigger, fire) == meeting
                assert trigger.get_next_fire_time(None, fire) == fire
                meeting = next_occurrence(recurrence, meeting)


def test_the_trigger_survives_pickling_as_the_job_store_does() -> None:
    trigger = RecurrenceTrigger(MONDAY_NINE_NEW_YORK, ONE_DAY)
    restored = pickle.loads(pickle.dumps(trigger))
    assert restored == trigger
    assert restored.__getstate__()["version"] == STATE_VERSION
    assert fire_times(restored, utc(2026, 3, 1), 4) == fire_times(trigger, utc(2026, 3, 1), 4)
    assert str(restored) == "recurrence[every Monday at 09:00 (America/New_York), 1 day, 0:00:00 before]"
    assert repr(restored).startswith("<RecurrenceTrigger (recurrence=Recurrence(cadence='weekly'")


def test_state_from_a_newer_version_is_refused_rather_than_misread() -> None:
    trigger = RecurrenceTrigger(MONDAY_NINE_NEW_YORK)
    state = trigger.__getstate__() | {"version": STATE_VERSION + 1}
    with pytest.raises(ValueError, match="only versions up to"):
        RecurrenceTrigger.__new__(RecurrenceTrigger).__setstate__(state)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="Recurrence"):
        RecurrenceTrigger("every monday")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="timedelta"):
        RecurrenceTrigger(MONDAY_NINE_NEW_YORK, 15)  # type: ignore[arg-type]


class _FrozenDatetime(datetime):
    """APScheduler asks `datetime.now(tz)` when a job is added; this answers with a fixed moment."""

    frozen = utc(2026, 3, 8, 12, 0)  # Sunday 08:00 EDT, hours after the March change in New York

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _FrozenDatetime:
        moment = cls.frozen.astimezone(tz)
        return cls.fromtimestamp(moment.timestamp(), moment.tzinfo)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[datetime]:
    monkeypatch.setattr(scheduler_base, "datetime", _FrozenDatetime)
    yield _FrozenDatetime.frozen


def test_background_scheduler_plans_the_next_runs_from_the_trigger(frozen_clock: datetime) -> None:
    scheduler = BackgroundScheduler(jobstores={"default": MemoryJobStore()}, timezone="UTC")
    scheduler.start(paused=True)
    try:
        quarter_hour = scheduler.add_job(print, trigger=RecurrenceTrigger(MONDAY_NINE_NEW_YORK, QUARTER_HOUR))
        day_before = scheduler.add_job(print, trigger=RecurrenceTrigger(MONDAY_NINE_NEW_YORK, ONE_DAY))
        assert quarter_hour.next_run_time == utc(2026, 3, 9, 12, 45)  # Monday 08:45 EDT
        assert day_before.next_run_time == utc(2026, 3, 8, 13, 0)  # Sunday 09:00 EDT, the change day
        assert [job.id for job in scheduler.get_jobs()] == [day_before.id, quarter_hour.id]
    finally:
        scheduler.shutdown(wait=False)


async def test_asyncio_scheduler_plans_the_next_run_from_the_trigger(frozen_clock: datetime) -> None:
    scheduler = AsyncIOScheduler(jobstores={"default": MemoryJobStore()}, timezone="UTC")
    scheduler.start(paused=True)
    try:
        job = scheduler.add_job(print, trigger=RecurrenceTrigger(MONDAY_NINE_BERLIN, QUARTER_HOUR))
        assert job.next_run_time == utc(2026, 3, 9, 7, 45)  # Monday 08:45 CET: Berlin changes on the 29th
        assert scheduler.get_job(job.id).trigger == RecurrenceTrigger(MONDAY_NINE_BERLIN, QUARTER_HOUR)
    finally:
        scheduler.shutdown(wait=False)


def test_a_job_stored_in_sqlalchemy_comes_back_with_the_same_trigger_and_next_run(frozen_clock: datetime) -> None:
    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url="sqlite://")}, timezone="UTC")
    scheduler.start(paused=True)
    try:
        trigger = RecurrenceTrigger(MONDAY_NINE_NEW_YORK, ONE_DAY)
        scheduler.add_job("builtins:print", trigger=trigger, id="reminder")
        stored = scheduler.get_job("reminder")  # unpickled from the database
        assert stored.trigger == trigger
        assert stored.next_run_time == utc(2026, 3, 8, 13, 0)
    finally:
        scheduler.shutdown(wait=False)

"""Reminders fire a fixed time before each meeting, at the right instant across DST changes."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from habits.recurrence import Recurrence
from scheduler.triggers import RecurrenceTrigger

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_NINE_NY = Recurrence(
    cadence="weekly", weekday=0, at=time(9, 0), tz="America/New_York", anchor=date(2026, 1, 5)
)


def fire_times(trigger: RecurrenceTrigger, start: datetime, count: int) -> list[datetime]:
    found: list[datetime] = []
    previous = None
    now = start
    for _ in range(count):
        upcoming = trigger.get_next_fire_time(previous, now)
        assert upcoming is not None
        found.append(upcoming)
        previous = now = upcoming
    return found


def test_a_quarter_hour_reminder_is_at_845_local_before_and_after_the_march_change() -> None:
    trigger = RecurrenceTrigger(MONDAY_NINE_NY, timedelta(minutes=15))
    found = fire_times(trigger, datetime(2026, 3, 1, tzinfo=UTC), 2)
    assert [moment.astimezone(NEW_YORK).strftime("%a %d %H:%M") for moment in found] == [
        "Mon 02 08:45",
        "Mon 09 08:45",
    ]
    assert found == [datetime(2026, 3, 2, 13, 45, tzinfo=UTC), datetime(2026, 3, 9, 12, 45, tzinfo=UTC)]


def test_the_day_before_reminder_on_the_change_day_is_sunday_nine_local() -> None:
    trigger = RecurrenceTrigger(MONDAY_NINE_NY, timedelta(days=1))
    for start, change_day in ((datetime(2026, 3, 3, tzinfo=UTC), 8), (datetime(2026, 10, 27, tzinfo=UTC), 1)):
        reminder = fire_times(trigger, start, 1)[0].astimezone(NEW_YORK)
        assert reminder.strftime("%a %H:%M") == "Sun 09:00"
        assert reminder.day == change_day
        meeting = trigger.occurrence_for(reminder).astimezone(NEW_YORK)
        assert meeting.strftime("%a %d %H:%M") == f"Mon {change_day + 1:02d} 09:00"


def test_berlin_reminders_follow_the_local_meeting_across_both_changes() -> None:
    tuesday_three = Recurrence(
        cadence="weekly", weekday=1, at=time(15, 0), tz="Europe/Berlin", anchor=date(2026, 1, 6)
    )
    trigger = RecurrenceTrigger(tuesday_three, timedelta(minutes=15))
    march = fire_times(trigger, datetime(2026, 3, 20, tzinfo=UTC), 2)
    october = fire_times(trigger, datetime(2026, 10, 18, tzinfo=UTC), 2)
    assert {moment.astimezone(BERLIN).strftime("%H:%M") for moment in march + october} == {"14:45"}
    assert [moment.hour for moment in march] == [13, 12]
    assert [moment.hour for moment in october] == [12, 13]


def test_a_run_missed_while_down_is_still_reported_so_apscheduler_can_coalesce_or_skip_it() -> None:
    trigger = RecurrenceTrigger(MONDAY_NINE_NY)
    last_run = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    back_up_three_weeks_later = datetime(2026, 3, 23, 15, 0, tzinfo=UTC)
    assert trigger.get_next_fire_time(last_run, back_up_three_weeks_later) == datetime(
        2026, 3, 9, 13, 0, tzinfo=UTC
    )


def test_the_trigger_survives_pickling_as_the_job_store_does() -> None:
    trigger = RecurrenceTrigger(MONDAY_NINE_NY, timedelta(days=1))
    restored = pickle.loads(pickle.dumps(trigger))
    start = datetime(2026, 3, 1, tzinfo=UTC)
    assert fire_times(restored, start, 3) == fire_times(trigger, start, 3)
    assert "every Monday at 09:00 (America/New_York)" in str(restored)


def test_apscheduler_schedules_the_next_run_from_the_trigger() -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        job = scheduler.add_job(print, trigger=RecurrenceTrigger(MONDAY_NINE_NY, timedelta(minutes=15)))
        assert job.next_run_time is not None
        assert job.next_run_time.astimezone(NEW_YORK).strftime("%a %H:%M") == "Mon 08:45"
        assert job.next_run_time > datetime.now(UTC)
    finally:
        scheduler.shutdown(wait=False)

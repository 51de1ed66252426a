"""Recurring meetings keep their local wall-clock time across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from habits.recurrence import Recurrence, describe, next_occurrence, occurrences_between, previous_occurrence

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def weekly(day: int, at: time, tz: str, cadence: str = "weekly", **extra: object) -> Recurrence:
    return Recurrence(cadence=cadence, weekday=day, at=at, tz=tz, anchor=date(2026, 1, 5), **extra)  # type: ignore[arg-type]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_a_new_york_monday_meeting_stays_at_nine_local_across_the_march_change() -> None:
    rec = weekly(0, time(9, 0), "America/New_York")
    before, after = occurrences_between(rec, utc(2026, 3, 1), utc(2026, 3, 10))
    assert before == utc(2026, 3, 2, 14, 0)  # EST, UTC-5
    assert after == utc(2026, 3, 9, 13, 0)  # EDT, UTC-4
    assert {moment.astimezone(NEW_YORK).time() for moment in (before, after)} == {time(9, 0)}


def test_a_new_york_monday_meeting_stays_at_nine_local_across_the_november_change() -> None:
    rec = weekly(0, time(9, 0), "America/New_York")
    assert occurrences_between(rec, utc(2026, 10, 25), utc(2026, 11, 3)) == [
        utc(2026, 10, 26, 13, 0),
        utc(2026, 11, 2, 14, 0),
    ]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ((utc(2026, 3, 20), utc(2026, 4, 1)), [utc(2026, 3, 24, 14, 0), utc(2026, 3, 31, 13, 0)]),
        ((utc(2026, 10, 18), utc(2026, 10, 30)), [utc(2026, 10, 20, 13, 0), utc(2026, 10, 27, 14, 0)]),
    ],
    ids=["march-29", "october-25"],
)
def test_a_berlin_tuesday_meeting_stays_at_three_pm_local(
    window: tuple[datetime, datetime], expected: list[datetime]
) -> None:
    rec = weekly(1, time(15, 0), "Europe/Berlin")
    found = occurrences_between(rec, *window)
    assert found == expected
    assert {moment.astimezone(BERLIN).time() for moment in found} == {time(15, 0)}


def test_a_time_inside_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    rec = weekly(6, time(2, 30), "America/New_York")
    on_change_day = next_occurrence(rec, utc(2026, 3, 7))
    assert on_change_day.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2026, 3, 8, 3, 30)


def test_a_time_that_happens_twice_at_fall_back_happens_once_the_first_time() -> None:
    rec = weekly(6, time(1, 30), "America/New_York")
    found = occurrences_between(rec, utc(2026, 10, 31), utc(2026, 11, 2))
    assert found == [utc(2026, 11, 1, 5, 30)]  # 01:30 EDT, the first of the two


def test_every_two_weeks_skips_the_odd_weeks_counted_from_the_anchor_even_across_a_change() -> None:
    rec = Recurrence(cadence="biweekly", weekday=0, at=time(9, 0), tz="America/New_York", anchor=date(2026, 2, 23))
    assert occurrences_between(rec, utc(2026, 2, 20), utc(2026, 3, 31)) == [
        utc(2026, 2, 23, 14, 0),
        utc(2026, 3, 9, 13, 0),
        utc(2026, 3, 23, 13, 0),
    ]


def test_monthly_on_the_first_monday() -> None:
    rec = weekly(0, time(9, 30), "UTC", cadence="monthly", week_of_month=1)
    assert occurrences_between(rec, utc(2026, 11, 1), utc(2027, 2, 28)) == [
        utc(2026, 11, 2, 9, 30),
        utc(2026, 12, 7, 9, 30),
        utc(2027, 1, 4, 9, 30),
        utc(2027, 2, 1, 9, 30),
    ]


def test_monthly_on_the_last_friday_including_a_month_with_five_fridays_and_year_end() -> None:
    rec = weekly(4, time(16, 0), "UTC", cadence="monthly", week_of_month=-1)
    assert occurrences_between(rec, utc(2026, 10, 1), utc(2027, 1, 31)) == [
        utc(2026, 10, 30, 16, 0),  # October 2026 has five Fridays
        utc(2026, 11, 27, 16, 0),
        utc(2026, 12, 25, 16, 0),
        utc(2027, 1, 29, 16, 0),
    ]


def test_previous_occurrence_includes_the_moment_itself() -> None:
    rec = weekly(0, time(9, 0), "America/New_York")
    assert previous_occurrence(rec, utc(2026, 3, 9, 13, 0)) == utc(2026, 3, 9, 13, 0)
    assert previous_occurrence(rec, utc(2026, 3, 9, 12, 59)) == utc(2026, 3, 2, 14, 0)


def test_naive_datetimes_are_refused() -> None:
    rec = weekly(0, time(9, 0), "UTC")
    with pytest.raises(ValueError, match="aware"):
        next_occurrence(rec, datetime(2026, 3, 1))


def test_an_unknown_time_zone_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="not an IANA time zone"):
        weekly(0, time(9, 0), "Mars/Olympus_Mons")


def test_descriptions_read_naturally() -> None:
    assert describe(weekly(1, time(15, 0), "Europe/Berlin")) == "every Tuesday at 15:00 (Europe/Berlin)"
    assert (
        describe(weekly(1, time(15, 0), "America/New_York", cadence="biweekly"))
        == "every 2 weeks on Tuesday at 15:00 (America/New_York)"
    )
    assert (
        describe(weekly(0, time(9, 30), "UTC", cadence="monthly")) == "monthly on the first Monday at 09:30 (UTC)"
    )
    assert describe(weekly(4, time(9, 30), "UTC", cadence="monthly", week_of_month=-1)).startswith(
        "monthly on the last Friday"
    )

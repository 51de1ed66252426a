"""Recurring round-tables and polls keep their local wall-clock time across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from habits.recurrence import (
    Cadence,
    Recurrence,
    describe,
    next_occurrence,
    occurrences_between,
    previous_occurrence,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY, TUESDAY, FRIDAY, SUNDAY = 0, 1, 4, 6


def series(
    weekday: int,
    at: time,
    tz: str,
    cadence: Cadence = "weekly",
    *,
    anchor: date = date(2026, 1, 5),
    week_of_month: int = 1,
) -> Recurrence:
    return Recurrence(cadence=cadence, weekday=weekday, at=at, tz=tz, anchor=anchor, week_of_month=week_of_month)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def test_a_new_york_monday_round_table_stays_at_nine_local_across_the_march_change() -> None:
    rec = series(MONDAY, time(9, 0), "America/New_York")
    found = occurrences_between(rec, utc(2026, 3, 1), utc(2026, 3, 10))
    assert found == [utc(2026, 3, 2, 14, 0), utc(2026, 3, 9, 13, 0)]
    assert [local(moment, NEW_YORK) for moment in found] == [
        "Mon 2026-03-02 09:00 EST",
        "Mon 2026-03-09 09:00 EDT",
    ]


def test_a_new_york_monday_round_table_stays_at_nine_local_across_the_november_change() -> None:
    rec = series(MONDAY, time(9, 0), "America/New_York")
    found = occurrences_between(rec, utc(2026, 10, 25), utc(2026, 11, 3))
    assert found == [utc(2026, 10, 26, 13, 0), utc(2026, 11, 2, 14, 0)]
    assert [local(moment, NEW_YORK) for moment in found] == [
        "Mon 2026-10-26 09:00 EDT",
        "Mon 2026-11-02 09:00 EST",
    ]


def test_a_sunday_round_table_on_the_change_day_itself_keeps_its_wall_time() -> None:
    rec = series(SUNDAY, time(9, 0), "America/New_York")
    assert next_occurrence(rec, utc(2026, 3, 7)) == utc(2026, 3, 8, 13, 0)  # 09:00 EDT, hours after 02:00
    assert next_occurrence(rec, utc(2026, 10, 31)) == utc(2026, 11, 1, 14, 0)  # 09:00 EST


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ((utc(2026, 3, 20), utc(2026, 4, 1)), [utc(2026, 3, 24, 14, 0), utc(2026, 3, 31, 13, 0)]),
        ((utc(2026, 10, 18), utc(2026, 10, 30)), [utc(2026, 10, 20, 13, 0), utc(2026, 10, 27, 14, 0)]),
    ],
    ids=["march-29", "october-25"],
)
def test_a_berlin_tuesday_round_table_stays_at_three_pm_local(
    window: tuple[datetime, datetime], expected: list[datetime]
) -> None:
    rec = series(TUESDAY, time(15, 0), "Europe/Berlin")
    found = occurrences_between(rec, *window)
    assert found == expected
    assert {moment.astimezone(BERLIN).time() for moment in found} == {time(15, 0)}


def test_a_berlin_sunday_meeting_in_the_missing_hour_moves_forward_by_the_gap() -> None:
    rec = series(SUNDAY, time(2, 30), "Europe/Berlin")
    assert local(next_occurrence(rec, utc(2026, 3, 28)), BERLIN) == "Sun 2026-03-29 03:30 CEST"
    # The week after, it is back at 02:30.
    assert local(next_occurrence(rec, utc(2026, 3, 30)), BERLIN) == "Sun 2026-04-05 02:30 CEST"


def test_a_time_inside_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    rec = series(SUNDAY, time(2, 30), "America/New_York")
    on_change_day = next_occurrence(rec, utc(2026, 3, 7))
    assert on_change_day == utc(2026, 3, 8, 7, 30)
    assert local(on_change_day, NEW_YORK) == "Sun 2026-03-08 03:30 EDT"
    assert [
        local(moment, NEW_YORK) for moment in occurrences_between(rec, utc(2026, 2, 28), utc(2026, 3, 16))
    ] == [
        "Sun 2026-03-01 02:30 EST",
        "Sun 2026-03-08 03:30 EDT",
        "Sun 2026-03-15 02:30 EDT",
    ]


def test_a_time_that_happens_twice_at_fall_back_happens_once_the_first_time() -> None:
    rec = series(SUNDAY, time(1, 30), "America/New_York")
    found = occurrences_between(rec, utc(2026, 10, 31), utc(2026, 11, 2))
    assert found == [utc(2026, 11, 1, 5, 30)]
    assert local(found[0], NEW_YORK) == "Sun 2026-11-01 01:30 EDT"  # the first of the two
    # Asking just after the first one does not produce the second one an hour later.
    assert next_occurrence(rec, found[0]) == utc(2026, 11, 8, 6, 30)


def test_every_two_weeks_skips_the_odd_weeks_counted_from_the_anchor_even_across_a_change() -> None:
    rec = series(MONDAY, time(9, 0), "America/New_York", "biweekly", anchor=date(2026, 2, 23))
    assert occurrences_between(rec, utc(2026, 2, 20), utc(2026, 3, 31)) == [
        utc(2026, 2, 23, 14, 0),
        utc(2026, 3, 9, 13, 0),
        utc(2026, 3, 23, 13, 0),
    ]


def test_every_two_weeks_counts_whole_weeks_from_any_day_of_the_anchor_week_also_backwards() -> None:
    # The anchor is a Thursday; the series is on the Mondays of its week, two weeks on, and so on.
    rec = series(MONDAY, time(9, 0), "Europe/Berlin", "biweekly", anchor=date(2026, 10, 15))
    assert occurrences_between(rec, utc(2026, 9, 1), utc(2026, 11, 10)) == [
        utc(2026, 9, 14, 7, 0),
        utc(2026, 9, 28, 7, 0),
        utc(2026, 10, 12, 7, 0),
        utc(2026, 10, 26, 8, 0),  # after the October change: still 09:00 in Berlin
        utc(2026, 11, 9, 8, 0),
    ]
    assert previous_occurrence(rec, utc(2026, 10, 25)) == utc(2026, 10, 12, 7, 0)


def test_monthly_on_the_first_monday_across_the_year_end() -> None:
    rec = series(MONDAY, time(9, 30), "UTC", "monthly", week_of_month=1)
    assert occurrences_between(rec, utc(2026, 11, 1), utc(2027, 2, 28)) == [
        utc(2026, 11, 2, 9, 30),
        utc(2026, 12, 7, 9, 30),
        utc(2027, 1, 4, 9, 30),
        utc(2027, 2, 1, 9, 30),
    ]


def test_monthly_on_the_last_friday_including_months_with_five_fridays_and_the_year_end() -> None:
    rec = series(FRIDAY, time(16, 0), "UTC", "monthly", week_of_month=-1)
    assert occurrences_between(rec, utc(2026, 10, 1), utc(2027, 2, 1)) == [
        utc(2026, 10, 30, 16, 0),  # October 2026 has five Fridays: the fifth is the last
        utc(2026, 11, 27, 16, 0),
        utc(2026, 12, 25, 16, 0),
        utc(2027, 1, 29, 16, 0),  # January 2027 has five Fridays too
    ]


def test_monthly_on_the_fourth_friday_is_not_the_last_in_a_month_with_five() -> None:
    rec = series(FRIDAY, time(16, 0), "UTC", "monthly", week_of_month=4)
    assert next_occurrence(rec, utc(2026, 10, 1)) == utc(2026, 10, 23, 16, 0)


def test_monthly_keeps_local_time_across_a_change_too() -> None:
    rec = series(MONDAY, time(9, 0), "America/New_York", "monthly", week_of_month=1)
    assert [
        local(moment, NEW_YORK) for moment in occurrences_between(rec, utc(2026, 10, 1), utc(2026, 12, 1))
    ] == [
        "Mon 2026-10-05 09:00 EDT",
        "Mon 2026-11-02 09:00 EST",
    ]


def test_next_occurrence_is_strictly_after_and_returns_utc_whatever_zone_it_was_asked_in() -> None:
    rec = series(MONDAY, time(9, 0), "America/New_York")
    meeting = utc(2026, 3, 9, 13, 0)
    assert next_occurrence(rec, meeting - timedelta(microseconds=1)) == meeting
    assert next_occurrence(rec, meeting) == utc(2026, 3, 16, 13, 0)
    asked_in_berlin = next_occurrence(rec, datetime(2026, 3, 9, 13, 59, tzinfo=BERLIN))
    assert asked_in_berlin == meeting
    assert asked_in_berlin.tzinfo is UTC


def test_previous_occurrence_includes_the_moment_itself() -> None:
    rec = series(MONDAY, time(9, 0), "America/New_York")
    assert previous_occurrence(rec, utc(2026, 3, 9, 13, 0)) == utc(2026, 3, 9, 13, 0)
    assert previous_occurrence(rec, utc(2026, 3, 9, 12, 59)) == utc(2026, 3, 2, 14, 0)
    assert previous_occurrence(rec, utc(2026, 11, 2, 13, 59)) == utc(2026, 10, 26, 13, 0)


def test_occurrences_between_excludes_the_start_and_includes_the_end() -> None:
    rec = series(MONDAY, time(9, 0), "America/New_York")
    first, second = utc(2026, 3, 2, 14, 0), utc(2026, 3, 9, 13, 0)
    assert occurrences_between(rec, first, second) == [second]
    assert occurrences_between(rec, second, first) == []


@pytest.mark.parametrize(
    "rec",
    [
        series(MONDAY, time(9, 0), "America/New_York"),
        series(SUNDAY, time(2, 30), "America/New_York"),
        series(SUNDAY, time(1, 30), "America/New_York"),
        series(SUNDAY, time(2, 30), "Europe/Berlin", "biweekly", anchor=date(2026, 3, 29)),
        series(FRIDAY, time(23, 45), "Australia/Lord_Howe", "monthly", week_of_month=-1),
    ],
    ids=["ny-weekly", "ny-gap", "ny-ambiguous", "berlin-biweekly-gap", "lord-howe-monthly"],
)
def test_next_and_previous_agree_on_every_hour_of_a_year(rec: Recurrence) -> None:
    meetings = occurrences_between(rec, utc(2025, 12, 1), utc(2027, 2, 1))
    moment = utc(2026, 1, 1)
    while moment < utc(2027, 1, 1):
        after = next_occurrence(rec, moment)
        before = previous_occurrence(rec, moment)
        assert before is not None
        assert before <= moment < after
        # Nothing between them: they are neighbours in the series.
        assert meetings.index(after) == meetings.index(before) + 1
        moment += timedelta(minutes=97)
    # And every meeting is on its weekday at its wall time, or moved forward by a spring-forward gap.
    for meeting in meetings:
        wall = meeting.astimezone(rec.zone)
        assert wall.weekday() == rec.weekday
        nominal = datetime.combine(wall.date(), rec.at)
        assert timedelta(0) <= wall.replace(tzinfo=None) - nominal <= timedelta(hours=1)


def test_naive_datetimes_are_refused() -> None:
    rec = series(MONDAY, time(9, 0), "UTC")
    for call in (
        lambda: next_occurrence(rec, datetime(2026, 3, 1)),
        lambda: previous_occurrence(rec, datetime(2026, 3, 1)),
        lambda: occurrences_between(rec, datetime(2026, 3, 1), utc(2026, 4, 1)),
        lambda: occurrences_between(rec, utc(2026, 3, 1), datetime(2026, 4, 1)),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "europe/berlin", "America", "", "../etc/passwd"])
def test_an_unknown_time_zone_is_refused_with_a_clear_message(name: str) -> None:
    with pytest.raises(ValueError, match="is not an IANA time zone such as Europe/Berlin"):
        series(MONDAY, time(9, 0), name)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cadence": "daily"}, "Unknown cadence 'daily'"),
        ({"weekday": 7}, "weekday must be 0"),
        ({"week_of_month": 5}, "week_of_month must be 1, 2, 3 or 4"),
        ({"week_of_month": 0}, "week_of_month must be 1, 2, 3 or 4"),
        ({"at": time(9, 0, tzinfo=UTC)}, "without a time zone"),
    ],
)
def test_impossible_series_are_refused(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "cadence": "monthly",
        "weekday": MONDAY,
        "at": time(9, 0),
        "tz": "UTC",
        "anchor": date(2026, 1, 5),
    }
    with pytest.raises(ValueError, match=message):
        Recurrence(**(fields | changes))  # type: ignore[arg-type]


def test_descriptions_read_naturally() -> None:
    assert describe(series(TUESDAY, time(15, 0), "Europe/Berlin")) == "every Tuesday at 15:00 (Europe/Berlin)"
    assert (
        describe(series(TUESDAY, time(15, 0), "America/New_York", "biweekly"))
        == "every 2 weeks on Tuesday at 15:00 (America/New_York)"
    )
    assert describe(series(MONDAY, time(9, 30), "UTC", "monthly")) == "monthly on the first Monday at 09:30 (UTC)"
    assert (
        describe(series(FRIDAY, time(9, 30), "UTC", "monthly", week_of_month=-1))
        == "monthly on the last Friday at 09:30 (UTC)"
    )
    assert (
        describe(series(SUNDAY, time(8, 5), "Asia/Tokyo", "monthly", week_of_month=3))
        == "monthly on the third Sunday at 08:05 (Asia/Tokyo)"
    )

"""Which events deserve a nudge, and when a nudge must wait: the restraint rules, at fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from habits.events import BusinessEvent, EventKind
from habits.rules import canonical_event, juncture_of, over_hourly_cap, quiet_hours_end
from models.workspaces import DEFAULT_JUNCTURES

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
EVENING_TO_MORNING = {"start": time(19, 0), "end": time(8, 0)}


def event(kind: EventKind, name: str, *, stage: str | None = None, priority: str | None = None) -> BusinessEvent:
    return BusinessEvent(
        source="webhook",
        external_id="evt-1",
        kind=kind,
        event=name,
        subject_id="https://crm.example.com/deals/1",
        title="Acme renewal",
        stage=stage,
        priority=priority,
    )


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (event("deal", "created"), "deal.created"),
        (event("deal", "stage_changed", stage="Negotiation"), "deal.stage_changed:negotiation"),
        (event("deal", "closed_won"), "deal.closed_won"),
        (event("deal", "closed_lost"), "deal.closed_lost"),
        (event("ticket", "escalated"), "ticket.escalated"),
        (event("ticket", "reopened"), "ticket.reopened"),
        (event("ticket", "priority_raised", priority="High"), "ticket.priority_raised:high"),
        (event("ticket", "priority_changed", priority="urgent"), "ticket.priority_raised:urgent"),
    ],
)
def test_the_default_critical_junctures_deserve_a_nudge(moment: BusinessEvent, expected: str) -> None:
    assert juncture_of(moment, DEFAULT_JUNCTURES) == expected


@pytest.mark.parametrize(
    "moment",
    [
        event("deal", "updated"),
        event("deal", "note_added"),
        event("ticket", "created"),
        event("ticket", "commented"),
        event("ticket", "priority_raised", priority="Low"),
        event("ticket", "priority_changed", priority="medium"),
        # A stage change that does not say which stage cannot be told apart from the next one.
        event("deal", "stage_changed"),
        # Tickets are not deals: a deal word on a ticket is not a deal moment.
        event("ticket", "closed_won"),
    ],
)
def test_routine_events_do_not(moment: BusinessEvent) -> None:
    assert juncture_of(moment, DEFAULT_JUNCTURES) is None


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("won", "closed_won"),
        ("Closed Won", "closed_won"),
        ("closed-lost", "closed_lost"),
        ("lost", "closed_lost"),
        ("Stage Changed", "stage_changed"),
        ("stage_change", "stage_changed"),
        ("escalation", "escalated"),
        ("reopen", "reopened"),
        ("priority_changed", "priority_raised"),
    ],
)
def test_senders_may_spell_an_event_their_own_way(spelling: str, canonical: str) -> None:
    assert canonical_event(spelling) == canonical


def test_each_stage_is_its_own_juncture_whatever_its_capitals_and_spaces() -> None:
    negotiation = juncture_of(event("deal", "stage_changed", stage="Negotiation"), DEFAULT_JUNCTURES)
    same_stage = juncture_of(event("deal", "Stage Changed", stage="  negotiation "), DEFAULT_JUNCTURES)
    contract = juncture_of(event("deal", "stage_changed", stage="Contract sent"), DEFAULT_JUNCTURES)
    assert negotiation == same_stage
    assert contract != negotiation


def test_raising_a_ticket_from_high_to_urgent_is_a_new_juncture() -> None:
    high = juncture_of(event("ticket", "priority_raised", priority="High"), DEFAULT_JUNCTURES)
    urgent = juncture_of(event("ticket", "priority_raised", priority="Urgent"), DEFAULT_JUNCTURES)
    assert high is not None and urgent is not None and high != urgent


def test_a_workspace_can_turn_a_juncture_off() -> None:
    without_new_deals = [name for name in DEFAULT_JUNCTURES if name != "deal.created"]
    assert juncture_of(event("deal", "created"), without_new_deals) is None
    assert juncture_of(event("deal", "closed_won"), without_new_deals) == "deal.closed_won"


def local(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def test_a_late_evening_event_waits_until_the_next_local_morning() -> None:
    # 23:30 in New York is already the next day in UTC; quiet hours still end at 08:00 New York time.
    now = local(NEW_YORK, 2026, 11, 24, 23, 30)
    ends = quiet_hours_end(now, timezone=NEW_YORK, **EVENING_TO_MORNING)
    assert ends == local(NEW_YORK, 2026, 11, 25, 8, 0)
    assert ends == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


def test_an_early_morning_event_waits_until_eight_the_same_day() -> None:
    now = local(NEW_YORK, 2026, 11, 25, 6, 15)
    assert quiet_hours_end(now, timezone=NEW_YORK, **EVENING_TO_MORNING) == local(NEW_YORK, 2026, 11, 25, 8, 0)


@pytest.mark.parametrize("wall", [time(8, 0), time(12, 0), time(18, 59)])
def test_daytime_events_do_not_wait(wall: time) -> None:
    now = local(NEW_YORK, 2026, 11, 25, wall.hour, wall.minute)
    assert quiet_hours_end(now, timezone=NEW_YORK, **EVENING_TO_MORNING) is None


def test_quiet_hours_start_at_their_first_minute() -> None:
    now = local(NEW_YORK, 2026, 11, 25, 19, 0)
    assert quiet_hours_end(now, timezone=NEW_YORK, **EVENING_TO_MORNING) == local(NEW_YORK, 2026, 11, 26, 8, 0)


def test_quiet_hours_are_the_workspace_zones_not_utcs() -> None:
    # 14:00 UTC is 09:00 in New York (awake) but 15:00 in Berlin; 02:00 UTC is 21:00 in New York (quiet).
    assert (
        quiet_hours_end(datetime(2026, 11, 25, 14, 0, tzinfo=UTC), timezone=NEW_YORK, **EVENING_TO_MORNING) is None
    )
    assert quiet_hours_end(
        datetime(2026, 11, 26, 2, 0, tzinfo=UTC), timezone=NEW_YORK, **EVENING_TO_MORNING
    ) == local(NEW_YORK, 2026, 11, 26, 8, 0)


def test_a_night_when_the_clocks_go_back_still_ends_at_eight_local() -> None:
    # Berlin leaves summer time at 03:00 on 25 October 2026: 08:00 that morning is 07:00 UTC, not 06:00.
    now = local(BERLIN, 2026, 10, 24, 22, 0)
    ends = quiet_hours_end(now, timezone=BERLIN, **EVENING_TO_MORNING)
    assert ends == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)


def test_a_night_when_the_clocks_go_forward_still_ends_at_eight_local() -> None:
    # Berlin starts summer time at 02:00 on 29 March 2026: 08:00 that morning is 06:00 UTC.
    now = local(BERLIN, 2026, 3, 28, 23, 0)
    assert quiet_hours_end(now, timezone=BERLIN, **EVENING_TO_MORNING) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)


def test_quiet_hours_within_one_day() -> None:
    lunch = {"start": time(12, 0), "end": time(13, 30)}
    assert quiet_hours_end(local(BERLIN, 2026, 11, 25, 12, 45), timezone=BERLIN, **lunch) == local(
        BERLIN, 2026, 11, 25, 13, 30
    )
    assert quiet_hours_end(local(BERLIN, 2026, 11, 25, 13, 30), timezone=BERLIN, **lunch) is None
    assert quiet_hours_end(local(BERLIN, 2026, 11, 25, 11, 59), timezone=BERLIN, **lunch) is None


@pytest.mark.parametrize(("start", "end"), [(None, None), (time(19, 0), None), (time(9, 0), time(9, 0))])
def test_no_quiet_hours_means_never_waiting(start: time | None, end: time | None) -> None:
    now = local(BERLIN, 2026, 11, 25, 3, 0)
    assert quiet_hours_end(now, timezone=BERLIN, start=start, end=end) is None


def test_the_time_must_say_its_zone() -> None:
    with pytest.raises(ValueError, match="naive"):
        quiet_hours_end(datetime(2026, 11, 25, 3, 0), timezone=BERLIN, **EVENING_TO_MORNING)


@pytest.mark.parametrize(
    ("already", "cap", "over"),
    [(0, 6, False), (5, 6, False), (6, 6, True), (7, 6, True), (0, 1, False), (1, 1, True), (100, 0, False)],
)
def test_the_hourly_cap_counts_nudges_already_in_the_hour(already: int, cap: int, over: bool) -> None:
    assert over_hourly_cap(already, cap) is over

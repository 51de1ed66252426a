"""Time zones typed by people: a region like "America" is not a zone, and is refused politely, never a crash."""

from __future__ import annotations

import pytest

from habits.elephants.schedule import ScheduleError, parse_weekly
from habits.roundtables.form import is_timezone
from habits.time_words import known_zone, zone_or_utc


@pytest.mark.parametrize("name", ["America", "Europe", "", "europe/nowhere", "../etc/passwd", "UTC/"])
def test_region_folders_and_made_up_names_are_not_zones(name: str) -> None:
    assert known_zone(name) is None
    assert not is_timezone(name)
    assert zone_or_utc(name).key == "UTC"


def test_real_zones_are_zones() -> None:
    zone = known_zone("America/New_York")
    assert zone is not None and zone.key == "America/New_York"
    assert is_timezone("Europe/Berlin")


@pytest.mark.parametrize("zone", ["America/", "Mars/Olympus_Mons"])
def test_a_weekly_poll_in_an_unknown_zone_gets_a_clear_refusal(zone: str) -> None:
    with pytest.raises(ScheduleError, match="not a time zone I know"):
        parse_weekly(f"monday 09:00 {zone}", default_timezone="UTC")

"""The time zones a form offers: the person's own first, then the one already chosen, then the zones most teams
work in. A pick list rather than typing "America/New_York" right; it stays within what a Slack menu shows (100)."""

from __future__ import annotations

from habits.time_words import known_zone

MOST_OPTIONS = 100
COMMON_ZONES = (
    "UTC",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Vancouver",
    "America/Tijuana",
    "America/Phoenix",
    "America/Denver",
    "America/Edmonton",
    "America/Chicago",
    "America/Mexico_City",
    "America/Winnipeg",
    "America/New_York",
    "America/Toronto",
    "America/Detroit",
    "America/Bogota",
    "America/Lima",
    "America/Halifax",
    "America/Caracas",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Montevideo",
    "America/St_Johns",
    "Atlantic/Azores",
    "Atlantic/Reykjavik",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Africa/Casablanca",
    "Africa/Lagos",
    "Europe/Madrid",
    "Europe/Paris",
    "Europe/Brussels",
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/Zurich",
    "Europe/Rome",
    "Europe/Vienna",
    "Europe/Prague",
    "Europe/Warsaw",
    "Europe/Stockholm",
    "Europe/Oslo",
    "Europe/Copenhagen",
    "Europe/Budapest",
    "Europe/Belgrade",
    "Africa/Johannesburg",
    "Africa/Cairo",
    "Europe/Athens",
    "Europe/Bucharest",
    "Europe/Helsinki",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "Asia/Jerusalem",
    "Africa/Nairobi",
    "Europe/Moscow",
    "Asia/Riyadh",
    "Asia/Dubai",
    "Asia/Tehran",
    "Asia/Karachi",
    "Asia/Tashkent",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Ho_Chi_Minh",
    "Asia/Singapore",
    "Asia/Kuala_Lumpur",
    "Asia/Manila",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Australia/Perth",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Darwin",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Pacific/Guam",
    "Pacific/Auckland",
)


def zone_label(zone: str) -> str:
    """ "America/Argentina/Buenos_Aires" as people read it: "America / Argentina / Buenos Aires"."""
    return zone.replace("_", " ").replace("/", " / ")


def zone_choices(*, own_zone: str, initial: str) -> list[tuple[str, str]]:
    """(zone, label) pairs: the person's own zone first, then the one already chosen (kept even when it is not a
    common one, so changing a form never loses it), then the common zones."""
    choices: list[tuple[str, str]] = []
    if known_zone(own_zone) is not None:
        choices.append((own_zone, f"{zone_label(own_zone)} (your time zone)"))
    if known_zone(initial) is not None and initial != own_zone:
        choices.append((initial, zone_label(initial)))
    taken = {zone for zone, _ in choices}
    choices.extend((zone, zone_label(zone)) for zone in COMMON_ZONES if zone not in taken)
    return choices[:MOST_OPTIONS]

"""`/whoelse snooze`: people say how long in their own words, and hear back when it ends on their own clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.events import BusinessEvent
from habits.messages import command
from habits.snoozing import SnoozeFor, SnoozeInputError, apply_snooze, read_snooze
from habits.time_words import describe_duration, describe_moment, parse_duration
from models.db import session_scope
from models.nudges import Nudge
from models.outbox import OutboxMessage
from models.people import snoozed_users
from models.workspaces import Workspace, get_or_create_workspace
from tests.habits.receiving import receive_event

WORKSPACE = "T0001"
# A Tuesday, 10:00 UTC: 11:00 in Berlin.
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)

Sessions = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize(
    ("typed", "length"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 2 Days ", timedelta(days=2)),
        ("1 week 2 days", timedelta(days=9)),
        ("45 minutes", timedelta(minutes=45)),
    ],
)
def test_lengths_are_read_the_way_people_type_them(typed: str, length: timedelta) -> None:
    assert read_snooze(typed) == SnoozeFor(length)


@pytest.mark.parametrize("typed", ["forever", "2", "m", "3 fortnights", "-1h", "1.5h", "4h!", "tomorrow"])
def test_anything_else_gets_the_usage_line(typed: str) -> None:
    with pytest.raises(SnoozeInputError, match=re.escape(f"Usage: {command('snooze 30m')}")) as caught:
        read_snooze(typed)
    assert "didn't understand" in str(caught.value)
    assert parse_duration(typed) is None


@pytest.mark.parametrize(("typed", "why"), [("0m", "at least a minute"), ("91d", "longer than whoelse snoozes")])
def test_too_short_and_too_long_are_refused_with_the_reason(typed: str, why: str) -> None:
    with pytest.raises(SnoozeInputError, match=why):
        read_snooze(typed)


def test_the_longest_snooze_is_allowed_and_off_or_nothing_mean_what_they_say() -> None:
    assert read_snooze("90d") == SnoozeFor(timedelta(days=90))
    assert read_snooze("OFF") == "off"
    assert read_snooze("") == "status"


@pytest.mark.parametrize(
    ("length", "words"),
    [
        (timedelta(seconds=20), "less than a minute"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=30), "30 minutes"),
        (timedelta(hours=4), "4 hours"),
        (timedelta(hours=1, minutes=30), "1 hour 30 minutes"),
        (timedelta(days=2), "2 days"),
        (timedelta(days=1, hours=6), "1 day 6 hours"),
        (timedelta(weeks=1), "1 week"),
        (timedelta(days=90), "90 days"),
    ],
)
def test_lengths_read_back_in_words(length: timedelta, words: str) -> None:
    assert describe_duration(length) == words


def test_moments_are_told_on_the_readers_clock() -> None:
    assert describe_moment(NOW + timedelta(hours=4), now=NOW, timezone="Europe/Berlin") == (
        "today at 15:00 (Europe/Berlin)"
    )
    # 23:00 UTC is already tomorrow in Tokyo.
    assert describe_moment(NOW + timedelta(hours=13), now=NOW, timezone="Asia/Tokyo") == (
        "tomorrow at 08:00 (Asia/Tokyo)"
    )
    assert describe_moment(NOW + timedelta(days=2), now=NOW, timezone="America/New_York") == (
        "Thursday 12 March at 06:00 (America/New_York)"
    )
    assert (
        describe_moment(NOW + timedelta(days=300), now=NOW, timezone="UTC")
        == "Monday 4 January 2027 at 10:00 (UTC)"
    )


async def snooze_reply(
    sessions: Sessions, typed: str, *, user: str = "UANNA", timezone: str | None = "Europe/Berlin"
) -> str:
    async with session_scope(sessions) as session:
        message = await apply_snooze(
            session, workspace_id=WORKSPACE, user_id=user, action=read_snooze(typed), now=NOW, timezone=timezone
        )
    return message.text


async def snoozed(sessions: Sessions, *, at: datetime = NOW) -> set[str]:
    async with session_scope(sessions) as session:
        return await snoozed_users(session, workspace_id=WORKSPACE, now=at)


async def test_snoozing_says_when_it_ends_and_ends_by_itself(sessions: Sessions) -> None:
    reply = await snooze_reply(sessions, "2d")

    assert reply.startswith("Snoozed until Thursday 12 March at 11:00 (Europe/Berlin), 2 days from now.")
    assert "no reminder DMs" in reply
    assert await snoozed(sessions) == {"UANNA"}
    assert await snoozed(sessions, at=NOW + timedelta(days=2)) == set()


async def test_snoozing_again_replaces_the_end_and_off_ends_it_early(sessions: Sessions) -> None:
    await snooze_reply(sessions, "1w")
    assert "today at 15:00" in await snooze_reply(sessions, "4h")
    assert "You're snoozed until today at 15:00 (Europe/Berlin)" in await snooze_reply(sessions, "")
    assert await snoozed(sessions, at=NOW + timedelta(hours=5)) == set()

    assert (await snooze_reply(sessions, "off")).startswith("Snooze ended")
    assert await snoozed(sessions) == set()
    assert await snooze_reply(sessions, "off") == "You weren't snoozed, so nothing changed."
    assert (await snooze_reply(sessions, "")).startswith("You're not snoozed.")


async def test_without_the_persons_time_zone_the_workspaces_is_used(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        workspace = await get_or_create_workspace(session, workspace_id=WORKSPACE)
        workspace.timezone = "Asia/Tokyo"

    assert "until today at 23:00 (Asia/Tokyo)" in await snooze_reply(sessions, "4h", timezone=None)


async def test_automatic_nudges_name_a_snoozed_owner_without_pinging_them(sessions: Sessions) -> None:
    await snooze_reply(sessions, "1w", user="UOWNER")

    async def nudge_text(deal: str, now: datetime) -> str:
        async with session_scope(sessions) as session:
            workspace = await session.get(Workspace, WORKSPACE)
            assert workspace is not None
            workspace.quiet_start = workspace.quiet_end = None
            result = await receive_event(
                session,
                workspace_id=WORKSPACE,
                event=BusinessEvent(
                    source="webhook",
                    external_id=deal,
                    kind="deal",
                    event="closed_won",
                    subject_id=deal,
                    title=f"Deal {deal}",
                    owner="UOWNER",
                    channel="CSALES",
                ),
                now=now,
            )
            assert result.outcome == "nudged"
            row = await session.get(OutboxMessage, (await session.get_one(Nudge, result.nudge_id)).outbox_id)
            assert row is not None
            return str(row.message)

    assert "@{UOWNER}" not in await nudge_text("d-1", NOW)
    assert "@{UOWNER}" in await nudge_text("d-2", NOW + timedelta(weeks=1, minutes=1))

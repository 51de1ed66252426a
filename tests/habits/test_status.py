"""`/whoelse status` tells admins about recent events whoelse could not act on, and how to fix the cause."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.events import BusinessEvent
from habits.job_words import describe_job, moment_in_words, zone_in_words
from habits.messages import command
from habits.nudging import event_row
from habits.roundtables.digest import next_digest_at
from habits.roundtables.form import RoundTablePlan
from habits.roundtables.meetings import set_up
from habits.status import status_report
from models.db import session_scope
from models.events import ReceivedEvent
from models.roundtables import RoundTable
from models.workspaces import get_or_create_workspace
from tests.conftest import TEAM_ID

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def given_events(sessions: async_sessionmaker[AsyncSession], *outcomes: tuple[str, str, datetime]) -> None:
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
        for external_id, outcome, received in outcomes:
            event = BusinessEvent(
                source="webhook", external_id=external_id, kind="deal", event="created", subject_id="d", title="D"
            )
            session.add(
                ReceivedEvent(**event_row(workspace_id=TEAM_ID, event=event, now=received) | {"outcome": outcome})
            )


async def weekly_roundtable(
    session: AsyncSession, *, workspace_id: str, channel_id: str, user_id: str, timezone: str, now: datetime
) -> RoundTable:
    """A round-table on Tuesdays at 14:45 in `timezone`, reminding 15 minutes before."""
    roundtable, _changed = await set_up(
        session,
        workspace_id=workspace_id,
        channel_id=channel_id,
        user_id=user_id,
        plan=RoundTablePlan(
            cadence="weekly",
            weekday=1,
            week_of_month=None,
            at=time(14, 45),
            timezone=timezone,
            invitees=(user_id,),
            group_ids=(),
            reminder_minutes=(15,),
        ),
        now=now,
    )
    return roundtable


async def report_text(sessions: async_sessionmaker[AsyncSession], workspace_id: str = TEAM_ID) -> str:
    async with sessions() as session:
        message = await status_report(session, workspace_id=workspace_id, scheduler_role="leader", now=NOW)
    return "\n".join(getattr(part, "text", "") for part in message.parts)


async def test_events_with_nowhere_to_go_are_counted_with_the_fix(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await given_events(
        sessions,
        ("a", "no_channel", NOW - timedelta(hours=1)),
        ("b", "no_channel", NOW - timedelta(days=2)),
        ("c", "error", NOW - timedelta(days=3)),
        ("d", "nudged", NOW - timedelta(hours=2)),
        ("e", "no_channel", NOW - timedelta(days=8)),
    )

    text = await report_text(sessions)

    assert "2 with no channel to go to" in text and command("watch deals") in text
    assert "1 that could not be read" in text


async def test_a_workspace_where_every_event_found_its_channel_sees_no_such_section(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await given_events(sessions, ("d", "nudged", NOW - timedelta(hours=2)))

    assert "could not act on" not in await report_text(sessions)


async def test_another_workspaces_unplaced_events_are_not_shown(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await given_events(sessions, ("a", "no_channel", NOW - timedelta(hours=1)))
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id="T0OTHER")

    assert "could not act on" not in await report_text(sessions, "T0OTHER")


def test_a_moment_is_told_on_its_own_zones_clock_with_the_date_when_it_is_more_than_days_away() -> None:
    # Tuesday 3 November 2026, after New York fell back: 19:30 UTC is 14:30 there.
    when = datetime(2026, 11, 3, 19, 30, tzinfo=UTC)

    assert moment_in_words(when, now=when - timedelta(days=2), timezone="America/New_York") == (
        "Tue 14:30 New York time"
    )
    assert moment_in_words(when, now=when - timedelta(days=9), timezone="America/New_York") == (
        "Tue 3 Nov 14:30 New York time"
    )
    assert moment_in_words(when, now=when, timezone="UTC") == "Tue 19:30 UTC"
    assert zone_in_words("America/Argentina/Buenos_Aires") == "Buenos Aires time"


async def test_another_workspaces_round_table_is_not_named_in_a_status(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id="T0OTHER")
        roundtable = await weekly_roundtable(
            session,
            workspace_id="T0OTHER",
            channel_id="CTHEIRS",
            user_id="UTHEM",
            timezone="America/New_York",
            now=NOW,
        )
        name = f"roundtable:{roundtable.id}:reminder:15"

        theirs = await describe_job(
            session, workspace_id="T0OTHER", name=name, when=NOW, now=NOW, workspace_zone="UTC"
        )
        ours = await describe_job(
            session, workspace_id=TEAM_ID, name=name, when=NOW, now=NOW, workspace_zone="UTC"
        )

    assert theirs == "Round-table reminder (15 minutes before), #{CTHEIRS}, Mon 07:00 New York time"
    assert ours == f"{name}, Mon 12:00 UTC"


async def test_a_round_table_s_next_digest_is_told_on_its_channel_s_clock_and_never_to_another_workspace(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id="T0OTHER")
        roundtable = await weekly_roundtable(
            session,
            workspace_id="T0OTHER",
            channel_id="CTHEIRS",
            user_id="UTHEM",
            timezone="Europe/Berlin",
            now=NOW,
        )
        name = f"roundtable-follow-up:digests:{roundtable.id}"
        # January 2027 begins on a Friday: 09:00 in Berlin is 08:00 UTC.
        new_year = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
        assert next_digest_at(roundtable, NOW) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        december = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
        assert next_digest_at(roundtable, december) == new_year
        assert next_digest_at(roundtable, new_year - timedelta(minutes=1)) == new_year
        # Once it is due, the next is February's first weekday, Monday the 1st.
        assert next_digest_at(roundtable, new_year) == datetime(2027, 2, 1, 8, 0, tzinfo=UTC)

        theirs = await describe_job(
            session, workspace_id="T0OTHER", name=name, when=new_year, now=december, workspace_zone="UTC"
        )
        ours = await describe_job(
            session, workspace_id=TEAM_ID, name=name, when=new_year, now=december, workspace_zone="UTC"
        )

    assert theirs == "Monthly digest, #{CTHEIRS}, Fri 1 Jan 09:00 Berlin time"
    assert ours == f"{name}, Fri 1 Jan 08:00 UTC"

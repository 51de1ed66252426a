"""`/whoelse stats`: what a channel sees about how it answered its nudges over the last week and month."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.messages import Facts, Message, Paragraph
from habits.stats import PeriodStats, channel_stats, stats_message
from models.db import session_scope
from models.nudges import HelpExchange, LoopIn, Nudge
from models.outbox import PENDING, SENT, enqueue
from models.workspaces import get_or_create_workspace

WORKSPACE = "T0001"
OTHER_WORKSPACE = "T0002"
CHANNEL = "CSALES"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Past:
    """One nudge as it happened: when it was posted and what people answered."""

    posted_ago: timedelta | None
    first_answer_after: timedelta | None = None
    # (by, looped in); None looped in is the answer "nobody else needs to know".
    loop_ins: list[tuple[str, str | None]] = field(default_factory=list)
    help: list[str] = field(default_factory=list)
    channel: str = CHANNEL
    workspace: str = WORKSPACE
    delivered: bool = True
    answered_at: datetime | None = None


async def seed(sessions: Sessions, history: list[Past]) -> None:
    async with session_scope(sessions) as session:
        for workspace in {WORKSPACE, OTHER_WORKSPACE}:
            await get_or_create_workspace(session, workspace_id=workspace)
        for number, past in enumerate(history):
            posted_at = NOW - past.posted_ago if past.posted_ago is not None else None
            nudge = Nudge(
                workspace_id=past.workspace,
                channel_id=past.channel,
                juncture="manual",
                title=f"topic {number}",
                created_by="UASKER",
                created_at=(posted_at or NOW) - timedelta(seconds=5),
            )
            if posted_at is not None and past.first_answer_after is not None:
                nudge.first_answer_at = posted_at + past.first_answer_after
            session.add(nudge)
            await session.flush()
            if posted_at is not None:
                row = await enqueue(
                    session,
                    workspace_id=past.workspace,
                    idempotency_key=f"nudge:{nudge.id}",
                    channel_id=past.channel,
                    message=Message(text=f"nudge {number}"),
                    not_before=posted_at,
                )
                if past.delivered:
                    row.status, row.sent_at, row.sent_ts = SENT, posted_at, f"{number}.000100"
                else:
                    row.status = PENDING
                nudge.outbox_id = row.id
            answered_at = past.answered_at or (
                nudge.first_answer_at if nudge.first_answer_at is not None else NOW - timedelta(minutes=1)
            )
            for by, looped in past.loop_ins:
                session.add(
                    LoopIn(
                        workspace_id=past.workspace,
                        nudge_id=nudge.id,
                        by_user=by,
                        looped_user=looped,
                        created_at=answered_at,
                    )
                )
            for kind in past.help:
                session.add(
                    HelpExchange(
                        workspace_id=past.workspace,
                        nudge_id=nudge.id,
                        user_id="UHELPER",
                        kind=kind,
                        category="engineering",
                        text="a hand",
                        created_at=answered_at,
                    )
                )
            await session.flush()


def facts_of(message: Message) -> list[dict[str, str]]:
    return [dict(part.facts) for part in message.parts if isinstance(part, Facts)]


async def stats(sessions: Sessions, channel: str = CHANNEL) -> dict[int, PeriodStats]:
    async with session_scope(sessions) as session:
        periods = await channel_stats(session, workspace_id=WORKSPACE, channel_id=channel, now=NOW)
    return {period.days: period for period in periods}


async def test_a_channel_sees_its_last_week_and_month_of_nudges_and_answers(sessions: Sessions) -> None:
    await seed(
        sessions,
        [
            # This week: two people looped in (one of them twice), one help offer, answered in 10 minutes.
            Past(
                timedelta(days=2),
                timedelta(minutes=10),
                loop_ins=[("UANNA", "UBEN"), ("UANNA", "UCARA"), ("UDAN", "UBEN")],
                help=["offer"],
            ),
            # "Nobody else needs to know" is an answer, but nobody was looped in.
            Past(timedelta(days=3), timedelta(minutes=30), loop_ins=[("UANNA", None)]),
            Past(timedelta(days=5)),
            # Earlier this month: answered after two hours with help both ways and one loop-in.
            Past(timedelta(days=20), timedelta(hours=2), loop_ins=[("UEVE", "UFRED")], help=["request", "offer"]),
            # Not counted: older than a month, another channel, another workspace, not delivered yet.
            Past(timedelta(days=40), timedelta(minutes=1), loop_ins=[("UANNA", "UBEN")]),
            Past(timedelta(days=1), timedelta(minutes=1), loop_ins=[("UANNA", "UBEN")], channel="COTHER"),
            Past(timedelta(days=1), timedelta(minutes=1), loop_ins=[("UANNA", "UBEN")], workspace=OTHER_WORKSPACE),
            Past(timedelta(hours=1), delivered=False),
            # Held back by the hourly cap: never posted.
            Past(None),
        ],
    )

    week, month = (await stats(sessions)).values()

    assert week == PeriodStats(
        days=7,
        nudges_posted=3,
        answered=2,
        median_time_to_first_answer=timedelta(minutes=20),
        loop_ins=2,
        help_offers=1,
        help_requests=0,
    )
    assert month == PeriodStats(
        days=30,
        nudges_posted=4,
        answered=3,
        median_time_to_first_answer=timedelta(minutes=30),
        loop_ins=3,
        help_offers=2,
        help_requests=1,
    )
    assert facts_of(stats_message(CHANNEL, [week, month])) == [
        {
            "Nudges posted": "3",
            "Answered": "2 of 3 (67%)",
            "Median time to first answer": "20 minutes",
            "People looped in": "2",
            "Help offered": "1",
            "Help asked for": "0",
        },
        {
            "Nudges posted": "4",
            "Answered": "3 of 4 (75%)",
            "Median time to first answer": "30 minutes",
            "People looped in": "3",
            "Help offered": "2",
            "Help asked for": "1",
        },
    ]


async def test_answers_after_now_do_not_count_yet(sessions: Sessions) -> None:
    await seed(
        sessions,
        [Past(timedelta(hours=3), loop_ins=[("UANNA", "UBEN")], answered_at=NOW + timedelta(minutes=5))],
    )

    week = (await stats(sessions))[7]

    assert (week.nudges_posted, week.answered, week.loop_ins) == (1, 0, 0)
    assert week.median_time_to_first_answer is None


async def test_a_channel_without_nudges_gets_a_friendly_note_instead_of_zeros(sessions: Sessions) -> None:
    await seed(
        sessions, [Past(timedelta(days=2), timedelta(minutes=5), loop_ins=[("UANNA", "UBEN")], channel="COTHER")]
    )

    periods = await stats(sessions)
    message = stats_message(CHANNEL, list(periods.values()))

    assert all(period.answered_share is None for period in periods.values())
    assert message.text.startswith("No nudges in #{CSALES} in the last 30 days yet")
    assert "%" not in message.text
    assert not message.parts


async def test_a_quiet_week_in_a_busy_month_says_so(sessions: Sessions) -> None:
    await seed(sessions, [Past(timedelta(days=12), timedelta(hours=1, minutes=30), help=["request"])])

    message = stats_message(CHANNEL, list((await stats(sessions)).values()))

    texts = [part.text for part in message.parts if isinstance(part, Paragraph)]
    assert "No nudges posted." in texts
    assert facts_of(message) == [
        {
            "Nudges posted": "1",
            "Answered": "1 of 1 (100%)",
            "Median time to first answer": "1 hour 30 minutes",
            "People looped in": "0",
            "Help offered": "0",
            "Help asked for": "1",
        }
    ]

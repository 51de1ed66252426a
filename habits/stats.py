"""`/whoelse stats`: how a channel answers its nudges, over the last week and the last month.

A period counts the nudges posted in it (their outbox row was sent) and every answer those nudges had received by
`now`, so the numbers of one period always describe the same set of nudges.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.messages import Facts, Message, Note, Paragraph, channel_mention, command
from habits.time_words import describe_duration
from models.nudges import HelpExchange, LoopIn, Nudge
from models.outbox import SENT, OutboxMessage

PERIODS_IN_DAYS = (7, 30)


@dataclass(frozen=True)
class PeriodStats:
    days: int
    nudges_posted: int
    # Nudges with at least one answer: a loop-in (including "nobody else"), a help offer or a help request.
    answered: int
    median_time_to_first_answer: timedelta | None
    # People looped in; the answer "nobody else needs to know" is not a person.
    loop_ins: int
    help_offers: int
    help_requests: int

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.nudges_posted if self.nudges_posted else None


@dataclass(frozen=True)
class _Posted:
    nudge_id: int
    sent_at: datetime
    first_answer_at: datetime | None


async def channel_stats(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    now: datetime,
    periods: Sequence[int] = PERIODS_IN_DAYS,
) -> list[PeriodStats]:
    """One `PeriodStats` per period (in days, ending at `now`), in the order given."""
    posted_in_window = _posted_nudges(workspace_id, channel_id, since=now - timedelta(days=max(periods)), now=now)
    posted = [
        _Posted(nudge_id, sent_at, first_answer_at)
        for nudge_id, sent_at, first_answer_at in await session.execute(posted_in_window)
        if sent_at is not None
    ]
    window_ids = posted_in_window.with_only_columns(Nudge.id)
    loop_ins = await session.execute(
        select(LoopIn.nudge_id, LoopIn.looped_user).where(
            LoopIn.workspace_id == workspace_id, LoopIn.nudge_id.in_(window_ids), LoopIn.created_at <= now
        )
    )
    helps = await session.execute(
        select(HelpExchange.nudge_id, HelpExchange.kind).where(
            HelpExchange.workspace_id == workspace_id,
            HelpExchange.nudge_id.in_(window_ids),
            HelpExchange.created_at <= now,
        )
    )
    looped: dict[int, set[str | None]] = {}
    for nudge_id, looped_user in loop_ins:
        looped.setdefault(nudge_id, set()).add(looped_user)
    help_kinds: dict[int, list[str]] = {}
    for nudge_id, kind in helps:
        help_kinds.setdefault(nudge_id, []).append(kind)
    return [_summarise(days, posted, looped, help_kinds, now=now) for days in periods]


def _posted_nudges(
    workspace_id: str, channel_id: str, *, since: datetime, now: datetime
) -> Select[int, datetime | None, datetime | None]:
    return (
        select(Nudge.id, OutboxMessage.sent_at, Nudge.first_answer_at)
        .join(OutboxMessage, OutboxMessage.id == Nudge.outbox_id)
        .where(
            Nudge.workspace_id == workspace_id,
            Nudge.channel_id == channel_id,
            OutboxMessage.workspace_id == workspace_id,
            OutboxMessage.status == SENT,
            OutboxMessage.sent_at > since,
            OutboxMessage.sent_at <= now,
        )
    )


def _summarise(
    days: int,
    posted: list[_Posted],
    looped: dict[int, set[str | None]],
    help_kinds: dict[int, list[str]],
    *,
    now: datetime,
) -> PeriodStats:
    in_period = [nudge for nudge in posted if nudge.sent_at > now - timedelta(days=days)]
    answered = [nudge for nudge in in_period if looped.get(nudge.nudge_id) or help_kinds.get(nudge.nudge_id)]
    waits = [
        # A click can be recorded a moment before delivery records the post; that is an instant answer.
        max((nudge.first_answer_at - nudge.sent_at).total_seconds(), 0.0)
        for nudge in answered
        if nudge.first_answer_at is not None and nudge.first_answer_at <= now
    ]
    kinds = [kind for nudge in in_period for kind in help_kinds.get(nudge.nudge_id, [])]
    return PeriodStats(
        days=days,
        nudges_posted=len(in_period),
        answered=len(answered),
        median_time_to_first_answer=timedelta(seconds=statistics.median(waits)) if waits else None,
        loop_ins=sum(len(looped.get(nudge.nudge_id, set()) - {None}) for nudge in in_period),
        help_offers=kinds.count("offer"),
        help_requests=kinds.count("request"),
    )


def stats_message(channel_id: str, periods: Sequence[PeriodStats]) -> Message:
    where = channel_mention(channel_id)
    longest = max(periods, key=lambda period: period.days)
    if longest.nudges_posted == 0:
        return Message(
            text=(
                f"No nudges in {where} in the last {longest.days} days yet, so there's nothing to count. "
                f"Nudges come when a watched deal or ticket reaches a key moment ({command('watch deals')}), "
                f"or when someone runs {command('nudge <topic>')}."
            )
        )
    parts: list[Paragraph | Facts | Note] = [Paragraph(text=f"*How {where} answers its nudges*")]
    for period in periods:
        parts.append(Paragraph(text=f"*Last {period.days} days*"))
        if period.nudges_posted == 0:
            parts.append(Paragraph(text="No nudges posted."))
        else:
            parts.append(Facts(facts=_facts(period)))
    parts.append(Note(text="Answers count until now for the nudges posted in each period."))
    summary = "; ".join(
        f"last {period.days} days: {_plural(period.nudges_posted, 'nudge')}, {period.answered} answered"
        for period in periods
    )
    return Message(text=f"Stats for {where} — {summary}.", parts=list(parts))


def _facts(period: PeriodStats) -> list[tuple[str, str]]:
    share = period.answered_share or 0.0
    median = period.median_time_to_first_answer
    return [
        ("Nudges posted", str(period.nudges_posted)),
        ("Answered", f"{period.answered} of {period.nudges_posted} ({share:.0%})"),
        ("Median time to first answer", describe_duration(median) if median is not None else "no answers yet"),
        ("People looped in", str(period.loop_ins)),
        ("Help offered", str(period.help_offers)),
        ("Help asked for", str(period.help_requests)),
    ]


def _plural(amount: int, noun: str) -> str:
    return f"{amount} {noun}" + ("" if amount == 1 else "s")


async def channel_stats_message(
    session: AsyncSession, *, workspace_id: str, channel_id: str, now: datetime
) -> Message:
    periods = await channel_stats(session, workspace_id=workspace_id, channel_id=channel_id, now=now)
    return stats_message(channel_id, periods)

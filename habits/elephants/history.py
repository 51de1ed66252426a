"""`/whoelse elephant history`: this channel's last polls, their top elephants, how many took part and what the
round-table decided about each elephant.

Everything shown here was shown to the channel when each poll closed (or is a count): the texts are anonymous
already, and a poll that closed with too few people keeps its elephants hidden here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.elephants.messages import quoted, shortened
from habits.elephants.results import MIN_PARTICIPANTS, ranked_submissions
from habits.messages import Message, Paragraph
from habits.roundtables.outcomes import decisions_for_polls
from habits.time_words import describe_moment
from models.elephants import CLOSED, ElephantPoll

HISTORY_LENGTH = 5
TOP_ELEPHANTS = 3
# Each poll is one section of the reply; its elephants are cut to keep it well inside Slack's limits.
ELEPHANT_TEXT = 200


@dataclass(frozen=True)
class RankedElephant:
    text: str
    votes: int
    # What a round-table decided about it, once there is a record of that; shown after the elephant.
    decided: str | None = None


@dataclass(frozen=True)
class PastPoll:
    closed_at: datetime
    named: int
    # People who voted; None for polls closed before this was kept.
    voted: int | None
    # Different people who named or voted; None for polls closed before this was counted.
    took_part: int | None
    # Empty when too few took part for the elephants to be shown.
    top: list[RankedElephant] = field(default_factory=list)

    @property
    def results_shown(self) -> bool:
        return (self.took_part or 0) >= MIN_PARTICIPANTS


async def past_polls(
    session: AsyncSession, *, workspace_id: str, channel_id: str, limit: int = HISTORY_LENGTH
) -> list[PastPoll]:
    """The channel's last `limit` closed polls, newest first, with what a round-table decided about their elephants."""
    polls = await session.scalars(
        select(ElephantPoll)
        .where(
            ElephantPoll.workspace_id == workspace_id,
            ElephantPoll.channel_id == channel_id,
            ElephantPoll.phase == CLOSED,
        )
        .order_by(ElephantPoll.closed_at.desc(), ElephantPoll.id.desc())
        .limit(limit)
    )
    closed = list(polls)
    decided = await decisions_for_polls(session, workspace_id=workspace_id, poll_ids=[poll.id for poll in closed])
    history = []
    for poll in closed:
        ranked = await ranked_submissions(session, workspace_id=workspace_id, poll_id=poll.id)
        shown = (poll.participants or 0) >= MIN_PARTICIPANTS
        history.append(
            PastPoll(
                closed_at=poll.closed_at or poll.closes_at,
                named=len(ranked),
                voted=poll.voters,
                took_part=poll.participants,
                top=[
                    RankedElephant(text=text, votes=votes, decided=decided.get(poll.id, {}).get(text))
                    for text, votes in ranked[:TOP_ELEPHANTS]
                ]
                if shown
                else [],
            )
        )
    return history


def history_message(history: list[PastPoll], *, now: datetime, timezone: str) -> Message:
    if not history:
        return Message(text="No elephant poll has closed in this channel yet.")
    parts = [
        Paragraph(
            text=f":elephant: *The last {len(history)} elephant polls here*"
            if len(history) > 1
            else ":elephant: *The last elephant poll here*"
        )
    ]
    parts.extend(Paragraph(text=_poll_lines(poll, now=now, timezone=timezone)) for poll in history)
    summary = (
        f"The last {len(history)} elephant polls in this channel."
        if len(history) > 1
        else "The last elephant poll in this channel."
    )
    return Message(text=summary, parts=parts)


def _poll_lines(poll: PastPoll, *, now: datetime, timezone: str) -> str:
    turnout = [f"{_elephants(poll.named)} named"]
    if poll.voted is not None:
        turnout.append(f"{poll.voted} {'person' if poll.voted == 1 else 'people'} voted")
    if poll.took_part is not None:
        turnout.append(f"{poll.took_part} took part")
    heading = f"*Closed {describe_moment(poll.closed_at, now=now, timezone=timezone)}* — {', '.join(turnout)}"
    if not poll.results_shown:
        return f"{heading}\n_Too few took part for the elephants to be shown._"
    lines = [heading]
    for place, elephant in enumerate(poll.top, start=1):
        votes = f"{elephant.votes} vote{'' if elephant.votes == 1 else 's'}"
        line = f"{place}. {shortened(quoted(elephant.text), ELEPHANT_TEXT)} — {votes}"
        if elephant.decided is not None:
            line += f" — decided: {shortened(quoted(elephant.decided), ELEPHANT_TEXT)}"
        lines.append(line)
    if not poll.top:
        lines.append("_Nobody named an elephant._")
    return "\n".join(lines)


def _elephants(count: int) -> str:
    return f"{count} elephant{'' if count == 1 else 's'}"

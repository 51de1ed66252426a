"""What a sent naming form, ballot or approval ballot records: the same on Slack and Teams, whose edges only check
who sent it and say the outcome in their own way."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.elephants.messages import CHOICE_INPUT, TEXT_INPUT
from habits.elephants.overlap import approve_elephants
from habits.elephants.polls import SubmitOutcome, VoteOutcome, cast_vote, name_elephant
from habits.form_origin import SentForm

# A ballot sent with no elephant picked.
NOTHING_PICKED: Final = "nothing_picked"
BallotOutcome = VoteOutcome | Literal["nothing_picked"]


async def record_naming(
    sessions: async_sessionmaker[AsyncSession], form: SentForm, *, now: datetime
) -> SubmitOutcome:
    text = form.values.get(TEXT_INPUT)
    return await name_elephant(
        sessions,
        workspace_id=form.workspace_id,
        channel_id=form.channel_id,
        poll_id=form.subject_id,
        user_id=form.user_id,
        text=text if isinstance(text, str) else "",
        now=now,
    )


async def record_ballot(
    sessions: async_sessionmaker[AsyncSession], form: SentForm, *, now: datetime
) -> BallotOutcome:
    choice = form.values.get(CHOICE_INPUT)
    if not isinstance(choice, str) or not choice:
        return NOTHING_PICKED
    return await cast_vote(
        sessions,
        workspace_id=form.workspace_id,
        channel_id=form.channel_id,
        poll_id=form.subject_id,
        user_id=form.user_id,
        submission_id=choice,
        now=now,
    )


async def record_approval(
    sessions: async_sessionmaker[AsyncSession], form: SentForm, *, shown: list[str], now: datetime
) -> VoteOutcome:
    """An overlapping poll's ballot: `shown` are the elephants it listed, from the form's context."""
    ticked = form.values.get(CHOICE_INPUT)
    return await approve_elephants(
        sessions,
        workspace_id=form.workspace_id,
        channel_id=form.channel_id,
        poll_id=form.subject_id,
        user_id=form.user_id,
        chosen=[str(choice) for choice in ticked] if isinstance(ticked, list) else [],
        shown=shown,
        now=now,
    )

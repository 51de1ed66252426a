"""What clicking a poll's buttons opens: the naming form, a ballot, or a word on why neither."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from habits.elephants.messages import POLL_CLOSED, approval_form, ballot_form, info_form, submission_form
from habits.elephants.overlap import unjudged
from habits.elephants.polls import ballot, has_named, has_voted, naming_open, poll_over
from habits.form_origin import FormOrigin
from habits.messages import Dialog
from models.elephants import OVERLAP, ElephantPoll, poll_in_channel

FormWanted = Literal["name", "vote"]


async def form_for(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    poll_id: int,
    user_id: str,
    now: datetime,
    wanted: FormWanted | None = None,
) -> Dialog | None:
    """What clicking the poll's buttons opens: the naming form, the ballot, or a word on why neither.

    `wanted` is the button clicked; two-phase polls answer by their phase, whichever it was.
    None when the poll is not one of this channel's: the click is refused (`NOT_HERE`), and no form opens.
    """
    poll = await poll_in_channel(session, workspace_id=workspace_id, channel_id=channel_id, poll_id=poll_id)
    if poll is None:
        return None
    origin = FormOrigin(channel_id=channel_id, user_id=user_id, subject_id=poll.id)
    if poll_over(poll, now):
        return info_form(POLL_CLOSED)
    if poll.mode == OVERLAP:
        return await _overlap_form(session, poll, origin, wanted or "name")
    if naming_open(poll, now):
        if has_named(poll, user_id):
            return info_form(
                "You've already named this week's elephant — thank you. Voting opens when naming closes."
            )
        return submission_form(origin=origin)
    if has_voted(poll, user_id):
        return info_form("You've already voted in this poll — thank you. Results come when it closes.")
    choices = await ballot(session, workspace_id=workspace_id, poll_id=poll.id)
    if not choices:
        return info_form("Nobody named an elephant this time, so there is nothing to vote on.")
    return ballot_form(origin=origin, submissions=choices)


async def _overlap_form(
    session: AsyncSession, poll: ElephantPoll, origin: FormOrigin, wanted: FormWanted
) -> Dialog:
    if wanted == "name":
        if has_named(poll, origin.user_id):
            return info_form(
                "You've already named an elephant in this poll — thank you. You can still vote on the ones "
                "named so far."
            )
        return submission_form(origin=origin)
    shown = await unjudged(session, poll, origin.user_id)
    if not shown:
        if await ballot(session, workspace_id=poll.workspace_id, poll_id=poll.id):
            return info_form(
                "You've voted on every elephant named so far — thank you. If new ones are named, the poll "
                "says so and you can vote on them too."
            )
        return info_form("Nobody has named an elephant yet. Name one, or come back when the poll says so.")
    return approval_form(origin=origin, submissions=shown)

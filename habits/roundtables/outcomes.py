"""Outcomes per elephant: recorded from the notes form, shown in the debrief and in an elephant's history."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.roundtables.notes_form import MAX_ACTION_ITEMS, ActionItemEntry, OutcomeEntry, Recorded
from models.elephants import ElephantSubmission
from models.roundtable_outcomes import (
    RoundTableActionItem,
    RoundTableOutcome,
    action_items_of,
    outcomes_of,
)
from models.roundtables import RoundTableMeeting


async def recorded_for(session: AsyncSession, *, meeting: RoundTableMeeting) -> dict[str, Recorded]:
    """What the meeting's notes recorded so far, by elephant key."""
    outcomes = {
        outcome.submission_id: outcome
        for outcome in await outcomes_of(session, workspace_id=meeting.workspace_id, meeting_id=meeting.id)
    }
    items: dict[str, dict[int, ActionItemEntry]] = {}
    for item in await action_items_of(session, workspace_id=meeting.workspace_id, meeting_id=meeting.id):
        items.setdefault(item.submission_id, {})[item.position] = ActionItemEntry(
            text=item.text, owner_id=item.owner_id, due_on=item.due_on, position=item.position
        )
    recorded: dict[str, Recorded] = {}
    for key in outcomes.keys() | items.keys():
        outcome = outcomes.get(key)
        recorded[key] = Recorded(
            pain_point=outcome.pain_point if outcome else "",
            decision=outcome.decision if outcome else "",
            actions=items.get(key, {}),
        )
    return recorded


async def save_outcomes(
    session: AsyncSession,
    *,
    meeting: RoundTableMeeting,
    entries: Sequence[OutcomeEntry],
    recorded_by: str,
    now: datetime,
) -> None:
    """Records each elephant's outcome, replacing what an earlier save said; a cleared action item goes unless it
    was done already. A new due date or owner gets its own reminder."""
    workspace_id = meeting.workspace_id
    outcomes = {
        o.submission_id: o for o in await outcomes_of(session, workspace_id=workspace_id, meeting_id=meeting.id)
    }
    items = {
        (i.submission_id, i.position): i
        for i in await action_items_of(session, workspace_id=workspace_id, meeting_id=meeting.id)
    }
    for entry in entries:
        key = entry.elephant.submission_id
        outcome = outcomes.get(key)
        if entry.pain_point or entry.decision:
            if outcome is None:
                outcome = RoundTableOutcome(
                    workspace_id=workspace_id,
                    meeting_id=meeting.id,
                    poll_id=entry.elephant.poll_id,
                    submission_id=key,
                )
                session.add(outcome)
            outcome.pain_point = entry.pain_point
            outcome.decision = entry.decision
            outcome.recorded_by = recorded_by
            outcome.updated_at = now
        elif outcome is not None:
            await session.delete(outcome)
        actions = {action.position: action for action in entry.actions}
        for position in range(1, MAX_ACTION_ITEMS + 1):
            await _save_action_item(
                session,
                meeting=meeting,
                key=key,
                position=position,
                item=items.get((key, position)),
                action=actions.get(position),
                now=now,
            )
    await session.flush()


async def _save_action_item(
    session: AsyncSession,
    *,
    meeting: RoundTableMeeting,
    key: str,
    position: int,
    item: RoundTableActionItem | None,
    action: ActionItemEntry | None,
    now: datetime,
) -> None:
    if action is not None:
        if item is None:
            item = RoundTableActionItem(
                workspace_id=meeting.workspace_id,
                meeting_id=meeting.id,
                submission_id=key,
                position=position,
                created_at=now,
            )
            session.add(item)
        elif item.due_on != action.due_on or item.owner_id != action.owner_id:
            item.reminder_outbox_id = None
        item.text = action.text
        item.owner_id = action.owner_id
        item.due_on = action.due_on
    elif item is not None and item.done_at is None:
        await session.execute(
            delete(RoundTableActionItem).where(
                RoundTableActionItem.workspace_id == meeting.workspace_id, RoundTableActionItem.id == item.id
            )
        )


async def decisions_for_polls(
    session: AsyncSession, *, workspace_id: str, poll_ids: Collection[int]
) -> dict[int, dict[str, str]]:
    """{poll id: {elephant text: what was decided}} for the elephants of these polls a round-table decided on.

    For an elephant's history ("decided: …"); an elephant debated at two meetings shows the later decision.
    """
    if not poll_ids:
        return {}
    rows = await session.execute(
        select(RoundTableOutcome.poll_id, ElephantSubmission.text, RoundTableOutcome.decision)
        .join(ElephantSubmission, ElephantSubmission.id == RoundTableOutcome.submission_id)
        .where(
            RoundTableOutcome.workspace_id == workspace_id,
            ElephantSubmission.workspace_id == workspace_id,
            RoundTableOutcome.poll_id.in_(list(poll_ids)),
            RoundTableOutcome.decision != "",
        )
        .order_by(RoundTableOutcome.updated_at, RoundTableOutcome.id)
    )
    decided: dict[int, dict[str, str]] = {}
    for poll_id, text, decision in rows.all():
        decided.setdefault(poll_id, {})[text] = decision
    return decided

"""Events into the who-else habit the way the intake feeds them (bot/event_intake.py), without HTTP: stored unless the
sender's id was seen before, then decided on from what was stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from habits.events import BusinessEvent
from habits.nudging import NudgeResult, decide_stored_event, event_row
from models.db import insert_skipping_duplicates
from models.events import SENDERS_EVENT_KEY, ReceivedEvent, stored_event_id
from models.workspaces import get_or_create_workspace


async def receive_event(
    session: AsyncSession, *, workspace_id: str, event: BusinessEvent, now: datetime
) -> NudgeResult:
    await get_or_create_workspace(session, workspace_id=workspace_id)
    stored_id = await session.scalar(
        insert_skipping_duplicates(session, ReceivedEvent)
        .values(**event_row(workspace_id=workspace_id, event=event, now=now))
        .on_conflict_do_nothing(index_elements=SENDERS_EVENT_KEY)
        .returning(ReceivedEvent.id)
    )
    if stored_id is None:
        # The sender's retry, or a concurrent copy of the same delivery: the first one is decided already.
        first = await stored_event_id(
            session, workspace_id=workspace_id, source=event.source, external_id=event.external_id
        )
        return NudgeResult("duplicate_event", event_id=first)
    record = await session.get(ReceivedEvent, stored_id)
    assert record is not None
    return await decide_stored_event(session, record=record, now=now)

"""An action item's reminder answered on Teams: *Mark done* works for its owner only, in its own tenant."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from habits.roundtables.follow_up import DONE_BUTTON
from habits.roundtables.messages import COMING_BUTTON
from models.db import session_scope
from models.roundtable_outcomes import RoundTableActionItem
from tests.handlers.test_elephant_command import Clock
from tests.teams.activities import OTHER_TENANT, TENANT
from tests.teams.scenario import PEOPLE, Teams, button_value
from tests.teams.test_roundtables import click, post_reminder

REFUSED = "Only the owner of this action item can mark it done."


async def test_only_the_owner_marks_an_action_item_done_from_teams(tenant: Teams, clock: Clock) -> None:
    reminder = await post_reminder(tenant, clock)
    meeting_id = int(button_value(reminder, COMING_BUTTON))
    owner = PEOPLE["Omar Haddad"][0]
    async with session_scope(tenant.app.context.sessions) as session:
        item = RoundTableActionItem(
            workspace_id=TENANT,
            meeting_id=meeting_id,
            submission_id="5f0c6d0e-0000-4000-8000-000000000001",
            text="Add a context field to the handoff form",
            owner_id=owner,
            due_on=clock.now.date() + timedelta(days=3),
        )
        session.add(item)
        await session.flush()
        item_id = str(item.id)

    assert await click(tenant, DONE_BUTTON, item_id, "Lena Park") == REFUSED
    assert await click(tenant, DONE_BUTTON, item_id, "Omar Haddad", in_tenant=OTHER_TENANT) == REFUSED
    assert await click(tenant, DONE_BUTTON, "not-an-item", "Omar Haddad") == REFUSED
    async with session_scope(tenant.app.context.sessions) as session:
        assert (await session.scalar(select(RoundTableActionItem.done_at))) is None

    assert await click(tenant, DONE_BUTTON, item_id, "Omar Haddad") == "Thanks: marked done."
    assert await click(tenant, DONE_BUTTON, item_id, "Omar Haddad") == "This action item is already marked done."
    async with session_scope(tenant.app.context.sessions) as session:
        assert (await session.scalar(select(RoundTableActionItem.done_at))) is not None

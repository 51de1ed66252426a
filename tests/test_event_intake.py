"""Events are stored first and decided after: what a CRM sender and a channel notice when that goes wrong."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from bot.app import create_app
from bot.group_commit import GroupCommitter
from bot.settings import Settings
from habits.events import BusinessEvent
from habits.nudging import event_row
from models.db import session_scope
from models.events import ReceivedEvent
from models.watches import watch_channel
from models.workspaces import get_or_create_workspace
from tests.conftest import TEAM_ID, RunningApp, eventually, serving, unpaced
from tests.fakes.slack_api import FakeSlack

DEALS = "CDEALS"


def stage_change(number: int) -> BusinessEvent:
    return BusinessEvent(
        source="webhook",
        external_id=f"crm-evt-{number}",
        kind="deal",
        event="stage_changed",
        subject_id=f"https://crm.example.com/deals/{number}",
        title=f"Deal {number}",
        stage="Negotiation",
    )


@asynccontextmanager
async def whoelse(settings: Settings, *, background_workers: bool) -> AsyncIterator[RunningApp]:
    async with serving(
        create_app(settings, background_workers=background_workers, delivery_policy=unpaced())
    ) as running:
        async with session_scope(running.context.sessions) as session:
            workspace = await get_or_create_workspace(session, workspace_id=TEAM_ID)
            workspace.quiet_start = workspace.quiet_end = None
            await watch_channel(session, workspace_id=TEAM_ID, channel_id=DEALS, kind="deals", user_id="UA")
        yield running


async def outcomes(app: RunningApp) -> dict[str, str | None]:
    async with app.context.sessions() as session:
        rows = await session.execute(select(ReceivedEvent.external_id, ReceivedEvent.outcome))
        return {external_id: outcome for external_id, outcome in rows.all()}


async def test_events_stored_before_a_crash_are_decided_and_nudged_once_after_the_restart(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    # The process stops after acknowledging three events and before deciding any of them.
    async with whoelse(settings, background_workers=False) as first_run:
        for number in range(3):
            assert await first_run.intake.accept(workspace_id=TEAM_ID, event=stage_change(number))
        assert set((await outcomes(first_run)).values()) == {None}

    async with whoelse(settings, background_workers=True) as second_run:

        async def all_posted() -> bool:
            return len(fake_slack.messages(DEALS)) == 3

        await eventually(all_posted)
        assert set((await outcomes(second_run)).values()) == {"nudged"}
        # Another pass finds nothing left to do: a restart never decides (or posts) an event twice.
        assert await second_run.intake.decide_pending() == 0
        await asyncio.sleep(0.3)

    posted = [message["text"] for message in fake_slack.messages(DEALS)]
    assert [sum(f"Deal {number}" in text for text in posted) for number in range(3)] == [1, 1, 1]


async def test_a_stored_event_that_cannot_be_read_is_marked_and_does_not_hold_back_the_next_one(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    async with whoelse(settings, background_workers=False) as app:
        intake = app.intake
        # Written by a release that stored events differently, say: a kind of event this one does not know.
        unreadable = event_row(workspace_id=TEAM_ID, event=stage_change(1), now=datetime.now(UTC))
        unreadable["kind"] = "invoice"
        async with session_scope(app.context.sessions) as session:
            session.add(ReceivedEvent(**unreadable))
        await intake.accept(workspace_id=TEAM_ID, event=stage_change(2))

        await intake.drain()

        assert await outcomes(app) == {"crm-evt-1": "error", "crm-evt-2": "nudged"}
        await app.context.delivery.drain()
        assert len(fake_slack.messages(DEALS)) == 1


async def test_an_event_stored_by_an_earlier_release_with_its_whole_payload_is_nudged_the_same(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    async with whoelse(settings, background_workers=False) as app:
        # Earlier releases kept the whole event in `payload` as well as in the columns; this one keeps only what has
        # no column (the thread of a bot post), and reads the rest from the columns.
        bot_post = stage_change(1).model_copy(update={"channel": DEALS, "thread_ts": "1700000000.000100"})
        earlier = event_row(workspace_id=TEAM_ID, event=bot_post, now=datetime.now(UTC))
        earlier["payload"] = bot_post.model_dump(mode="json")
        async with session_scope(app.context.sessions) as session:
            session.add(ReceivedEvent(**earlier))
        await app.intake.accept(workspace_id=TEAM_ID, event=bot_post.model_copy(update={"external_id": "new"}))

        await app.intake.drain()
        await app.context.delivery.drain()

        assert await outcomes(app) == {"crm-evt-1": "nudged", "new": "duplicate_juncture"}
        [nudge] = fake_slack.messages(DEALS)
        assert nudge["thread_ts"] == "1700000000.000100"
        assert "Deal 1" in nudge["text"] and "Negotiation" in nudge["text"]


async def test_only_what_has_no_column_of_its_own_is_kept_in_the_payload(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    async with whoelse(settings, background_workers=False) as app:
        in_thread = stage_change(2).model_copy(update={"thread_ts": "1700000000.000200"})
        await app.intake.accept(workspace_id=TEAM_ID, event=stage_change(1))
        await app.intake.accept(workspace_id=TEAM_ID, event=in_thread)

        async with app.context.sessions() as session:
            rows = await session.execute(select(ReceivedEvent.external_id, ReceivedEvent.payload))
            payloads = {external_id: payload for external_id, payload in rows}

        assert payloads == {"crm-evt-1": {}, "crm-evt-2": {"thread_ts": "1700000000.000200"}}


async def test_the_same_event_accepted_concurrently_is_stored_once(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    async with whoelse(settings, background_workers=False) as app:
        intake = app.intake

        ids = await asyncio.gather(
            *(intake.accept(workspace_id=TEAM_ID, event=stage_change(number % 2)) for number in range(10))
        )

        assert len([event_id for event_id in ids if event_id is not None]) == 2
        assert set(await outcomes(app)) == {"crm-evt-0", "crm-evt-1"}


async def test_a_burst_right_after_a_start_looks_the_workspace_up_once(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    # After a restart Slack delivers what queued up meanwhile all at once; on SQLite's single connection, one
    # workspace lookup per event made the last events of a large burst time out waiting, and those were lost.
    async with whoelse(settings, background_workers=False) as app:
        statements: list[str] = []
        event.listen(
            app.context.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2])
        )

        ids = await asyncio.gather(
            *(app.intake.accept(workspace_id=TEAM_ID, event=stage_change(number)) for number in range(50))
        )

        assert None not in ids
        assert len([sql for sql in statements if "FROM workspaces" in sql]) == 1
        assert len(await outcomes(app)) == 50


async def test_an_event_the_database_keeps_refusing_is_given_up_on_after_a_few_tries(
    settings: Settings, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    attempts = 2
    async with whoelse(settings, background_workers=False) as app:
        intake = app.intake
        intake.max_database_attempts = attempts
        await intake.accept(workspace_id=TEAM_ID, event=stage_change(1))
        async with app.context.engine.begin() as connection:
            await connection.exec_driver_sql("ALTER TABLE nudges RENAME TO nudges_offline")
        try:
            decided = [await intake.decide_pending() for _ in range(attempts)]
        finally:
            async with app.context.engine.begin() as connection:
                await connection.exec_driver_sql("ALTER TABLE nudges_offline RENAME TO nudges")

        # Kept for another try while the database might recover, then marked so it stops blocking the queue.
        assert decided == [0, 1]
        assert await outcomes(app) == {"crm-evt-1": "error"}
        assert any("giving up" in record.getMessage() for record in caplog.records)


async def test_under_sustained_load_deciding_yields_to_waiting_senders_but_keeps_going(
    settings: Settings, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with whoelse(settings, background_workers=False) as app:
        intake = app.intake
        intake.max_deferral_seconds = 0.2
        await intake.accept(workspace_id=TEAM_ID, event=stage_change(1))
        # Senders always waiting for their writes, as under a flood of webhooks.
        monkeypatch.setattr(GroupCommitter, "idle", property(lambda _committer: False))
        loop = asyncio.get_running_loop()

        started = loop.time()
        assert await intake.decide_pending() == 1
        waited = loop.time() - started

        assert 0.2 <= waited < 2
        assert await outcomes(app) == {"crm-evt-1": "nudged"}

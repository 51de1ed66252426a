"""Group commit: webhooks arriving together share one write, and each still gets its own honest answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.group_commit import EngineWriter, GroupCommitter, SQLiteFileWriter
from habits.events import BusinessEvent
from habits.nudging import event_row
from models.db import create_engine_for, create_session_factory, session_scope
from models.events import SENDERS_EVENT_KEY, ReceivedEvent
from models.workspaces import get_or_create_workspace
from tests.conftest import TEAM_ID, eventually


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for(database_url)
    async with session_scope(create_session_factory(engine)) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
    yield engine
    await engine.dispose()


EVENTS: Table = ReceivedEvent.__table__  # type: ignore[assignment]


@pytest.fixture
async def writer(engine: AsyncEngine) -> AsyncIterator[GroupCommitter]:
    committer = GroupCommitter(engine, EVENTS, SENDERS_EVENT_KEY)
    yield committer
    await committer.close()


def row(external_id: str) -> dict[str, Any]:
    event = BusinessEvent(
        source="webhook", external_id=external_id, kind="deal", event="created", subject_id="d", title="Deal"
    )
    return event_row(workspace_id=TEAM_ID, event=event, now=datetime.now(UTC))


async def stored(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(ReceivedEvent)) or 0)


async def test_many_requests_at_once_are_written_in_a_few_commits_and_each_gets_its_own_id(
    engine: AsyncEngine, writer: GroupCommitter
) -> None:
    ids = await asyncio.gather(*(writer.insert(row(f"evt-{n}")) for n in range(100)))

    assert len(set(ids)) == 100 and None not in ids
    assert await stored(engine) == 100
    assert 1 <= writer.writes <= 10


async def test_a_repeat_in_the_same_batch_or_a_later_one_is_a_duplicate(
    engine: AsyncEngine, writer: GroupCommitter
) -> None:
    together = await asyncio.gather(writer.insert(row("evt-1")), writer.insert(row("evt-1")))
    later = await writer.insert(row("evt-1"))

    assert together[0] is not None and together[1] is None
    assert later is None
    assert await stored(engine) == 1


async def test_when_a_write_fails_every_request_in_it_hears_so_and_the_next_write_works(
    engine: AsyncEngine, writer: GroupCommitter
) -> None:
    broken = row("evt-broken") | {"workspace_id": None}

    results = await asyncio.gather(writer.insert(row("evt-1")), writer.insert(broken), return_exceptions=True)

    assert all(isinstance(result, Exception) for result in results)
    assert await stored(engine) == 0
    assert await writer.insert(row("evt-1")) is not None
    assert await stored(engine) == 1


async def test_idle_means_every_waiting_request_has_its_answer(writer: GroupCommitter) -> None:
    assert writer.idle

    inserts = [asyncio.create_task(writer.insert(row(f"evt-{n}"))) for n in range(50)]
    await asyncio.sleep(0)
    assert not writer.idle

    await eventually(lambda: writer.idle)
    # Every answer is given by then; each waiting request picks its answer up on the loop's next pass.
    await asyncio.sleep(0)
    assert all(insert.done() for insert in inserts)


async def test_through_the_engine_too_a_batch_gets_ids_and_repeats_are_duplicates(engine: AsyncEngine) -> None:
    """The path for PostgreSQL and in-memory SQLite, run here on whichever database this test runs on."""
    batches = EngineWriter(engine, EVENTS, SENDERS_EVENT_KEY)

    first = await batches.write([row("evt-1"), row("evt-2")])
    again = await batches.write([row("evt-2"), row("evt-3")])
    await batches.close()

    assert set(first) == {(TEAM_ID, "webhook", "evt-1"), (TEAM_ID, "webhook", "evt-2")}
    assert set(again) == {(TEAM_ID, "webhook", "evt-3")}
    assert await stored(engine) == 3


@asynccontextmanager
async def write_lock_held_elsewhere(engine: AsyncEngine) -> AsyncIterator[None]:
    """Another connection in the middle of a write transaction, as the rules deciding an event would be."""
    async with engine.connect() as connection:
        # Transactions on the app's SQLite connections begin IMMEDIATE (models/db.py): the write lock, up front.
        transaction = await connection.begin()
        try:
            yield
        finally:
            await transaction.rollback()


async def test_on_sqlite_a_batch_waits_for_another_writer_without_stalling_the_app(
    engine: AsyncEngine, writer: GroupCommitter
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single write lock")
    loop = asyncio.get_running_loop()
    longest_gap = 0.0

    async def heartbeat() -> None:
        nonlocal longest_gap
        while True:
            before = loop.time()
            await asyncio.sleep(0.005)
            longest_gap = max(longest_gap, loop.time() - before)

    beating = asyncio.create_task(heartbeat())
    async with write_lock_held_elsewhere(engine):
        waiting = asyncio.create_task(writer.insert(row("evt-1")))
        await asyncio.sleep(0.3)
        assert not waiting.done()
    assert await asyncio.wait_for(waiting, timeout=5) is not None
    beating.cancel()

    # A loop blocked on the lock would stall until the holder gave it up (0.3 s, or SQLite's busy timeout); a busy
    # machine alone delays a 5 ms sleep by far less than that.
    assert longest_gap < 0.25
    assert await stored(engine) == 1


async def test_on_sqlite_a_batch_that_cannot_get_the_write_lock_in_time_fails_and_stores_nothing(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single write lock")
    impatient = SQLiteFileWriter(engine, EVENTS, SENDERS_EVENT_KEY, lock_wait_seconds=0.05)

    async with write_lock_held_elsewhere(engine):
        with pytest.raises(DBAPIError, match="locked"):
            await impatient.write([row("evt-1")])
    await impatient.close()

    assert await stored(engine) == 0


async def test_an_event_stored_on_the_stroke_of_a_second_is_found_by_a_query_from_that_second(
    engine: AsyncEngine, writer: GroupCommitter
) -> None:
    on_the_second = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)
    await writer.insert(row("evt-1") | {"received_at": on_the_second})

    async with engine.connect() as connection:
        found = await connection.scalar(
            select(func.count()).select_from(ReceivedEvent).where(ReceivedEvent.received_at >= on_the_second)
        )

    assert found == 1

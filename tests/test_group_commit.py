"""Group commit: webhooks arriving together share one write, and each still gets its own honest answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.group_commit import GroupCommitter
from habits.events import BusinessEvent
from habits.nudging import event_row
from models.db import create_engine_for, create_session_factory, session_scope
from models.events import ReceivedEvent
from models.workspaces import get_or_create_workspace
from tests.conftest import TEAM_ID, eventually


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for(database_url)
    async with session_scope(create_session_factory(engine)) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
    yield engine
    await engine.dispose()


def committer(engine: AsyncEngine) -> GroupCommitter:
    table: Table = ReceivedEvent.__table__  # type: ignore[assignment]
    return GroupCommitter(engine, table, ("workspace_id", "source", "external_id"))


def row(external_id: str) -> dict[str, Any]:
    event = BusinessEvent(
        source="webhook", external_id=external_id, kind="deal", event="created", subject_id="d", title="Deal"
    )
    return event_row(workspace_id=TEAM_ID, event=event, now=datetime.now(UTC))


async def stored(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(ReceivedEvent)) or 0)


async def test_many_requests_at_once_are_written_in_a_few_commits_and_each_gets_its_own_id(
    engine: AsyncEngine,
) -> None:
    writer = committer(engine)

    ids = await asyncio.gather(*(writer.insert(row(f"evt-{n}")) for n in range(100)))

    assert len(set(ids)) == 100 and None not in ids
    assert await stored(engine) == 100
    assert 1 <= writer.writes <= 10


async def test_a_repeat_in_the_same_batch_or_a_later_one_is_a_duplicate(engine: AsyncEngine) -> None:
    writer = committer(engine)

    together = await asyncio.gather(writer.insert(row("evt-1")), writer.insert(row("evt-1")))
    later = await writer.insert(row("evt-1"))

    assert together[0] is not None and together[1] is None
    assert later is None
    assert await stored(engine) == 1


async def test_when_a_write_fails_every_request_in_it_hears_so_and_the_next_write_works(
    engine: AsyncEngine,
) -> None:
    writer = committer(engine)
    broken = row("evt-broken") | {"workspace_id": None}

    results = await asyncio.gather(writer.insert(row("evt-1")), writer.insert(broken), return_exceptions=True)

    assert all(isinstance(result, Exception) for result in results)
    assert await stored(engine) == 0
    assert await writer.insert(row("evt-1")) is not None
    assert await stored(engine) == 1


async def test_idle_means_every_waiting_request_has_its_answer(engine: AsyncEngine) -> None:
    writer = committer(engine)
    assert writer.idle

    inserts = [asyncio.create_task(writer.insert(row(f"evt-{n}"))) for n in range(50)]
    await asyncio.sleep(0)
    assert not writer.idle

    await eventually(lambda: writer.idle)
    assert all(insert.done() for insert in inserts)

"""The bot asks "does this channel watch deals or tickets?" for every bot post; the answer is remembered briefly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.watch_cache import WatchedChannels
from models.db import session_scope
from models.watches import unwatch_channel, watch_channel
from models.workspaces import get_or_create_workspace
from tests.conftest import TEAM_ID


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def deals_channel_cache(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[WatchedChannels, Clock, list[str]]:
    """A channel watching deals, a cache with a 10 s TTL on a clock the test moves, and every SQL statement run."""
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
        await watch_channel(session, workspace_id=TEAM_ID, channel_id="CDEALS", kind="deals", user_id="U1")
    clock = Clock()
    reads: list[str] = []
    event.listen(sessions.kw["bind"].sync_engine, "before_cursor_execute", lambda *args: reads.append(args[2]))
    return WatchedChannels(sessions, ttl_seconds=10, clock=clock), clock, reads


async def test_a_burst_of_posts_reads_the_database_once_and_a_change_elsewhere_is_seen_after_the_ttl(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cache, clock, reads = await deals_channel_cache(sessions)

    for _ in range(20):
        assert await cache.kinds(workspace_id=TEAM_ID, channel_id="CDEALS") == {"deals"}
    watch_queries = [sql for sql in reads if "channel_watches" in sql]
    assert len(watch_queries) == 1

    # Another replica stops watching: this one keeps its answer until the TTL runs out, then reads again.
    async with session_scope(sessions) as session:
        await unwatch_channel(session, workspace_id=TEAM_ID, channel_id="CDEALS", kind="deals")
    clock.now += 9
    assert await cache.kinds(workspace_id=TEAM_ID, channel_id="CDEALS") == {"deals"}
    clock.now += 2
    assert await cache.kinds(workspace_id=TEAM_ID, channel_id="CDEALS") == frozenset()


async def test_forgetting_a_channel_reads_it_again_at_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
    cache = WatchedChannels(sessions, clock=Clock())
    assert await cache.kinds(workspace_id=TEAM_ID, channel_id="CDEALS") == frozenset()
    async with session_scope(sessions) as session:
        await watch_channel(session, workspace_id=TEAM_ID, channel_id="CDEALS", kind="tickets", user_id="U1")

    cache.forget(workspace_id=TEAM_ID, channel_id="CDEALS")

    assert await cache.kinds(workspace_id=TEAM_ID, channel_id="CDEALS") == {"tickets"}


async def test_workspaces_are_kept_apart(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with session_scope(sessions) as session:
        for workspace in (TEAM_ID, "T0OTHER"):
            await get_or_create_workspace(session, workspace_id=workspace)
        await watch_channel(session, workspace_id=TEAM_ID, channel_id="CDEALS", kind="deals", user_id="U1")
    cache = WatchedChannels(sessions, clock=Clock())

    assert await cache.kinds(workspace_id=TEAM_ID, channel_id="CDEALS") == {"deals"}
    assert await cache.kinds(workspace_id="T0OTHER", channel_id="CDEALS") == frozenset()


async def test_posts_arriving_together_after_the_answer_expired_share_one_read(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cache, clock, reads = await deals_channel_cache(sessions)

    first_burst = await asyncio.gather(
        *(cache.kinds(workspace_id=TEAM_ID, channel_id="CDEALS") for _ in range(50))
    )
    clock.now += 11
    second_burst = await asyncio.gather(
        *(cache.kinds(workspace_id=TEAM_ID, channel_id="CDEALS") for _ in range(50))
    )

    assert set(first_burst) == set(second_burst) == {frozenset({"deals"})}
    assert len([sql for sql in reads if "channel_watches" in sql]) == 2


class HeldSessions:
    """Sessions that close only once `release` is set: a read is done but not over for as long as the test needs."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.release = asyncio.Event()

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session
        await self.release.wait()


async def test_a_read_that_began_before_a_change_here_is_not_remembered_after_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
    held = HeldSessions(sessions)
    cache = WatchedChannels(held, clock=Clock())  # type: ignore[arg-type]
    before_the_change = asyncio.create_task(cache.kinds(workspace_id=TEAM_ID, channel_id="CDEALS"))
    await asyncio.sleep(0.05)

    async with session_scope(sessions) as session:
        await watch_channel(session, workspace_id=TEAM_ID, channel_id="CDEALS", kind="deals", user_id="U1")
    cache.forget(workspace_id=TEAM_ID, channel_id="CDEALS")
    held.release.set()
    await before_the_change

    assert await cache.kinds(workspace_id=TEAM_ID, channel_id="CDEALS") == {"deals"}

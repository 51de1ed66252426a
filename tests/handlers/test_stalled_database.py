"""A database that stops answering: `/healthz` says so within a second, and webhooks are refused for a retry within
their store deadline instead of hanging; once it answers again, nothing is lost and nothing is stored twice."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, make_url, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.settings import Settings
from models.db import create_engine_for
from models.events import ReceivedEvent
from tests.conftest import RunningApp, eventually, serving
from tests.handlers.test_webhooks import deal_event, send
from tests.support.stalling_proxy import StallingProxy

STORE_DEADLINE = 2.0
# Longer than any answer the app should give, so a test that would hang fails instead.
GIVE_UP = 8.0


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[StallingProxy]:
    target = make_url(database_url)
    stalling = StallingProxy(target.host or "127.0.0.1", target.port or 5432)
    await stalling.start()
    yield stalling
    await stalling.close()


async def timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    """The answer and how long it took; a request still unanswered after GIVE_UP fails the test."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await asyncio.wait_for(request, timeout=GIVE_UP)
    return response, loop.time() - started


async def stored(sessions: async_sessionmaker[AsyncSession], external_id: str) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(ReceivedEvent).where(ReceivedEvent.external_id == external_id)
        )
        return int(found or 0)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_while_postgresql_stalls_health_and_webhooks_answer_503_quickly_and_recover_after(
    settings: Settings, proxy: StallingProxy, sessions: async_sessionmaker[AsyncSession]
) -> None:
    through_proxy = make_url(settings.database_url).set(host="127.0.0.1", port=proxy.port)
    settings = settings.model_copy(
        update={
            "database_url": through_proxy.render_as_string(hide_password=False),
            "database_connect_timeout_seconds": 2.0,
            "webhook_store_timeout_seconds": STORE_DEADLINE,
        }
    )
    async with serving(create_app(settings, background_workers=False)) as app:
        assert (await app.http.get("/healthz")).status_code == 200
        assert (await send(app, deal_event(id="before"))).status_code == 202

        proxy.stall()
        health, health_took = await timed(app.http.get("/healthz"))
        refused, refused_took = await timed(send(app, deal_event(id="during")))
        again, again_took = await timed(app.http.get("/healthz"))

        assert (health.status_code, again.status_code) == (503, 503)
        assert health_took < 1.5 and again_took < 1.5, (health_took, again_took)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"].isdigit()
        assert refused_took < STORE_DEADLINE + 1.0, refused_took

        proxy.resume()
        await eventually(healthy(app), within=GIVE_UP)
        retried, _ = await timed(send(app, deal_event(id="during")))
        assert retried.status_code in (200, 202), retried.text

    assert await stored(sessions, "during") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_while_sqlite_is_locked_a_webhook_is_refused_within_its_deadline_and_its_retry_is_stored_once(
    settings: Settings, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = settings.model_copy(update={"webhook_store_timeout_seconds": STORE_DEADLINE})
    async with serving(create_app(settings, background_workers=False)) as app:
        assert (await send(app, deal_event(id="before"))).status_code == 202

        # Another process holds SQLite's write lock (a long migration, a backup tool).
        locker = sqlite3.connect(str(make_url(database_url).database), isolation_level=None)
        try:
            locker.execute("BEGIN IMMEDIATE")
            refused, took = await timed(send(app, deal_event(id="during")))
        finally:
            locker.execute("ROLLBACK")
            locker.close()

        assert refused.status_code == 503
        assert refused.headers["Retry-After"].isdigit()
        assert took < STORE_DEADLINE + 1.0, took
        retried, _ = await timed(send(app, deal_event(id="during")))
        assert retried.status_code in (200, 202), retried.text

    assert await stored(sessions, "during") == 1


def healthy(app: RunningApp) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await app.http.get("/healthz")).status_code == 200

    return check


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_on_postgresql_connecting_and_each_statement_give_up_after_their_timeouts(
    database_url: str, proxy: StallingProxy
) -> None:
    loop = asyncio.get_running_loop()
    engine = create_engine_for(database_url, statement_timeout_seconds=0.5)
    try:
        started = loop.time()
        with pytest.raises(OperationalError, match="statement timeout"):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT pg_sleep(5)"))
        assert loop.time() - started < 2.0
    finally:
        await engine.dispose()

    stalled = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    engine = create_engine_for(stalled.render_as_string(hide_password=False), connect_timeout_seconds=2.0)
    proxy.stall()
    try:
        started = loop.time()
        with pytest.raises(OperationalError):
            await asyncio.wait_for(engine.connect(), timeout=GIVE_UP)
        assert loop.time() - started < 4.0
    finally:
        proxy.resume()
        await engine.dispose()

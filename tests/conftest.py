"""Shared fixtures: both databases, the fake Slack Web API, and the real app wired to them."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.context import AppContext
from bot.delivery import DeliveryPolicy
from bot.event_intake import EventIntake
from bot.settings import Settings
from models.db import create_engine_for, create_session_factory
from tests.fakes.slack_api import FakeSlack
from tests.support import databases
from tests.support.signing import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET

TEAM_ID = "T0001"
REQUIRE_POSTGRES = os.environ.get("WHOELSE_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    if not databases.postgres_reachable():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable at {databases.POSTGRES_ADMIN_URL}")
        yield None
        return
    url = databases.create_postgres_database()
    yield url
    databases.drop_postgres_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path, postgres_url: str | None
) -> str:
    """Every test that takes this runs twice: on SQLite, and on PostgreSQL when it is reachable."""
    if request.param == "sqlite":
        return databases.sqlite_copy(sqlite_template, tmp_path)
    if postgres_url is None:
        pytest.skip("PostgreSQL is not reachable")
    databases.empty_postgres_database(postgres_url)
    return postgres_url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine_for(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM_ID)
    slack.start()
    yield slack
    slack.stop()


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.base_url,
        database_url=database_url,
        whoelse_webhook_secret=WEBHOOK_SECRET,
        delivery_poll_seconds=0.05,
    )


class RunningApp:
    """The real FastAPI app with its lifespan running, reached in-process over ASGI."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.http = client

    @property
    def context(self) -> AppContext:
        context: AppContext = self.app.state.context
        return context

    @property
    def intake(self) -> EventIntake:
        assert self.context.intake is not None
        return self.context.intake

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post(path, content=body, headers=headers)


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[RunningApp]:
    """The app with its lifespan running (and with it whatever background work it was built with)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://whoelse.test") as client:
            yield RunningApp(app, client)


def unpaced() -> DeliveryPolicy:
    """Delivery without Slack's pacing of one message a second per channel, for scenarios that are not about it.

    A scenario posts several messages to one channel (a nudge and its replies, a poll and its results) and would
    sit out each second for real. The pacing itself is specified in tests/delivery, with a clock moved by hand
    and, for the app as started, against a fake Slack that refuses a faster second post.
    """
    return DeliveryPolicy(channel_interval=timedelta(0))


@pytest.fixture
async def running_app(settings: Settings) -> AsyncIterator[RunningApp]:
    async with serving(create_app(settings, delivery_policy=unpaced())) as app:
        yield app


async def eventually(
    condition: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    within: float = 20.0,
    interval: float = 0.02,
) -> None:
    """Waits for something the bot does after acknowledging (Slack expects an answer within 3 seconds).

    The wait is generous because it is not what is measured: a test fails only when the thing never happens, and on
    a loaded CI machine background work can take many times its usual few milliseconds (speed is measured in
    bench/).
    """
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result: Any = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met within timeout")
        await asyncio.sleep(interval)

"""`GET /readyz` tells a load balancer whether this replica can do its work (`/healthz` only whether it lives),
and the API's own description is not served to strangers unless asked for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from bot.app import create_app
from bot.schema import head_revisions
from bot.settings import Settings
from models.db import create_engine_for
from scheduler.service import SchedulerService
from tests.conftest import RunningApp, eventually, serving
from tests.fakes.slack_api import FakeSlack
from tests.support.signing import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    async with serving(create_app(settings, job_sources=[])) as running:
        yield running


async def readiness(app: RunningApp) -> tuple[int, dict[str, str]]:
    response = await app.http.get("/readyz")
    return response.status_code, response.json()


async def test_a_replica_with_everything_running_is_ready(app: RunningApp) -> None:
    status, body = await readiness(app)

    assert status == 200
    assert body["status"] == "ready"
    assert (body["schema"], body["delivery"], body["event-intake"]) == ("current", "running", "running")
    # SQLite leads at once; on PostgreSQL a replica may still be standing by, which is ready too.
    assert body["scheduler"] in {"leader", "standby"}


@contextlib.asynccontextmanager
async def schema_at(app: RunningApp, revision: str) -> AsyncIterator[None]:
    """The database says it is at `revision` for a while (as after a deploy that skipped `whoelse db upgrade`)."""
    (head,) = head_revisions()
    async with app.context.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    try:
        yield
    finally:
        async with app.context.engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})


async def test_a_schema_behind_the_code_is_not_ready_and_says_to_upgrade(app: RunningApp) -> None:
    async with schema_at(app, "0007_outbox_first_attempt"):
        status, body = await readiness(app)

    assert status == 503
    assert body["status"] == "not ready"
    assert "behind" in body["schema"] and "whoelse db upgrade" in body["schema"]
    # What is ready is still said to be.
    assert body["delivery"] == "running"
    assert (await readiness(app))[0] == 200


async def test_a_schema_from_a_newer_whoelse_is_not_ready(app: RunningApp) -> None:
    async with schema_at(app, "0099_from_the_future"):
        status, body = await readiness(app)

    assert status == 503
    assert "0099_from_the_future" in body["schema"] and "newer whoelse" in body["schema"]


async def test_an_unreachable_database_is_not_ready(app: RunningApp) -> None:
    context = app.context
    if context.settings.is_sqlite:
        unreachable = context.engine.url.set(database="/nonexistent/directory/whoelse.db")
    else:
        unreachable = context.engine.url.set(port=1)
    healthy_engine = context.engine
    context.engine = create_engine_for(unreachable.render_as_string(hide_password=False))
    try:
        status, body = await readiness(app)
    finally:
        await context.engine.dispose()
        context.engine = healthy_engine

    assert status == 503
    assert body["schema"] == "database unreachable"


async def test_a_replica_whose_delivery_worker_has_stopped_is_not_ready(app: RunningApp) -> None:
    delivery: asyncio.Task[None] = app.app.state.workers["delivery"]
    delivery.cancel()
    await asyncio.gather(delivery, return_exceptions=True)

    status, body = await readiness(app)

    assert status == 503
    assert body["delivery"] == "not running"
    assert body["event-intake"] == "running"


async def test_a_replica_running_no_background_work_is_not_ready(settings: Settings) -> None:
    async with serving(create_app(settings, job_sources=[], background_workers=False)) as app:
        status, body = await readiness(app)

    assert status == 503
    assert (body["delivery"], body["event-intake"]) == ("not running", "not running")


async def test_a_leader_whose_scheduler_has_stopped_is_not_ready(app: RunningApp) -> None:
    service: SchedulerService = app.app.state.scheduler
    await eventually(lambda: service.is_leader)
    assert service.scheduler is not None
    # Stopped under it, as a crashed scheduler thread would leave it.
    await asyncio.to_thread(service.scheduler.shutdown, wait=True)

    status, body = await readiness(app)

    assert status == 503
    assert body["scheduler"] == "leader, but not running"


async def test_a_replica_with_the_scheduler_off_is_ready_without_it(settings: Settings) -> None:
    off = settings.model_copy(update={"scheduler": "off"})
    async with serving(create_app(off, job_sources=[])) as app:
        status, body = await readiness(app)

    assert status == 200
    assert body["scheduler"] == "off"


# ------------------------------------------------------------------------------------------------- API docs


API_DOCS = ("/docs", "/redoc", "/openapi.json")


async def test_the_api_docs_are_not_served_by_default(app: RunningApp) -> None:
    for path in API_DOCS:
        assert (await app.http.get(path)).status_code == 404, path


async def test_expose_api_docs_serves_them(
    database_url: str, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPOSE_API_DOCS", "true")
    settings = Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.base_url,
        database_url=database_url,
    )
    async with serving(create_app(settings, job_sources=[])) as app:
        for path in API_DOCS:
            assert (await app.http.get(path)).status_code == 200, path
        described = (await app.http.get("/openapi.json")).json()
    assert "/readyz" in described["paths"]

"""A Teams-only whoelse (no Slack settings at all) whose tokens are checked against the fake Microsoft login."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import RunningApp, serving
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.handlers.test_elephant_command import Clock
from tests.support import databases
from tests.support.teams import APP_ID
from tests.teams.activities import TENANT, bot_added
from tests.teams.scenario import PEOPLE, Teams, running_connector, send, serving_teams


@pytest.fixture
def microsoft_login() -> Iterator[FakeMicrosoftLogin]:
    with FakeMicrosoftLogin() as login:
        yield login


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    # The front door does not touch the database: one database is enough for these tests.
    return databases.sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def teams_settings(sqlite_url: str, microsoft_login: FakeMicrosoftLogin) -> Settings:
    return Settings(
        _env_file=None,
        teams_app_id=APP_ID,
        teams_openid_metadata_url=microsoft_login.metadata_url,
        database_url=sqlite_url,
        delivery_poll_seconds=0.05,
    )


@pytest.fixture
async def teams_app(teams_settings: Settings) -> AsyncIterator[RunningApp]:
    async with serving(create_app(teams_settings, background_workers=False)) as app:
        yield app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot_connector() -> Iterator[FakeBotConnector]:
    with running_connector() as fake:
        yield fake


@pytest.fixture
async def tenant(
    settings: Settings, bot_connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin, clock: Clock
) -> AsyncIterator[Teams]:
    """whoelse added to a channel of a Teams tenant (Slack on too), with time and delivery moved by hand."""
    async with serving_teams(settings, bot_connector, microsoft_login, clock) as app:
        await send(app, microsoft_login, bot_connector, bot_added(bot_connector.service_url))
        yield Teams(app, microsoft_login, bot_connector)


@pytest.fixture
async def teams_with_admins(
    settings: Settings, bot_connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin, clock: Clock
) -> AsyncIterator[Teams]:
    """Jane and Lena are named admins (Lena shown in some tests as a guest); Omar is a member."""
    for name, (object_id, _) in PEOPLE.items():
        bot_connector.add_member(object_id, name, aadObjectId=object_id, tenantId=TENANT, userRole="user")
    jane, lena = PEOPLE["Jane Doe"][0], PEOPLE["Lena Park"][0]
    # Written as people copy them from Entra ID: upper case, with spaces after the commas.
    with_admins = settings.model_copy(update={"teams_admins": f"{jane.upper()}, {lena}"})
    async with serving_teams(with_admins, bot_connector, microsoft_login, clock) as app:
        await send(app, microsoft_login, bot_connector, bot_added(bot_connector.service_url))
        yield Teams(app, microsoft_login, bot_connector)

"""A Teams-only whoelse (no Slack settings at all) whose tokens are checked against the fake Microsoft login."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import RunningApp, serving
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.support import databases
from tests.support.teams import APP_ID


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

"""The `whoelse` command as a newcomer meets it: every misconfiguration is one line naming what to change."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from models.db import sync_url
from tests.conftest import serving
from tests.fakes.slack_api import FakeSlack
from tests.support import databases
from tests.support.signing import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment in an empty directory (no `.env`), as on a newcomer's first run."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    error = capsys.readouterr().err
    assert "Traceback" not in error
    assert len(error.strip().splitlines()) == 1, error
    return error


def as_written_by_hand(database_url: str) -> str:
    """The plain form people copy from their host: no driver named."""
    return database_url.replace("sqlite+aiosqlite:", "sqlite:").replace("postgresql+psycopg:", "postgres:")


@pytest.mark.parametrize(
    ("written", "engine_url", "tool_url"),
    [
        ("sqlite:///whoelse.db", "sqlite+aiosqlite:///whoelse.db", "sqlite:///whoelse.db"),
        (
            "sqlite+aiosqlite:////var/whoelse.db",
            "sqlite+aiosqlite:////var/whoelse.db",
            "sqlite:////var/whoelse.db",
        ),
        ("postgres://u:p@db:5432/w", "postgresql+psycopg://u:p@db:5432/w", "postgresql+psycopg://u:p@db:5432/w"),
        ("postgresql://u:p@db/w", "postgresql+psycopg://u:p@db/w", "postgresql+psycopg://u:p@db/w"),
        ("postgresql+psycopg://u:p@db/w", "postgresql+psycopg://u:p@db/w", "postgresql+psycopg://u:p@db/w"),
    ],
)
def test_the_usual_database_url_forms_choose_the_drivers_whoelse_runs_on(
    written: str, engine_url: str, tool_url: str
) -> None:
    settings = Settings(_env_file=None, database_url=written)
    assert settings.database_url == engine_url
    assert sync_url(written) == tool_url


def test_asyncpg_urls_are_used_when_asyncpg_is_installed_and_refused_when_not(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("DATABASE_URL", "postgresql+asyncpg://whoelse:secret@db/whoelse")
    if importlib.util.find_spec("asyncpg") is not None:
        assert Settings().database_url.startswith("postgresql+asyncpg://")
        return
    assert main(["db", "upgrade"]) == 2
    error = one_line_error(capsys)
    assert "DATABASE_URL names the asyncpg driver, which is not installed" in error
    assert "postgresql://" in error


async def test_a_database_written_by_hand_is_migrated_and_served(
    database_url: str, fake_slack: FakeSlack, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    written = as_written_by_hand(database_url)
    assert written != database_url
    environment.setenv("DATABASE_URL", written)
    assert main(["db", "upgrade"]) == 0
    assert "database schema is up to date" in capsys.readouterr().out

    settings = Settings(
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_api_url=fake_slack.base_url
    )
    assert settings.database_url == database_url
    async with serving(create_app(settings)) as app:
        response = await app.http.get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "database_url", ["mysql://whoelse:hunter2@db/whoelse", "whoelse:hunter2@db/whoelse", "sqlite+pysqlite:///w.db"]
)
def test_a_database_url_whoelse_cannot_use_is_one_line_listing_the_accepted_forms(
    database_url: str, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("DATABASE_URL", database_url)
    assert main(["db", "upgrade"]) == 2
    error = one_line_error(capsys)
    assert error.startswith("whoelse cannot start: DATABASE_URL ")
    assert "sqlite:///" in error and "postgresql://" in error
    assert "hunter2" not in error


def test_a_sqlite_file_that_cannot_be_created_is_one_line(
    environment: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'no-such-directory' / 'whoelse.db'}")
    assert main(["db", "upgrade"]) == 2
    error = one_line_error(capsys)
    assert "cannot open the database (SQLite at" in error
    assert "DATABASE_URL" in error and "unable to open database file" in error


def test_a_postgresql_database_that_does_not_exist_is_one_line(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not databases.postgres_reachable():
        pytest.skip("PostgreSQL is not reachable")
    server = databases.POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    environment.setenv("DATABASE_URL", f"{server}/whoelse_never_created")
    assert main(["db", "upgrade"]) == 2
    error = one_line_error(capsys)
    assert "cannot open the database (PostgreSQL at" in error
    assert 'database "whoelse_never_created" does not exist' in error

"""The `whoelse` command as a newcomer meets it: every misconfiguration is one line naming what to change."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.app import create_app
from bot.cli import main
from bot.schema import database_revisions, head_revisions
from bot.settings import Settings
from models.db import sync_url
from tests.conftest import serving
from tests.fakes.slack_api import FakeSlack
from tests.support import databases
from tests.support.signing import BOT_TOKEN, SIGNING_SECRET

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_VARIABLES = {name.upper() for name in Settings.model_fields}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment in an empty directory (no `.env`), as on a newcomer's first run."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
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


def slack_environment(environment: pytest.MonkeyPatch, fake_slack: FakeSlack, database_url: str) -> None:
    environment.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    environment.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    environment.setenv("SLACK_API_URL", fake_slack.base_url)
    environment.setenv("DATABASE_URL", database_url)


def test_serving_a_schema_behind_the_code_is_refused_with_the_command_that_fixes_it(
    database_url: str, fake_slack: FakeSlack, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    slack_environment(environment, fake_slack, database_url)
    assert main(["db", "downgrade", "-1"]) == 0
    try:
        capsys.readouterr()
        assert main(["db", "current"]) == 0
        assert "behind this version of whoelse" in capsys.readouterr().out

        assert main(["serve"]) == 2
        error = one_line_error(capsys)
        assert "The database schema is behind this version of whoelse" in error
        assert "Run `whoelse db upgrade`" in error
    finally:
        assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip().endswith(": up to date")


def test_downgrading_to_a_revision_that_does_not_exist_is_one_line(
    environment: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'whoelse.db'}")
    assert main(["db", "downgrade", "0000_never"]) == 2
    assert "Can't locate revision identified by '0000_never'" in one_line_error(capsys)


def test_plain_alembic_migrates_the_database_named_by_database_url(tmp_path: Path) -> None:
    database = tmp_path / "whoelse.db"
    environment = {key: value for key, value in os.environ.items() if key.upper() not in SETTINGS_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env={**environment, "DATABASE_URL": f"sqlite:///{database}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert database_revisions(f"sqlite:///{database}") == head_revisions()


def test_the_version_comes_from_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert capsys.readouterr().out.strip() == f"whoelse {project['version']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def whoelse_serve(
    *arguments: str, fake_slack: FakeSlack, database_url: str, **variables: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`whoelse serve` as a real process (signals need one), talking to the fake Slack; yields it and its URL."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if key.upper() not in SETTINGS_VARIABLES}
    environment |= {
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.base_url,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **variables,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", *arguments],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=15)


def wait_until_serving(process: subprocess.Popen[str], url: str, *, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, f"whoelse exited with {process.returncode}: {process.communicate()[1]}"
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"whoelse did not answer at {url} within {within} s")


def stops_on_sigterm(process: subprocess.Popen[str], *, within: float = 5.0) -> bool:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        return False
    return time.monotonic() - started < within


def test_socket_mode_with_an_app_token_slack_refuses_stops_with_one_line(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database_url = databases.sqlite_copy(sqlite_template, tmp_path)
    with (
        FakeSlack(bot_token=BOT_TOKEN, app_token="xapp-the-real-one") as fake_slack,
        whoelse_serve(
            "--socket-mode", fake_slack=fake_slack, database_url=database_url, SLACK_APP_TOKEN="xapp-revoked-one"
        ) as (process, _url),
    ):
        _out, error = process.communicate(timeout=30)
    assert process.returncode == 2
    assert error.strip() == (
        "Slack refused the app token (invalid_auth). Check SLACK_APP_TOKEN: it needs the connections:write scope "
        "(Basic Information > App-Level Tokens)."
    )


def test_socket_mode_that_cannot_connect_still_serves_and_stops_on_sigterm(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database_url = databases.sqlite_copy(sqlite_template, tmp_path)
    with (
        FakeSlack(bot_token=BOT_TOKEN, app_token="xapp-the-real-one") as fake_slack,
        whoelse_serve(
            "--socket-mode", fake_slack=fake_slack, database_url=database_url, SLACK_APP_TOKEN="xapp-the-real-one"
        ) as (process, url),
    ):
        wait_until_serving(process, url)
        assert stops_on_sigterm(process)


def test_a_running_bot_stops_within_seconds_of_sigterm(sqlite_template: Path, tmp_path: Path) -> None:
    database_url = databases.sqlite_copy(sqlite_template, tmp_path)
    with (
        FakeSlack(bot_token=BOT_TOKEN) as fake_slack,
        whoelse_serve(fake_slack=fake_slack, database_url=database_url) as (process, url),
    ):
        wait_until_serving(process, url)
        assert stops_on_sigterm(process)


def test_a_placeholder_webhook_secret_stops_the_start_saying_how_to_turn_webhooks_off(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    environment.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    environment.setenv("WHOELSE_WEBHOOK_SECRET", "replace-me")
    assert main(["serve"]) == 2
    error = one_line_error(capsys)
    assert "WHOELSE_WEBHOOK_SECRET still holds the example placeholder" in error
    assert "leave it unset to turn webhooks off" in error


async def test_the_example_configuration_with_the_two_slack_values_filled_in_starts(
    environment: pytest.MonkeyPatch, tmp_path: Path, sqlite_template: Path, fake_slack: FakeSlack
) -> None:
    example = (ROOT / ".env.example").read_text()
    filled_in = example.replace("SLACK_BOT_TOKEN=xoxb-replace-me", f"SLACK_BOT_TOKEN={BOT_TOKEN}").replace(
        "SLACK_SIGNING_SECRET=replace-me", f"SLACK_SIGNING_SECRET={SIGNING_SECRET}"
    )
    assert filled_in.count("replace-me") < example.count("replace-me") - 1
    (tmp_path / ".env").write_text(filled_in)
    # Only where the fake Slack and a migrated database are differ from the example.
    settings = Settings(
        slack_api_url=fake_slack.base_url, database_url=databases.sqlite_copy(sqlite_template, tmp_path)
    )
    assert not settings.webhooks_enabled
    async with serving(create_app(settings)) as app:
        assert (await app.http.get("/healthz")).status_code == 200


def test_an_unknown_log_level_is_one_line_listing_the_levels(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("LOG_LEVEL", "verbose")
    assert main(["serve"]) == 2
    error = one_line_error(capsys)
    assert "LOG_LEVEL='verbose' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in error


def test_a_port_already_in_use_is_one_line_before_anything_starts(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    environment.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    with socket.socket() as other_server:
        other_server.bind(("127.0.0.1", 0))
        other_server.listen()
        port = other_server.getsockname()[1]
        environment.setenv("HOST", "127.0.0.1")
        environment.setenv("PORT", str(port))
        assert main(["serve"]) == 2
    error = one_line_error(capsys)
    assert f"PORT {port} is already in use on 127.0.0.1" in error


def test_json_logs_are_plain_json_with_the_start_up_line_and_access_fields(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database_url = databases.sqlite_copy(sqlite_template, tmp_path)
    with (
        FakeSlack(bot_token=BOT_TOKEN) as fake_slack,
        whoelse_serve(fake_slack=fake_slack, database_url=database_url, LOG_FORMAT="json") as (process, url),
    ):
        wait_until_serving(process, url)
        assert stops_on_sigterm(process)
        _out, log = process.communicate(timeout=15)
    assert "\x1b" not in log
    lines = [json.loads(line) for line in log.splitlines()]
    [up] = [line for line in lines if line["message"].startswith("whoelse is up")]
    assert (
        up["message"]
        == f"whoelse is up: Slack over HTTP, SQLite at {tmp_path}/{Path(database_url).name}, webhooks off"
    )
    assert (up["transport"], up["webhooks"]) == ("HTTP", "off")
    health_checks = [line for line in lines if line["logger"] == "whoelse.access" and line["path"] == "/healthz"]
    assert health_checks, log
    assert {key: health_checks[-1][key] for key in ("client", "method", "status")} == {
        "client": "127.0.0.1",
        "method": "GET",
        "status": 200,
    }
    assert health_checks[-1]["duration_ms"] >= 0
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]

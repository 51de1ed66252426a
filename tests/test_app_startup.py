"""Starting whoelse: clear errors for missing configuration, a health check that means something."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.app import create_app
from bot.settings import ConfigurationError, Settings
from models.db import create_engine_for
from tests.conftest import RunningApp, serving
from tests.support.signing import slack_event, slack_headers

ROOT = Path(__file__).resolve().parent.parent


async def test_health_check_reports_the_database(running_app: RunningApp) -> None:
    response = await running_app.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_health_check_fails_when_the_database_is_unreachable(running_app: RunningApp) -> None:
    context = running_app.context
    if context.settings.is_sqlite:
        unreachable = context.engine.url.set(database="/nonexistent/directory/whoelse.db")
    else:
        unreachable = context.engine.url.set(port=1)
    healthy_engine = context.engine
    context.engine = create_engine_for(unreachable.render_as_string(hide_password=False))
    try:
        response = await running_app.http.get("/healthz")
    finally:
        await context.engine.dispose()
        context.engine = healthy_engine
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "database": "unreachable"}


async def test_slack_url_verification_is_answered(running_app: RunningApp) -> None:
    body, headers = slack_event({"type": "url_verification", "challenge": "abc123", "token": "x"})
    response = await running_app.post("/slack/events", body, headers)
    assert response.status_code == 200
    assert "abc123" in response.text


async def test_slack_requests_with_a_bad_signature_are_refused(running_app: RunningApp) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
    headers = {"Content-Type": "application/json", **slack_headers(body, secret="not-the-real-secret")}
    response = await running_app.post("/slack/events", body, headers)
    assert response.status_code == 401


async def test_slack_requests_with_an_old_timestamp_are_refused(running_app: RunningApp) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
    headers = {"Content-Type": "application/json", **slack_headers(body, timestamp=1_000_000_000)}
    response = await running_app.post("/slack/events", body, headers)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (None, "SLACK_BOT_TOKEN is not set"),
        ("xoxb-replace-me", "SLACK_BOT_TOKEN still holds the example placeholder"),
    ],
)
def test_missing_or_placeholder_secrets_name_the_variable_to_set(token: str | None, expected: str) -> None:
    settings = Settings(_env_file=None, slack_bot_token=token, slack_signing_secret="real-secret-value")
    with pytest.raises(ConfigurationError, match=expected):
        settings.require("slack_bot_token", "slack_signing_secret")


def test_serving_without_credentials_prints_what_to_set_not_a_traceback(tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "WHOELSE_"))}
    environment["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in result.stderr
    assert "SLACK_SIGNING_SECRET is not set" in result.stderr
    assert "no .env file here: `cp .env.example .env`, then fill in the Slack values" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("zone", ["Europe/Berln", "America", ""])
def test_a_default_time_zone_that_is_not_one_stops_the_start_and_names_the_variable(zone: str) -> None:
    with pytest.raises(ValidationError, match=r"DEFAULT_TIMEZONE=.* is not an IANA time zone"):
        Settings(_env_file=None, default_timezone=zone)


async def test_the_start_up_line_says_how_slack_reaches_the_bot_which_database_and_whether_webhooks_are_on(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app")
    async with serving(create_app(settings)):
        pass
    [up] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("whoelse is up")]
    assert up == f"whoelse is up: Slack over HTTP, {settings.database_label}, webhooks on"


@pytest.mark.parametrize(
    ("database_url", "label"),
    [
        ("postgres://whoelse:s3cret@db.internal:5432/whoelse", "PostgreSQL at db.internal:5432/whoelse"),
        ("postgresql+psycopg://whoelse:s3cret@db.internal/whoelse", "PostgreSQL at db.internal/whoelse"),
        ("sqlite:///./whoelse.db", "SQLite at ./whoelse.db"),
    ],
)
def test_the_database_is_named_without_its_credentials(database_url: str, label: str) -> None:
    assert Settings(_env_file=None, database_url=database_url).database_label == label

"""Slack and Teams can each be on alone or together; a development switch lets unauthenticated requests in, loudly."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from bot.app import create_app
from bot.settings import ConfigurationError, Settings
from habits.messages import Message, Paragraph
from models.events import ReceivedEvent
from models.outbox import FAILED, OutboxMessage, enqueue
from models.workspaces import get_or_create_workspace
from tests.conftest import RunningApp, serving
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.fakes.slack_api import FakeSlack
from tests.support import databases
from tests.support.signing import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET, slack_event, webhook_headers
from tests.support.teams import APP_ID, TENANT_ID, activity, channel_claims, teams_request

ROOT = Path(__file__).resolve().parent.parent.parent


async def test_a_teams_only_bot_starts_without_any_slack_setting_and_has_no_slack_endpoint(
    teams_settings: Settings,
) -> None:
    # No SLACK_API_URL points anywhere reachable: starting proves no Slack call was made.
    assert not teams_settings.slack_enabled
    async with serving(create_app(teams_settings)) as app:
        body, headers = slack_event({"type": "url_verification", "challenge": "abc123"})
        assert (await app.post("/slack/events", body, headers)).status_code == 404
        assert (await app.http.get("/healthz")).status_code == 200


async def test_a_slack_only_bot_has_no_teams_endpoint(running_app: RunningApp) -> None:
    body, headers = teams_request(activity(), "any-token")
    assert (await running_app.post("/api/messages", body, headers)).status_code == 404


# Starts the app as `whoelse serve` would with the Slack settings in the environment, in a fresh interpreter (this
# one has loaded everything already), and prints which of the packages named on the command line it loaded.
SLACK_ONLY_START = """
import asyncio, sys
import httpx
from bot.app import create_app
from bot.settings import Settings

async def start() -> None:
    app = create_app(Settings(_env_file=None))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://whoelse.test") as http:
            assert (await http.get("/healthz")).status_code == 200

asyncio.run(start())
print(" ".join(name for name in sys.argv[1:] if name in sys.modules))
"""


def test_a_slack_only_bot_on_sqlite_starts_without_loading_the_teams_sdk_or_psycopg(
    sqlite_template: Path, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings_variables = {name.upper() for name in Settings.model_fields}
    environment = {key: value for key, value in os.environ.items() if key.upper() not in settings_variables}
    environment |= {
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.base_url,
        "DATABASE_URL": databases.sqlite_copy(sqlite_template, tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", SLACK_ONLY_START, "slack_bolt", "microsoft_agents", "bot.teams_serving", "psycopg"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # Slack's SDK is there (the check sees what was loaded); the Teams SDK (about a tenth of the start) and psycopg are
    # not.
    assert result.stdout.split() == ["slack_bolt"]
    assert fake_slack.calls_to("auth.test")


async def test_slack_and_teams_together_each_answer_at_their_own_endpoint(
    settings: Settings, fake_slack: FakeSlack, microsoft_login: FakeMicrosoftLogin
) -> None:
    both = settings.model_copy(
        update={"teams_app_id": APP_ID, "teams_openid_metadata_url": microsoft_login.metadata_url}
    )
    async with serving(create_app(both, background_workers=False)) as app:
        body, headers = slack_event({"type": "url_verification", "challenge": "abc123"})
        slack = await app.post("/slack/events", body, headers)
        assert slack.status_code == 200
        assert "abc123" in slack.text
        body, headers = teams_request(activity(), microsoft_login.token(**channel_claims()))
        assert (await app.post("/api/messages", body, headers)).status_code == 200
    assert fake_slack.calls_to("auth.test")


def test_with_neither_platform_the_error_names_slack_and_the_teams_alternative() -> None:
    with pytest.raises(ConfigurationError) as raised:
        create_app(Settings(_env_file=None))
    message = str(raised.value)
    assert "SLACK_BOT_TOKEN is not set" in message
    assert "TEAMS_APP_ID" in message


def test_socket_mode_still_needs_slack_on_a_teams_only_bot(teams_settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="SLACK_BOT_TOKEN is not set") as raised:
        create_app(teams_settings, socket_mode=True)
    assert "TEAMS_APP_ID" not in str(raised.value)


@pytest.mark.parametrize(
    ("field", "value", "variable"),
    [
        ("teams_app_id", "replace-me", "TEAMS_APP_ID"),
        ("teams_tenant_id", "contoso/../x", "TEAMS_TENANT_ID"),
        # An email address where an Entra object id belongs.
        ("teams_admins", "3f2a9c1e-5d4b-4e8a-9b7c-6a5d4c3b2a10, jane@contoso.com", "TEAMS_ADMINS"),
    ],
)
def test_an_id_that_is_not_a_guid_stops_the_start_and_names_the_variable(
    field: str, value: str, variable: str
) -> None:
    with pytest.raises(ValidationError, match=variable):
        Settings.model_validate({"_env_file": None, field: value})


def test_blank_teams_settings_leave_teams_off() -> None:
    settings = Settings(_env_file=None, teams_app_id="  ", teams_tenant_id="")
    assert not settings.teams_enabled
    assert settings.teams_tenant_id is None


async def test_the_development_switch_lets_unauthenticated_requests_in_and_warns_at_start(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.app")
    settings = Settings(_env_file=None, teams_allow_unauthenticated=True, database_url=sqlite_url)
    async with serving(create_app(settings, background_workers=False)) as app:
        [warning] = [record for record in caplog.records if "TEAMS_ALLOW_UNAUTHENTICATED" in record.getMessage()]
        assert warning.levelno == logging.WARNING
        body, headers = teams_request(activity(), None)
        assert (await app.post("/api/messages", body, headers)).status_code == 200


async def test_without_the_development_switch_there_is_no_warning(
    teams_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.app")
    async with serving(create_app(teams_settings, background_workers=False)):
        pass
    assert not [record for record in caplog.records if "TEAMS_ALLOW_UNAUTHENTICATED" in record.getMessage()]


async def test_on_a_teams_only_bot_a_message_left_for_slack_fails_at_once_saying_slack_is_off(
    teams_app: RunningApp,
) -> None:
    context = teams_app.context
    async with context.sessions() as session:
        await get_or_create_workspace(session, workspace_id="T0001")
        queued = await enqueue(
            session,
            workspace_id="T0001",
            idempotency_key="left-from-slack",
            channel_id="C1",
            message=Message(text="hello", parts=[Paragraph(text="hello")]),
            not_before=context.clock(),
        )
        await session.commit()
    await context.delivery.drain()
    async with context.sessions() as session:
        failed = await session.get(OutboxMessage, queued.id)
    assert failed is not None
    assert failed.status == FAILED
    assert "Slack is turned off" in (failed.last_error or "")


async def test_on_a_multi_tenant_teams_only_bot_webhooks_are_refused_since_no_tenant_is_theirs(
    teams_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with_secret = teams_settings.model_copy(update={"whoelse_webhook_secret": SecretStr(WEBHOOK_SECRET)})
    async with serving(create_app(with_secret, background_workers=False)) as app:
        body = json.dumps({"id": "1", "type": "deal", "event": "closed_won", "title": "Acme"}).encode()
        response = await app.post("/webhooks/generic", body, webhook_headers(body))
    assert response.status_code == 503
    assert "TEAMS_TENANT_ID" in caplog.text


async def test_on_a_single_tenant_teams_only_bot_webhooks_land_in_that_tenant(teams_settings: Settings) -> None:
    single = teams_settings.model_copy(
        update={"whoelse_webhook_secret": SecretStr(WEBHOOK_SECRET), "teams_tenant_id": TENANT_ID}
    )
    async with serving(create_app(single, background_workers=False)) as app:
        body = json.dumps({"id": "1", "type": "deal", "event": "closed_won", "title": "Acme"}).encode()
        response = await app.post("/webhooks/generic", body, webhook_headers(body))
        async with app.context.sessions() as session:
            stored = await session.scalar(select(ReceivedEvent.workspace_id))
    assert response.status_code == 202
    assert stored == TENANT_ID


def test_serving_teams_only_asks_for_no_slack_setting(tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "WHOELSE_"))}
    environment["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    environment["TEAMS_APP_ID"] = APP_ID
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    # It gets as far as the database (not migrated here): past every Slack check.
    assert result.returncode == 2
    assert "SLACK_" not in result.stderr
    assert "whoelse db upgrade" in result.stderr

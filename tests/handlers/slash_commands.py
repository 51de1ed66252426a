"""Running the real app and typing `/whoelse …` into Slack, as the tests of the everyday subcommands do."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import TEAM_ID, RunningApp, serving, unpaced
from tests.support.signing import slack_form

CHANNEL = "CSALES"


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[RunningApp]:
    """The real app with delivery running and no scheduled jobs, so nothing posts behind a test's back."""
    application = create_app(settings, job_sources=[], delivery_policy=unpaced())
    async with serving(application) as running:
        yield running


def command_form(
    text: str, *, user: str, channel: str = CHANNEL, trigger_id: str = "trigger-1", channel_name: str = "sales"
) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "acme",
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user.lower(),
        "command": "/whoelse",
        "text": text,
        "api_app_id": "AWHOELSE",
        "response_url": "https://hooks.slack.test/commands/T0001/1",
        "trigger_id": trigger_id,
    }


async def whoelse(
    app: RunningApp,
    text: str,
    *,
    user: str,
    channel: str = CHANNEL,
    trigger_id: str = "trigger-1",
    channel_name: str = "sales",
) -> httpx.Response:
    """Types `/whoelse <text>`; returns Slack's view of the answer (an acknowledgement, maybe with a reply)."""
    form = command_form(text, user=user, channel=channel, trigger_id=trigger_id, channel_name=channel_name)
    body, headers = slack_form(form)
    return await app.post("/slack/events", body, headers)


async def reply_to(
    app: RunningApp,
    text: str,
    *,
    user: str,
    channel: str = CHANNEL,
    trigger_id: str = "trigger-1",
    channel_name: str = "sales",
) -> str:
    """The reply only the person who typed the command sees."""
    response = await whoelse(
        app, text, user=user, channel=channel, trigger_id=trigger_id, channel_name=channel_name
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    return str(answer["text"])

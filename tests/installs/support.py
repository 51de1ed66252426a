"""Installing whoelse in Slack workspaces as a team lead would: the install page, Slack's approval (the fake's
grant), and the redirect back with the code and the state."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from sqlalchemy import select

from bot.app import create_app
from bot.delivery import DeliveryPolicy
from bot.secret_box import generate_key
from bot.settings import Settings
from models.installations import SlackInstallation
from tests.conftest import RunningApp, serving
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slash_commands import command_form
from tests.support.signing import SIGNING_SECRET, WEBHOOK_SECRET, slack_form

PUBLIC_URL = "https://whoelse.example.com"
INSTALL_URL = f"{PUBLIC_URL}/slack/install"
STATE_COOKIE = "slack-app-oauth-state"
TEAM_A, TEAM_B, STRANGERS = "TALPHA", "TBRAVO", "TSTRANGE"


def many_workspace_settings(database_url: str, fake_slack: FakeSlack, *, key: str | None = None) -> Settings:
    return Settings(
        _env_file=None,
        slack_client_id=fake_slack.client_id,
        slack_client_secret=fake_slack.client_secret,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.base_url,
        public_base_url=PUBLIC_URL,
        whoelse_encryption_keys=key or generate_key(),
        whoelse_webhook_secret=WEBHOOK_SECRET,
        database_url=database_url,
        delivery_poll_seconds=0.05,
    )


@contextlib.asynccontextmanager
async def running(settings: Settings, clock: Any = None) -> AsyncIterator[RunningApp]:
    """The real app; delivery and jobs are driven by hand, so a test sees each post it causes."""
    extra = {} if clock is None else {"clock": clock}
    application = create_app(
        settings,
        background_workers=False,
        job_sources=[],
        delivery_policy=DeliveryPolicy(channel_interval=timedelta(0)),
        **extra,
    )
    async with serving(application) as app:
        yield app


class InstallLink:
    """What the install page hands a browser: Slack's authorize URL with a state, and the cookie that goes with it."""

    def __init__(self, page: httpx.Response) -> None:
        assert page.status_code == 200, page.text
        match = re.search(r'href="([^"]+)"', page.text)
        assert match is not None, "no Add to Slack link on the install page"
        self.authorize_url = match.group(1).replace("&amp;", "&")
        self.query = parse_qs(urlparse(self.authorize_url).query)
        self.state = self.query["state"][0]
        self.cookie = page.headers["set-cookie"].split(";")[0]


async def open_install_page(app: RunningApp) -> InstallLink:
    return InstallLink(await app.http.get("/slack/install"))


async def come_back(app: RunningApp, link: InstallLink, *, code: str, state: str | None = None) -> httpx.Response:
    """Slack's redirect back to whoelse after the installer approved, in the browser that started the install."""
    return await app.http.get(
        "/slack/oauth_redirect",
        params={"code": code, "state": state or link.state},
        headers={"Cookie": link.cookie},
    )


async def install(
    app: RunningApp, fake_slack: FakeSlack, team_id: str, *, rotating: bool = False, expires_in: int = 43200
) -> str:
    """Installs whoelse in `team_id` end to end; returns the bot token Slack issued."""
    link = await open_install_page(app)
    code = f"code-{team_id}-{link.state[:6]}"
    fake_slack.grant_install(
        code, team_id=team_id, team_name=f"Team {team_id}", rotating=rotating, expires_in=expires_in
    )
    answer = await come_back(app, link, code=code)
    assert answer.status_code == 200, answer.text
    return fake_slack.tokens_of(team_id)[-1]


async def slash_command(
    app: RunningApp, team_id: str, text: str, *, user: str, channel: str = "CSALES"
) -> httpx.Response:
    form = {**command_form(text, user=user, channel=channel), "team_id": team_id}
    body, headers = slack_form(form)
    return await app.post("/slack/events", body, headers)


async def stored_installation(app: RunningApp, team_id: str) -> SlackInstallation | None:
    async with app.context.sessions() as session:
        return await session.scalar(select(SlackInstallation).where(SlackInstallation.workspace_id == team_id))

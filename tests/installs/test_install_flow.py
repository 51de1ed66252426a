"""A team lead installs whoelse in their Slack workspace: the "Add to Slack" page, Slack's approval, and the page
they come back to; the workspace's token is kept sealed, and an install link works once, in one browser, for a
while."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from bot.key_rotation import reseal_stored_secrets
from bot.secret_box import SecretBox, generate_key
from bot.slack.oauth.scopes import install_scopes
from models.installations import SlackInstallation, SlackOAuthState
from models.sealed_columns import sealed_columns
from tests.conftest import RunningApp
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_elephant_command import Clock
from tests.installs.support import (
    INSTALL_URL,
    PUBLIC_URL,
    TEAM_A,
    come_back,
    install,
    many_workspace_settings,
    open_install_page,
    running,
    stored_installation,
)


async def test_the_install_page_offers_add_to_slack_with_the_manifest_s_scopes(
    database_url: str, fake_slack: FakeSlack
) -> None:
    async with running(many_workspace_settings(database_url, fake_slack)) as app:
        page = await app.http.get("/slack/install")
        link = await open_install_page(app)

    assert "Add to Slack" in page.text
    assert link.authorize_url.startswith("https://slack.com/oauth/v2/authorize?")
    assert link.query["client_id"] == [fake_slack.client_id]
    assert link.query["redirect_uri"] == [f"{PUBLIC_URL}/slack/oauth_redirect"]
    assert link.query["scope"][0].split(",") == install_scopes()
    assert "chat:write" in install_scopes()
    assert link.cookie == f"slack-app-oauth-state={link.state}"


async def test_installing_keeps_the_workspace_with_its_token_sealed(
    database_url: str, fake_slack: FakeSlack
) -> None:
    settings = many_workspace_settings(database_url, fake_slack)
    async with running(settings) as app:
        link = await open_install_page(app)
        fake_slack.grant_install("approved-code", team_id=TEAM_A, team_name="Alpha Sales", installer="ULEAD")
        answer = await come_back(app, link, code="approved-code")
        row = await stored_installation(app, TEAM_A)

    assert answer.status_code == 200
    assert "whoelse is now installed in Alpha Sales" in answer.text
    # The code was exchanged with the app's own credentials.
    assert fake_slack.calls_to("oauth.v2.access")[0]["code"] == "approved-code"
    token = fake_slack.tokens_of(TEAM_A)[0]
    assert row is not None
    assert (row.team_name, row.installer_user_id, row.bot_user_id) == ("Alpha Sales", "ULEAD", "UBOT")
    assert token not in row.bot_token_sealed
    assert settings.secret_box().open(row.bot_token_sealed) == token
    assert all(token not in str(value) for value in vars(row).values())


async def test_an_install_link_works_only_once(database_url: str, fake_slack: FakeSlack) -> None:
    async with running(many_workspace_settings(database_url, fake_slack)) as app:
        link = await open_install_page(app)
        fake_slack.grant_install("first", team_id=TEAM_A)
        fake_slack.grant_install("second", team_id="TOTHER")
        first = await come_back(app, link, code="first")
        again = await come_back(app, link, code="second")
        other = await stored_installation(app, "TOTHER")

    assert first.status_code == 200
    assert again.status_code == 401
    assert "already used, or has expired" in again.text
    assert INSTALL_URL in again.text
    assert other is None
    assert [call["code"] for call in fake_slack.calls_to("oauth.v2.access")] == ["first"]


async def test_an_install_link_expires_after_ten_minutes(database_url: str, fake_slack: FakeSlack) -> None:
    clock = Clock()
    async with running(many_workspace_settings(database_url, fake_slack), clock=clock) as app:
        link = await open_install_page(app)
        fake_slack.grant_install("late", team_id=TEAM_A)
        clock.advance(minutes=11)
        answer = await come_back(app, link, code="late")
        row = await stored_installation(app, TEAM_A)

    assert answer.status_code == 401
    assert row is None
    assert fake_slack.calls_to("oauth.v2.access") == []


async def test_a_forged_state_is_refused_even_with_a_matching_cookie(
    database_url: str, fake_slack: FakeSlack
) -> None:
    async with running(many_workspace_settings(database_url, fake_slack)) as app:
        forged = secrets.token_urlsafe(32)
        fake_slack.grant_install("stolen", team_id=TEAM_A)
        answer = await app.http.get(
            "/slack/oauth_redirect",
            params={"code": "stolen", "state": forged},
            headers={"Cookie": f"slack-app-oauth-state={forged}"},
        )
        row = await stored_installation(app, TEAM_A)

    assert answer.status_code == 401
    assert row is None
    assert fake_slack.calls_to("oauth.v2.access") == []


async def test_a_link_opened_in_another_browser_is_refused(database_url: str, fake_slack: FakeSlack) -> None:
    async with running(many_workspace_settings(database_url, fake_slack)) as app:
        link = await open_install_page(app)
        fake_slack.grant_install("elsewhere", team_id=TEAM_A)
        answer = await app.http.get("/slack/oauth_redirect", params={"code": "elsewhere", "state": link.state})
        row = await stored_installation(app, TEAM_A)

    assert answer.status_code == 400
    assert "another browser" in answer.text
    assert row is None


async def test_the_state_is_not_kept_in_the_clear(database_url: str, fake_slack: FakeSlack) -> None:
    async with running(many_workspace_settings(database_url, fake_slack)) as app:
        link = await open_install_page(app)
        async with app.context.sessions() as session:
            kept = list(await session.scalars(select(SlackOAuthState.state_hash)))

    assert len(kept) == 1
    assert link.state not in kept[0]


async def test_an_org_wide_install_is_refused_and_its_token_given_back(
    database_url: str, fake_slack: FakeSlack
) -> None:
    async with running(many_workspace_settings(database_url, fake_slack)) as app:
        link = await open_install_page(app)
        fake_slack.grant_install("grid", team_id=None, enterprise_id="EGRID", org_wide=True)
        answer = await come_back(app, link, code="grid")
        async with app.context.sessions() as session:
            rows = list(await session.scalars(select(SlackInstallation)))

    assert answer.status_code == 400
    assert "one workspace at a time" in answer.text
    assert "Install it in each workspace" in answer.text
    assert rows == []
    assert fake_slack.revoked == fake_slack.tokens_used("auth.revoke")
    assert len(fake_slack.revoked) == 1


async def test_cancelling_on_slack_s_page_installs_nothing(database_url: str, fake_slack: FakeSlack) -> None:
    async with running(many_workspace_settings(database_url, fake_slack)) as app:
        link = await open_install_page(app)
        answer = await app.http.get(
            "/slack/oauth_redirect",
            params={"error": "access_denied", "state": link.state},
            headers={"Cookie": link.cookie},
        )

    assert answer.status_code == 200
    assert "cancelled" in answer.text


async def test_installing_again_replaces_the_workspace_s_token(database_url: str, fake_slack: FakeSlack) -> None:
    settings = many_workspace_settings(database_url, fake_slack)
    async with running(settings) as app:
        first = await install(app, fake_slack, TEAM_A)
        second = await install(app, fake_slack, TEAM_A)
        row = await stored_installation(app, TEAM_A)

    assert first != second
    assert row is not None
    assert settings.secret_box().open(row.bot_token_sealed) == second


async def test_with_one_workspace_s_bot_token_there_is_no_install_page(running_app: RunningApp) -> None:
    assert (await running_app.http.get("/slack/install")).status_code == 404
    assert (
        await running_app.http.get("/slack/oauth_redirect", params={"code": "x", "state": "y"})
    ).status_code == 404


async def test_keys_rotate_reseals_installed_workspaces_tokens(database_url: str, fake_slack: FakeSlack) -> None:
    old, new = generate_key(), generate_key()
    async with running(many_workspace_settings(database_url, fake_slack, key=old)) as app:
        token = await install(app, fake_slack, TEAM_A, rotating=True)
        report = await reseal_stored_secrets(app.context.sessions, SecretBox([new, old]), sealed_columns())
        row = await stored_installation(app, TEAM_A)

    assert (report.resealed, report.already_current) == (2, 0)
    assert row is not None and row.bot_refresh_token_sealed is not None
    only_new = SecretBox([new])
    assert only_new.open(row.bot_token_sealed) == token
    assert only_new.open(row.bot_refresh_token_sealed).startswith("xoxe-1-")

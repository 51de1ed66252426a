"""Serving many Slack workspaces: a workspace's requests cost Slack one `auth.test` per token, not one per request;
a workspace that removed whoelse is refused at once by the replica Slack told, and by the others within seconds; and
two replicas sharing one database rotate a workspace's expiring token once between them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from bot.slack.authorize import StoredAuthorize
from bot.slack.oauth.installation_store import SqlInstallationStore
from bot.slack.remembered import RememberedInstallations
from bot.slack.workspaces import SharedRotation
from tests.conftest import RunningApp
from tests.fakes.slack_api import FakeSlack
from tests.installs.removal_support import app_uninstalled
from tests.installs.support import TEAM_A, TEAM_B, install, many_workspace_settings, running, slash_command

NOT_INSTALLED = "whoelse isn't installed in this workspace"


@pytest.fixture
def many(database_url: str, fake_slack: FakeSlack) -> Settings:
    fake_slack.add_user("UANNA", is_admin=True)
    fake_slack.add_user("UBEN", is_admin=True)
    return many_workspace_settings(database_url, fake_slack)


@pytest.fixture
async def app(many: Settings) -> AsyncIterator[RunningApp]:
    async with running(many) as running_app:
        yield running_app


@pytest.fixture
async def other_replica(many: Settings) -> AsyncIterator[RunningApp]:
    """A second whoelse process behind the same load balancer: its own memory, the same database."""
    async with running(many) as running_app:
        yield running_app


async def test_many_requests_from_an_installed_workspace_cost_one_auth_test(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    token_a = await install(app, fake_slack, TEAM_A)
    token_b = await install(app, fake_slack, TEAM_B)
    fake_slack.reset()

    # A burst at once (a workspace not seen since it installed), then one at a time.
    burst = await asyncio.gather(*(slash_command(app, TEAM_A, "status", user="UANNA") for _ in range(5)))
    one_by_one = [await slash_command(app, TEAM_A, "status", user="UANNA") for _ in range(5)]
    from_b = await slash_command(app, TEAM_B, "status", user="UBEN")

    for answer in [*burst, *one_by_one, from_b]:
        assert answer.json()["text"].startswith("whoelse status")
    assert fake_slack.tokens_used("auth.test") == [token_a, token_b]
    # Each request still used its own workspace's token.
    assert fake_slack.tokens_used("users.info") == [token_a] * 10 + [token_b]


async def test_after_app_uninstalled_the_next_request_is_refused_not_served_from_memory(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    await install(app, fake_slack, TEAM_A)
    served = await slash_command(app, TEAM_A, "status", user="UANNA")
    assert served.json()["text"].startswith("whoelse status")

    assert (await app_uninstalled(app, TEAM_A)).status_code == 200
    fake_slack.reset()
    refused = await slash_command(app, TEAM_A, "status", user="UANNA")

    assert refused.json()["text"].startswith(NOT_INSTALLED)
    assert fake_slack.calls == []


async def test_a_replica_sees_an_uninstall_made_through_another_within_its_remembered_seconds(
    sessions: async_sessionmaker[AsyncSession], many: Settings
) -> None:
    here = SqlInstallationStore(sessions, many.secret_box())
    there = SqlInstallationStore(sessions, many.secret_box())
    clock = Ticking()
    remembered = RememberedInstallations(here, ttl_seconds=10, clock=clock)
    await here.async_save_bot(installed_bot(TEAM_A))
    assert await remembered.is_installed(TEAM_A)

    await there.delete_workspace(TEAM_A)
    clock.now += 9.9
    still_remembered = await remembered.is_installed(TEAM_A)
    clock.now += 0.2

    assert still_remembered
    assert not await remembered.is_installed(TEAM_A)


async def test_a_workspace_found_not_installed_is_served_as_soon_as_another_replica_installs_it(
    sessions: async_sessionmaker[AsyncSession], many: Settings
) -> None:
    here = SqlInstallationStore(sessions, many.secret_box())
    there = SqlInstallationStore(sessions, many.secret_box())
    remembered = RememberedInstallations(here, clock=Ticking())
    assert not await remembered.is_installed(TEAM_A)

    await there.async_save_bot(installed_bot(TEAM_A))

    assert await remembered.is_installed(TEAM_A)


async def test_two_replicas_that_find_the_token_expiring_at_once_rotate_it_once(
    app: RunningApp, other_replica: RunningApp, fake_slack: FakeSlack
) -> None:
    first = await install(app, fake_slack, TEAM_A, rotating=True, expires_in=60)
    fake_slack.reset()
    # Slack takes a moment to answer, long enough for the other replica to arrive while the first one waits.
    fake_slack.set_delay("oauth.v2.access", 0.3)

    here, there = await asyncio.gather(
        slash_command(app, TEAM_A, "status", user="UANNA"),
        slash_command(other_replica, TEAM_A, "status", user="UANNA"),
    )

    assert here.json()["text"].startswith("whoelse status")
    assert there.json()["text"].startswith("whoelse status")
    assert [call["grant_type"] for call in fake_slack.calls_to("oauth.v2.access")] == ["refresh_token"]
    rotated = fake_slack.tokens_of(TEAM_A)[-1]
    assert rotated != first
    assert fake_slack.tokens_used("users.info") == [rotated, rotated]


async def test_two_replicas_sending_for_a_workspace_whose_token_expires_rotate_it_once(
    app: RunningApp, other_replica: RunningApp, fake_slack: FakeSlack
) -> None:
    await install(app, fake_slack, TEAM_A, rotating=True, expires_in=60)
    fake_slack.reset()
    fake_slack.set_delay("oauth.v2.access", 0.3)

    directories = [replica.context.gateways for replica in (app, other_replica)]
    gateways = await asyncio.gather(*(directory.for_workspace(TEAM_A) for directory in directories if directory))
    for gateway in gateways:
        await gateway.person(user="UANNA")

    assert len(fake_slack.calls_to("oauth.v2.access")) == 1
    rotated = fake_slack.tokens_of(TEAM_A)[-1]
    assert fake_slack.tokens_used("users.info") == [rotated, rotated]


async def test_past_its_bound_the_least_recently_served_workspace_is_asked_about_again(
    sessions: async_sessionmaker[AsyncSession], many: Settings, fake_slack: FakeSlack
) -> None:
    store = SqlInstallationStore(sessions, many.secret_box())
    client = AsyncWebClient(base_url=fake_slack.base_url, retry_handlers=[])
    rotation = SharedRotation(
        RememberedInstallations(store), client_id="", client_secret="", client=client, rotation_minutes=120
    )
    authorize = StoredAuthorize(store, rotation, client=client, kept_workspaces=2)
    teams = ["TONE", "TTWO", "TTHREE"]
    for team in teams:
        fake_slack.add_workspace(team, token=f"xoxb-{team}")
        await store.async_save_bot(installed_bot(team))

    async def serve(team: str) -> str | None:
        result = await authorize(context=AsyncBoltContext(), enterprise_id=None, team_id=team, user_id="U1")
        assert result is not None
        return result.bot_token

    assert [await serve(team) for team in [*teams, "TTHREE", "TTWO", "TONE"]] == [
        "xoxb-TONE",
        "xoxb-TTWO",
        "xoxb-TTHREE",
        "xoxb-TTHREE",
        "xoxb-TTWO",
        "xoxb-TONE",
    ]
    assert fake_slack.tokens_used("auth.test") == ["xoxb-TONE", "xoxb-TTWO", "xoxb-TTHREE", "xoxb-TONE"]


class Ticking:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def installed_bot(team_id: str) -> Bot:
    return Bot(
        app_id="AWHOELSE",
        team_id=team_id,
        bot_token=f"xoxb-{team_id}",
        bot_id="BWHOELSE",
        bot_user_id="UWHOELSE",
        bot_scopes="commands,chat:write",
        installed_at=1.0,
    )

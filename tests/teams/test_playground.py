"""Trying whoelse without a tenant, in the Microsoft 365 Agents Playground (README "Try it without a tenant").

The Playground sends activities without a token, takes whoelse's replies without one, names its tenant and people
with ids that are not all GUIDs, and finds a member only by their Bot Framework id ("user-id-0"), not by the Entra
object id whoelse knows people by. The activities below are shaped as the Playground sends them.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from bot.app import create_app
from bot.settings import Settings
from habits.nudge_answers import NOBODY_NOTED
from habits.nudge_message import LOOP_IN_NOBODY
from models.db import session_scope
from models.workspaces import Workspace
from tests.conftest import RunningApp, eventually, serving
from tests.fakes.bot_connector import FakeBotConnector, SentActivity
from tests.support.signing import WEBHOOK_SECRET, webhook_headers
from tests.support.teams import APP_ID, teams_request
from tests.teams.scenario import button_value

# The Playground's own ids (its default configuration): not GUIDs, one digit too many.
TENANT = "00000000-0000-0000-0000-0000000000001"
BOT = "00000000-0000-0000-0000-00000000000011"
ALEX = "00000000-0000-0000-0000-0000000000020"
ALEX_BOT_FRAMEWORK_ID = "user-id-0"
TEAM = "team-id"

_ids = itertools.count(1)


def _activity(kind: str, service_url: str, conversation_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "id": f"playground-{next(_ids)}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": ALEX_BOT_FRAMEWORK_ID, "name": "Alex Wilber", "aadObjectId": ALEX},
        "recipient": {"id": BOT, "name": "Test Bot"},
        "conversation": {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": conversation_id,
        },
        "channelData": {"tenant": {"id": TENANT}, "team": {"id": TEAM}, "channel": {"id": TEAM}},
        **fields,
    }


def added_to_the_team(service_url: str) -> dict[str, Any]:
    return _activity("conversationUpdate", service_url, TEAM, membersAdded=[{"id": BOT}])


def new_post(text: str, service_url: str) -> dict[str, Any]:
    """A new post in the General channel that mentions the bot, as the Playground sends it (its own thread)."""
    post = _activity("message", service_url, "", text=f"<at>Test Bot</at> {text}", textFormat="plain")
    post["conversation"]["id"] = f"{TEAM};messageid={post['id']}"
    post["entities"] = [
        {"type": "mention", "mentioned": {"id": BOT, "name": "Test Bot"}, "text": "<at>Test Bot</at>"}
    ]
    return post


def clicked(verb: str, data: dict[str, Any], service_url: str) -> dict[str, Any]:
    """A Universal Action on a card whoelse posted in the General channel."""
    return _activity(
        "invoke",
        service_url,
        f"{TEAM};messageid=1796283662861",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}},
    )


@pytest.fixture
def playground() -> Iterator[FakeBotConnector]:
    """The Playground's connector: no token asked for, Alex found by "user-id-0" only (as its member list shows)."""
    fake = FakeBotConnector(tokens_required=False)
    fake.add_member(ALEX_BOT_FRAMEWORK_ID, "Alex Wilber", objectId=ALEX, tenantId=TENANT, userRole="user")
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
async def whoelse(database_url: str) -> AsyncIterator[RunningApp]:
    """Started as the README says: unauthenticated, the Playground's tenant, Alex as admin, a webhook secret."""
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        teams_allow_unauthenticated=True,
        teams_tenant_id=TENANT,
        teams_admins=ALEX,
        whoelse_webhook_secret=WEBHOOK_SECRET,
        delivery_poll_seconds=0.05,
    )
    async with serving(create_app(settings)) as app:
        yield app


async def send(app: RunningApp, activity: dict[str, Any]) -> httpx.Response:
    body, headers = teams_request(activity, None)
    response = await app.post("/api/messages", body, headers)
    assert response.status_code == 200, response.text
    return response


async def reply_to(app: RunningApp, playground: FakeBotConnector, post: dict[str, Any]) -> str:
    """What whoelse answered in the post's thread, as the Playground received it."""
    await send(app, post)
    thread = post["conversation"]["id"]

    def replied() -> bool:
        return any(sent.conversation_id == thread for sent in playground.activities())

    await eventually(replied)
    [reply] = [sent for sent in playground.activities() if sent.conversation_id == thread]
    return json.dumps(reply.activity, ensure_ascii=False)


async def test_a_deal_nudges_the_channel_nobody_else_refreshes_the_card_and_help_answers(
    whoelse: RunningApp, playground: FakeBotConnector
) -> None:
    service_url = playground.service_url
    await send(whoelse, added_to_the_team(service_url))
    await eventually(lambda: any("Hi, I'm" in text for text in playground.texts()))
    assert "This channel now watches deals" in await reply_to(
        whoelse, playground, new_post("watch deals", service_url)
    )
    async with session_scope(whoelse.context.sessions) as session:
        # Whatever the time of day the test runs at: no quiet hours to hold the nudge back.
        workspace = await session.get(Workspace, TENANT)
        assert workspace is not None
        workspace.quiet_start = workspace.quiet_end = None

    body = json.dumps(
        {"id": "crm-evt-1001", "type": "deal", "event": "stage_changed", "title": "Acme renewal", "stage": "Won"}
    ).encode()
    accepted = await whoelse.post("/webhooks/generic", body, webhook_headers(body))
    assert accepted.status_code == 202, accepted.text

    def nudges() -> list[SentActivity]:
        return [sent for sent in playground.activities() if "Acme renewal" in json.dumps(sent.activity)]

    await eventually(lambda: bool(nudges()))
    [nudge] = nudges()
    assert nudge.conversation_id == TEAM
    [card] = [attachment["content"] for attachment in nudge.activity["attachments"]]
    nobody_else = {"value": button_value(card, LOOP_IN_NOBODY)}
    answered = await send(whoelse, clicked(LOOP_IN_NOBODY, nobody_else, service_url))
    assert answered.json()["type"] == "application/vnd.microsoft.card.adaptive"
    assert NOBODY_NOTED in json.dumps(answered.json()["value"])

    assert "help" in await reply_to(whoelse, playground, new_post("help", service_url))


async def test_people_are_named_and_admins_recognised_though_the_playground_finds_them_only_by_bot_framework_id(
    whoelse: RunningApp, playground: FakeBotConnector
) -> None:
    service_url = playground.service_url
    await send(whoelse, added_to_the_team(service_url))

    await reply_to(whoelse, playground, new_post("nudge the Acme renewal", service_url))
    status = await reply_to(whoelse, playground, new_post("status", service_url))

    # Alex is named in TEAMS_ADMINS: the report, not a refusal.
    assert "**Scheduler:** running in this replica." in status

    def asked_by_name() -> bool:
        return any("Alex Wilber asks about" in json.dumps(sent.activity) for sent in playground.activities())

    await eventually(asked_by_name)


def test_the_playgrounds_ids_are_taken_only_in_unauthenticated_development() -> None:
    playground = Settings(
        _env_file=None, teams_allow_unauthenticated=True, teams_tenant_id=TENANT, teams_admins=ALEX
    )
    assert playground.teams_tenant_id == TENANT
    assert playground.teams_admin_ids == {ALEX}
    for field, value in {"teams_tenant_id": TENANT, "teams_admins": ALEX}.items():
        # A bot that checks tokens: its tenant and admins are GUIDs, as Entra ID gives them.
        with pytest.raises(ValidationError, match="GUID"):
            Settings.model_validate({"_env_file": None, "teams_app_id": APP_ID, field: value})


async def test_the_start_up_line_says_teams_is_served_without_token_checks_and_not_slack(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app")
    settings = Settings(
        _env_file=None, database_url=database_url, teams_allow_unauthenticated=True, teams_tenant_id=TENANT
    )
    async with serving(create_app(settings, background_workers=False)):
        pass
    [up] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("whoelse is up")]
    assert up == (
        "whoelse is up: Teams at /api/messages without checking tokens (development only), "
        f"{settings.database_label}, webhooks off"
    )

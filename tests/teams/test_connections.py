"""`connect`, `connections` and `disconnect` typed to whoelse on Teams, through the real app and a multi-tenant
Teams-only bot (no TEAMS_TENANT_ID, so the server-wide webhooks have no tenant to land in): an admin named in
TEAMS_ADMINS connects the tenant's own Jira in a Teams dialog, the answer is shown in that dialog alone, and a
signed delivery to the connection's address nudges the Teams channel that watches tickets."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.secret_box import generate_key
from bot.settings import Settings
from handlers.commands.connections import OPEN_CONNECT_BUTTON
from models.connections import SourceConnection
from models.db import session_scope
from models.outbox import OutboxMessage
from models.workspaces import Workspace
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.handlers.test_elephant_command import Clock
from tests.handlers.test_vendor_webhooks_jira import issue_updated
from tests.support.vendors import jira_headers
from tests.teams.activities import CHANNEL, TENANT, bot_added, dialog_fetch, dialog_submit, personal_chat
from tests.teams.scenario import (
    PEOPLE,
    Teams,
    buttons,
    by,
    cards,
    closing_text,
    dialog_card,
    filled,
    send,
    serving_teams,
)

PUBLIC_BASE_URL = "https://whoelse.example.com"
DELIVERY = "0c1d2e3f-0000-4a8e-9d0f-1d2c3b4a5e6f"
ADDRESS = re.compile(re.escape(PUBLIC_BASE_URL) + r"(/webhooks/[a-z]+/[A-Za-z0-9_-]+)")
SECRET = re.compile(r"Secret to sign with:\s+`([A-Za-z0-9_-]+)`")
# Adaptive Cards' markdown shows a character after a backslash as itself.
ESCAPED = re.compile(r"\\(.)")


@pytest.fixture
async def teams(
    database_url: str, bot_connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin, clock: Clock
) -> AsyncIterator[Teams]:
    """A multi-tenant whoelse on Teams only, with Jane and Lena named its admins and Omar a member; the channel
    watches tickets, without quiet hours so the time of day the test runs at holds nothing back."""
    for name, (object_id, _) in PEOPLE.items():
        bot_connector.add_member(object_id, name, aadObjectId=object_id, tenantId=TENANT, userRole="user")
    teams_only = Settings(
        _env_file=None,
        database_url=database_url,
        teams_admins=f"{PEOPLE['Jane Doe'][0]},{PEOPLE['Lena Park'][0]}",
        public_base_url=PUBLIC_BASE_URL,
        whoelse_encryption_keys=SecretStr(generate_key()),
    )
    assert teams_only.teams_tenant_id is None
    async with serving_teams(teams_only, bot_connector, microsoft_login, clock) as app:
        await send(app, microsoft_login, bot_connector, bot_added(bot_connector.service_url))
        channel = Teams(app, microsoft_login, bot_connector)
        await channel.type("watch tickets")
        async with session_scope(app.context.sessions) as session:
            workspace = await session.get(Workspace, TENANT)
            assert workspace is not None
            workspace.quiet_start = workspace.quiet_end = None
        bot_connector.sent.clear()
        yield channel


async def open_form(teams: Teams, source: str = "jira", person: str = "Jane Doe") -> httpx.Response:
    opened = by(person, dialog_fetch(OPEN_CONNECT_BUTTON, {"value": source}, teams.connector.service_url))
    return await send(teams.app, teams.login, teams.connector, opened)


async def submit(teams: Teams, data: dict[str, Any], person: str = "Jane Doe") -> httpx.Response:
    return await send(
        teams.app, teams.login, teams.connector, by(person, dialog_submit(data, teams.connector.service_url))
    )


def answer_text(response: httpx.Response) -> str:
    """Everything the dialog shows once the form is sent (an answer card, with nothing left to send), as Teams
    shows it."""
    card = dialog_card(response)
    assert "actions" not in card
    return as_teams_shows("\n".join(str(element.get("text", "")) for element in card["body"]))


async def connect_jira(teams: Teams) -> tuple[str, str, str]:
    """What the admin's dialog shows, the webhook address (its path) and the secret to sign with."""
    shown = answer_text(await submit(teams, filled(dialog_card(await open_form(teams)))))
    address, secret = ADDRESS.search(shown), SECRET.search(shown)
    assert address is not None and secret is not None, shown
    return shown, address.group(1), secret.group(1)


def as_teams_shows(markdown: str) -> str:
    return ESCAPED.sub(r"\1", markdown)


async def in_own_chat(teams: Teams, text: str) -> str:
    """Types a command in Jane's own chat with whoelse; returns its reply there, as Teams shows it."""
    typed = personal_chat(text, teams.connector.service_url)
    await send(teams.app, teams.login, teams.connector, typed)
    await teams.app.context.delivery.drain()
    [reply] = [
        sent for sent in teams.connector.activities() if sent.conversation_id == typed["conversation"]["id"]
    ]
    return as_teams_shows(str(reply.activity.get("text")))


async def send_jira(teams: Teams, path: str, secret: str) -> httpx.Response:
    body = json.dumps(issue_updated()).encode()
    return await teams.app.post(path, body, jira_headers(body, delivery_id=DELIVERY, secret=secret))


def nudges(teams: Teams, words: str) -> list[dict[str, Any]]:
    return [
        card for sent, card in cards(teams.connector) if sent.conversation_id == CHANNEL and words in str(card)
    ]


async def test_connect_typed_by_an_admin_offers_the_button_that_opens_the_form_as_a_teams_dialog(
    teams: Teams,
) -> None:
    await teams.type("connect jira")
    [(_, card)] = list(cards(teams.connector))
    [button] = buttons(card)

    form = dialog_card(await open_form(teams))

    assert button["data"]["msteams"] == {"type": "task/fetch"}
    assert (button["data"]["verb"], button["data"]["value"]) == (OPEN_CONNECT_BUTTON, "jira")
    assert "Events from Jira will nudge the channels here" in json.dumps(form)


async def test_an_admin_connects_jira_and_its_signed_delivery_nudges_the_teams_channel_watching_tickets(
    teams: Teams,
) -> None:
    _, path, secret = await connect_jira(teams)

    response = await send_jira(teams, path, secret)
    assert teams.app.context.intake is not None
    await teams.app.context.intake.drain()
    await teams.app.context.delivery.drain()

    assert (response.status_code, response.json()["status"]) == (202, "accepted")
    [nudge] = nudges(teams, "Checkout fails for EU customers")
    assert "SUP-482" in json.dumps(nudge)
    async with teams.app.context.sessions() as session:
        [connection] = list(await session.scalars(select(SourceConnection)))
    assert connection.workspace_id == TENANT
    listed = await in_own_chat(teams, "connections")
    assert "Jira" in listed and f"{PUBLIC_BASE_URL}{path}" in listed and "last event" in listed
    assert "connected by <at>Jane Doe</at>" in listed
    assert secret not in listed


async def test_connections_typed_in_a_channel_shows_the_addresses_without_their_keys(teams: Teams) -> None:
    _, path, _ = await connect_jira(teams)

    listed = as_teams_shows(await teams.type("connections"))

    assert f"{PUBLIC_BASE_URL}/webhooks/jira/…" in listed and path not in listed
    assert "in your own chat with whoelse" in listed
    # Nobody is notified because someone listed the connections.
    assert "connected less than a minute ago" in listed and "<at>" not in listed


async def test_the_address_steps_and_secret_are_shown_in_the_dialog_alone(teams: Teams) -> None:
    shown, path, secret = await connect_jira(teams)

    assert "WebHooks" in shown and "Issue updated" in shown and "will not show it again" in shown
    # Not posted anywhere, not waiting in the outbox to be posted.
    posted = json.dumps([sent.activity for sent in teams.connector.activities()])
    assert secret not in posted and path not in posted
    async with teams.app.context.sessions() as session:
        queued = json.dumps([row.message for row in await session.scalars(select(OutboxMessage))])
    assert secret not in queued and path not in queued


async def test_someone_not_named_an_admin_can_neither_connect_list_disconnect_nor_send_the_form(
    teams: Teams,
) -> None:
    for command in ("connect jira", "connections", "disconnect jira"):
        reply = await teams.type(command, person="Omar Haddad")
        assert "only for whoelse's admins on Teams" in reply, reply
        teams.connector.sent.clear()
    form = dialog_card(await open_form(teams))

    opened = closing_text(await open_form(teams, person="Omar Haddad"))
    sent = closing_text(await submit(teams, filled(form), person="Omar Haddad"))

    assert "only for whoelse's admins on Teams" in opened and "only for whoelse's admins on Teams" in sent
    async with teams.app.context.sessions() as session:
        assert list(await session.scalars(select(SourceConnection))) == []


async def test_a_form_opened_by_another_admin_is_not_answered(teams: Teams) -> None:
    form = dialog_card(await open_form(teams))

    sent = closing_text(await submit(teams, filled(form), person="Lena Park"))

    assert "can't be sent from here" in sent
    async with teams.app.context.sessions() as session:
        assert list(await session.scalars(select(SourceConnection))) == []


async def test_an_unknown_source_is_named_with_the_ones_whoelse_knows(teams: Teams) -> None:
    typed = await teams.type("connect salesfarce")
    opened = closing_text(await open_form(teams, source="salesfarce"))

    assert (
        "generic, hubspot, jira, salesforce, zendesk" in typed
        and "generic, hubspot, jira, salesforce, zendesk" in opened
    )


async def test_after_disconnecting_the_address_answers_404(teams: Teams) -> None:
    _, path, secret = await connect_jira(teams)

    reply = await teams.type("disconnect jira")

    assert "Jira is disconnected" in reply
    assert (await send_jira(teams, path, secret)).status_code == 404

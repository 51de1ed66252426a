"""`/whoelse connect <source>`: an admin connects the workspace's own Jira or Zendesk from Slack, and that
connection's signed deliveries nudge this workspace (and no other), through the real app, the fake Slack and both
databases."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, text

from bot.cli import main
from bot.secret_box import SecretBox, generate_key
from bot.settings import Settings
from habits.connections import NOT_AN_ADMIN
from models.connections import SourceConnection, open_secrets, save_connection, seal_secrets
from models.db import session_scope
from models.events import ReceivedEvent
from models.watches import watch_channel
from models.workspaces import get_or_create_workspace
from tests.conftest import TEAM_ID, RunningApp
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slash_commands import reply_to, running, whoelse
from tests.handlers.test_vendor_webhooks_jira import issue_updated
from tests.handlers.test_webhooks import (
    SUPPORT,
    deal_event,
    given_workspace,
    nothing_stored,
    outcome,
    posts_once_delivered,
)
from tests.support.signing import slack_interaction, webhook_headers
from tests.support.vendors import jira_headers, zendesk_headers

ADMIN = "UADMIN"
MEMBER = "UMEMBER"
PUBLIC_BASE_URL = "https://whoelse.example.com"
KEY = generate_key()
DELIVERY = "6f1c2d3e-0000-4a8e-9d0f-1d2c3b4a5e6f"
OTHER_TEAM = "T0002"
ADDRESS = re.compile(re.escape(PUBLIC_BASE_URL) + r"(/webhooks/[a-z]+/[A-Za-z0-9_-]+)")


@pytest.fixture
def connecting(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"public_base_url": PUBLIC_BASE_URL, "whoelse_encryption_keys": SecretStr(KEY)}
    )


@pytest.fixture
async def app(connecting: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    fake_slack.add_user(ADMIN, is_admin=True)
    fake_slack.add_user(MEMBER)
    async with running(connecting) as application:
        await given_workspace(application.context, watching={SUPPORT: "tickets"})
        yield application


async def open_form(app: RunningApp, fake_slack: FakeSlack, source: str) -> dict[str, Any]:
    response = await whoelse(app, f"connect {source}", user=ADMIN, trigger_id=f"trigger-{source}")
    assert (response.status_code, response.content) == (200, b"")
    opened = fake_slack.views_opened[-1]
    assert opened["trigger_id"] == f"trigger-{source}"
    return {**opened["view"], "id": opened["view_id"]}


async def submit(app: RunningApp, view: dict[str, Any], *, user: str = ADMIN, **typed: str) -> dict[str, Any]:
    """Sends the form as Slack does, with `typed` in its text fields; returns what whoelse tells Slack to show."""
    values = {
        block["block_id"]: {
            block["element"]["action_id"]: {"type": "plain_text_input", "value": typed.get(block["block_id"])}
        }
        for block in view["blocks"]
        if block.get("type") == "input"
    }
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": user, "team_id": TEAM_ID, "name": user.lower()},
        "api_app_id": "AWHOELSE",
        "token": "legacy-verification-token",
        "trigger_id": "trigger-submit",
        "view": {**view, "team_id": TEAM_ID, "state": {"values": values}, "hash": "1.abc"},
    }
    body, headers = slack_interaction(payload)
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def shown_text(answer: dict[str, Any]) -> str:
    return json.dumps(answer["view"]["blocks"])


def address_in(answer: dict[str, Any]) -> str:
    found = ADDRESS.search(shown_text(answer))
    assert found is not None, shown_text(answer)
    return found.group(1)


def secret_in(answer: dict[str, Any]) -> str:
    found = re.search(r"Secret to sign with:\\n`([A-Za-z0-9_-]+)`", shown_text(answer))
    assert found is not None, shown_text(answer)
    return found.group(1)


async def connect_jira(app: RunningApp, fake_slack: FakeSlack) -> tuple[str, str]:
    """The webhook address (its path) and the secret an admin is given for Jira."""
    answer = await submit(app, await open_form(app, fake_slack, "jira"))
    assert answer["response_action"] == "update"
    return address_in(answer), secret_in(answer)


async def send_jira(app: RunningApp, path: str, *, secret: str, delivery_id: str = DELIVERY) -> httpx.Response:
    body = json.dumps(issue_updated()).encode()
    return await app.post(path, body, jira_headers(body, delivery_id=delivery_id, secret=secret))


async def stored_connections(app: RunningApp) -> list[SourceConnection]:
    async with app.context.sessions() as session:
        return list(await session.scalars(select(SourceConnection)))


# ---------------------------------------------------------------------------------------------- connecting


async def test_an_admin_connects_jira_and_its_signed_delivery_nudges_the_channel_watching_tickets(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    path, secret = await connect_jira(app, fake_slack)

    response = await send_jira(app, path, secret=secret)

    assert (response.status_code, response.json()["status"]) == (202, "accepted")
    assert await outcome(app, DELIVERY) == "nudged"
    [nudge] = await posts_once_delivered(app, fake_slack, SUPPORT)
    assert "Checkout fails for EU customers" in nudge["text"]
    listed = await reply_to(app, "connections", user=ADMIN)
    assert "Jira" in listed and "last event" in listed and "Last refused" not in listed
    # The address is there to paste again; the secret is not.
    assert f"{PUBLIC_BASE_URL}{path}" in listed and secret not in listed


async def test_the_answer_gives_the_address_the_secret_once_and_the_steps_in_jira(
    app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    view = await open_form(app, fake_slack, "jira")
    answer = await submit(app, view)

    shown = shown_text(answer)
    assert address_in(answer).startswith("/webhooks/jira/")
    assert "System > WebHooks" in shown and "Issue updated" in shown
    assert "will not show it again" in shown
    # Nowhere else: not in the channel, not in a DM, not in what is waiting to be sent.
    assert secret_in(answer) not in json.dumps(fake_slack.calls_to("chat.postMessage"))
    assert secret_in(answer) not in json.dumps(fake_slack.calls_to("chat.postEphemeral"))
    # Nor in whoelse's logs; nor is the address's key, which says where deliveries for this workspace go. (The
    # test's own HTTP client logs what it calls.)
    response = await send_jira(app, address_in(answer), secret=secret_in(answer))
    assert response.status_code == 202
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name != "httpx")
    assert secret_in(answer) not in logged
    assert address_in(answer).rsplit("/", 1)[1] not in logged
    assert "/webhooks/jira/…" in logged


async def test_connecting_again_keeps_the_address_and_only_the_new_secret_verifies(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    path, old_secret = await connect_jira(app, fake_slack)
    again_path, new_secret = await connect_jira(app, fake_slack)

    assert again_path == path and new_secret != old_secret
    assert (await send_jira(app, path, secret=old_secret)).status_code == 401
    assert (await send_jira(app, path, secret=new_secret)).status_code == 202


async def test_people_who_are_not_admins_cannot_connect_list_or_disconnect(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    for command in ("connect jira", "connections", "disconnect jira"):
        assert await reply_to(app, command, user=MEMBER) == NOT_AN_ADMIN
    assert fake_slack.views_opened == []

    # Nor by sending a form an admin opened.
    view = await open_form(app, fake_slack, "zendesk")
    answer = await submit(app, view, user=MEMBER, signing_secret="stolen-form")

    assert answer["response_action"] == "errors"
    assert await stored_connections(app) == []


async def test_a_form_for_a_source_whoelse_does_not_know_is_refused(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    view = await open_form(app, fake_slack, "zendesk")

    answer = await submit(app, {**view, "callback_id": "whoelse_connect:pipedrive"}, signing_secret="s")

    assert answer["response_action"] == "update"
    assert "can't be sent from here" in shown_text(answer)
    assert await stored_connections(app) == []


async def test_an_unknown_source_is_named_with_the_ones_whoelse_knows(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    reply = await reply_to(app, "connect pipedrive", user=ADMIN)

    assert "pipedrive" in reply and "generic, hubspot, jira, salesforce, zendesk" in reply
    assert "generic, hubspot, jira, salesforce, zendesk" in await reply_to(app, "connect", user=ADMIN)
    assert fake_slack.views_opened == []


async def test_without_a_public_address_the_admin_is_told_which_variable_is_missing(
    connecting: Settings, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user(ADMIN, is_admin=True)
    async with running(connecting.model_copy(update={"public_base_url": None})) as application:
        reply = await reply_to(application, "connect jira", user=ADMIN)

    assert "PUBLIC_BASE_URL is not set" in reply and "https://whoelse.example.com" in reply
    assert fake_slack.views_opened == []


async def test_any_crm_that_signs_its_events_connects_with_the_secret_whoelse_generates(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    answer = await submit(app, await open_form(app, fake_slack, "generic"))
    body = json.dumps(deal_event(type="ticket", event="escalated", title="Checkout outage")).encode()

    response = await app.post(address_in(answer), body, webhook_headers(body, secret=secret_in(answer)))

    assert "X-Whoelse-Signature" in shown_text(answer)
    assert response.status_code == 202
    [nudge] = await posts_once_delivered(app, fake_slack, SUPPORT)
    assert "Checkout outage" in nudge["text"]


# ---------------------------------------------------------------------------------------------- Zendesk


async def test_zendesk_waits_for_its_signing_secret_then_takes_deliveries_at_the_same_address(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    timestamp = datetime.now(UTC).isoformat()
    body = json.dumps(
        {
            "type": "zen:event-type:ticket.priority_changed",
            "id": "zd-evt-1",
            "detail": {"id": "35436", "subject": "Checkout fails for EU customers", "priority": "URGENT"},
            "event": {"previous": "NORMAL", "current": "URGENT"},
        }
    ).encode()
    # Zendesk shows its signing secret only once the webhook exists, so the first connection has none yet.
    first = await submit(app, await open_form(app, fake_slack, "zendesk"))
    path = address_in(first)
    assert "run `/whoelse connect zendesk` again" in shown_text(first)
    waiting = await app.post(path, body, zendesk_headers(body, timestamp=timestamp, secret="zendesk-signing"))
    assert waiting.status_code == 401 and "no signing secret yet" in waiting.json()["error"]
    assert "waiting for its signing secret" in await reply_to(app, "connections", user=ADMIN)

    second = await submit(app, await open_form(app, fake_slack, "zendesk"), signing_secret="zendesk-signing")
    response = await app.post(path, body, zendesk_headers(body, timestamp=timestamp, secret="zendesk-signing"))

    assert address_in(second) == path
    assert (response.status_code, response.json()["status"]) == (202, "accepted")
    [nudge] = await posts_once_delivered(app, fake_slack, SUPPORT)
    assert "Checkout fails for EU customers" in nudge["text"]


# ---------------------------------------------------------------------------------------------- refused deliveries


async def test_a_wrongly_signed_delivery_is_refused_and_connections_shows_why_without_its_body(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    path, _secret = await connect_jira(app, fake_slack)

    response = await send_jira(app, path, secret="not-the-secret-jira-was-given")

    assert response.status_code == 401
    assert await nothing_stored(app.context)
    listed = await reply_to(app, "connections", user=ADMIN)
    assert "Last refused" in listed and "signature does not match the body" in listed
    assert "no event received yet" in listed
    [connection] = await stored_connections(app)
    assert connection.last_error is not None and "Checkout" not in connection.last_error


async def test_an_address_no_connection_has_answers_404_and_changes_nothing(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    path, secret = await connect_jira(app, fake_slack)
    before = [(row.last_event_at, row.last_error) for row in await stored_connections(app)]

    unknown_key = await send_jira(app, "/webhooks/jira/not-a-key-anyone-was-given", secret=secret)
    other_source = await send_jira(app, path.replace("/jira/", "/zendesk/"), secret=secret)
    oversized = await app.post(
        "/webhooks/jira/not-a-key-anyone-was-given",
        b"x" * (app.context.settings.webhook_max_body_bytes + 1),
        {"Content-Type": "application/json"},
    )

    assert (unknown_key.status_code, other_source.status_code, oversized.status_code) == (404, 404, 413)
    assert await nothing_stored(app.context)
    assert [(row.last_event_at, row.last_error) for row in await stored_connections(app)] == before


async def test_a_connection_without_its_secret_refuses_deliveries_signed_with_an_empty_one(
    app: RunningApp,
) -> None:
    async with session_scope(app.context.sessions) as session:
        connection = await save_connection(
            session,
            workspace_id=TEAM_ID,
            source="jira",
            sealed_secrets=None,
            details={},
            connected_by=ADMIN,
            now=datetime.now(UTC),
        )

    response = await send_jira(app, f"/webhooks/jira/{connection.key}", secret="")

    assert response.status_code == 401 and "no secret yet" in response.json()["error"]
    assert await nothing_stored(app.context)


async def test_after_disconnecting_the_address_answers_404(app: RunningApp, fake_slack: FakeSlack) -> None:
    path, secret = await connect_jira(app, fake_slack)

    reply = await reply_to(app, "disconnect jira", user=ADMIN)
    response = await send_jira(app, path, secret=secret)

    assert "Jira is disconnected" in reply
    assert response.status_code == 404
    assert await nothing_stored(app.context)
    assert "No CRM or helpdesk is connected here" in await reply_to(app, "connections", user=ADMIN)
    assert "nothing to disconnect" in await reply_to(app, "disconnect jira", user=ADMIN)


# ---------------------------------------------------------------------------------------------- workspaces apart


async def test_a_delivery_lands_in_the_workspace_whose_address_it_was_sent_to(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    ours, our_secret = await connect_jira(app, fake_slack)
    box = app.context.settings.secret_box()
    async with session_scope(app.context.sessions) as session:
        workspace = await get_or_create_workspace(session, workspace_id=OTHER_TEAM)
        workspace.quiet_start = workspace.quiet_end = None
        await watch_channel(session, workspace_id=OTHER_TEAM, channel_id="COTHER", kind="tickets", user_id="U2")
        other = await save_connection(
            session,
            workspace_id=OTHER_TEAM,
            source="jira",
            sealed_secrets=seal_secrets(box, {"secret": "the-other-workspaces-secret"}),
            details={},
            connected_by="U2",
            now=datetime.now(UTC),
        )
        theirs = f"/webhooks/jira/{other.key}"

    crossed = [
        await send_jira(app, theirs, secret=our_secret, delivery_id="d-1"),
        await send_jira(app, ours, secret="the-other-workspaces-secret", delivery_id="d-2"),
    ]
    landed = await send_jira(app, theirs, secret="the-other-workspaces-secret", delivery_id="d-3")

    assert [response.status_code for response in crossed] == [401, 401]
    assert landed.status_code == 202
    async with app.context.sessions() as session:
        stored = (await session.execute(select(ReceivedEvent.workspace_id, ReceivedEvent.external_id))).all()
    assert stored == [(OTHER_TEAM, "d-3")]
    assert await outcome(app, "d-3") == "nudged"
    assert len(await posts_once_delivered(app, fake_slack, "COTHER")) == 1
    assert fake_slack.messages(SUPPORT) == []
    # Each workspace lists, and can remove, only its own connections.
    listed = await reply_to(app, "connections", user=ADMIN)
    assert "<@UADMIN>" in listed and "<@U2>" not in listed and other.key not in listed
    # Ours only refused the delivery signed with the other workspace's secret.
    assert "no event received yet" in listed and "signature does not match the body" in listed
    await reply_to(app, "disconnect jira", user=ADMIN)
    assert (
        await send_jira(app, theirs, secret="the-other-workspaces-secret", delivery_id="d-4")
    ).status_code == 202


# ---------------------------------------------------------------------------------------------- sealed at rest


async def test_the_secret_is_sealed_in_the_table_and_whoelse_keys_rotate_reseals_it(
    app: RunningApp,
    fake_slack: FakeSlack,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, secret = await connect_jira(app, fake_slack)

    async with app.context.sessions() as session:
        raw = (await session.execute(text("SELECT * FROM source_connections"))).one()
    assert secret not in json.dumps([str(value) for value in raw])

    newer = generate_key()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WHOELSE_ENCRYPTION_KEYS", f"{newer},{KEY}")
    # The command runs its own event loop, as it does from a shell.
    assert await asyncio.to_thread(main, ["keys", "rotate"]) == 0

    assert "1 stored secrets sealed again with the first key, 0 already were" in capsys.readouterr().out
    [connection] = await stored_connections(app)
    assert open_secrets(SecretBox([newer]), connection.sealed_secrets) == {"secret": secret}
    # The old key can go: deliveries are checked with the secret opened by the new one.
    app.context.settings = app.context.settings.model_copy(update={"whoelse_encryption_keys": SecretStr(newer)})
    assert (await send_jira(app, path, secret=secret)).status_code == 202

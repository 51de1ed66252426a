"""`/whoelse connect hubspot` and `/whoelse connect salesforce`: an admin connects the workspace's own HubSpot or
Salesforce from Slack; that connection's deliveries nudge this workspace only, HubSpot's deals and tickets are read
with the connection's own private app token, and each vendor gets the answer it expects. Through the real app, signed
requests, the fake Slack, the fake HubSpot CRM API and both databases."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import event, select

from bot.app import create_app
from bot.settings import Settings
from models.connections import remove_connection, save_connection, seal_secrets
from models.db import session_scope
from models.events import ReceivedEvent
from models.watches import watch_channel
from models.workspaces import get_or_create_workspace
from tests.conftest import TEAM_ID, RunningApp, serving
from tests.fakes.hubspot_api import FakeHubSpot
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slash_commands import reply_to, running
from tests.handlers.test_connect_command import (
    ADMIN,
    KEY,
    OTHER_TEAM,
    PUBLIC_BASE_URL,
    address_in,
    open_form,
    shown_text,
    stored_connections,
    submit,
)
from tests.handlers.test_hubspot_webhooks import MOVED_DEAL, deal_batch
from tests.handlers.test_vendor_webhooks_salesforce import (
    ORG_15,
    ORG_18,
    TOKEN,
    batch,
    is_acknowledged,
    opportunity,
)
from tests.handlers.test_vendor_webhooks_salesforce import send as send_salesforce
from tests.handlers.test_webhooks import DEALS, SUPPORT, given_workspace, nothing_stored, posts_once_delivered
from tests.support.mentions import pings_in
from tests.support.vendors import hubspot_headers

CLIENT_SECRET = "connected-hubspot-client-secret-0123"
PRIVATE_APP_TOKEN = "pat-eu1-connected-0123456789"
OTHER_TOKEN = "pat-na1-another-workspace-987654"


@pytest.fixture
def fake_hubspot() -> Iterator[FakeHubSpot]:
    # Only this workspace's connection's token reads the CRM.
    with FakeHubSpot(token=PRIVATE_APP_TOKEN) as hubspot:
        hubspot.add_owner("77", first_name="Jane", last_name="Doe", email="jane@acme.test")
        hubspot.add_deal(
            MOVED_DEAL,
            dealname="Acme renewal",
            amount="12000",
            deal_currency_code="EUR",
            dealstage="contractsent",
            pipeline="default",
            hubspot_owner_id="77",
        )
        hubspot.add_deal("1246978", dealname="Globex pilot", amount="4500", dealstage="appointmentscheduled")
        yield hubspot


@pytest.fixture
def connecting(settings: Settings, fake_hubspot: FakeHubSpot) -> Settings:
    """Neither HubSpot nor Salesforce in settings: what the workspaces connect is all there is."""
    return settings.model_copy(
        update={
            "public_base_url": PUBLIC_BASE_URL,
            "whoelse_encryption_keys": SecretStr(KEY),
            "hubspot_api_url": fake_hubspot.base_url,
        }
    )


@pytest.fixture
async def app(connecting: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    fake_slack.add_user(ADMIN, is_admin=True)
    async with running(connecting) as application:
        await given_workspace(application.context, watching={DEALS: "deals", SUPPORT: "tickets"})
        yield application


async def connect_hubspot(app: RunningApp, fake_slack: FakeSlack) -> str:
    answer = await submit(
        app,
        await open_form(app, fake_slack, "hubspot"),
        client_secret=CLIENT_SECRET,
        private_app_token=PRIVATE_APP_TOKEN,
    )
    assert answer["response_action"] == "update", answer
    return address_in(answer)


async def send_hubspot(
    app: RunningApp, path: str, *, secret: str = CLIENT_SECRET, batch: list[dict[str, Any]] | None = None
) -> httpx.Response:
    """A batch sent as HubSpot sends it to the connection's address, signed over the public URL it called."""
    body = json.dumps(deal_batch() if batch is None else batch).encode()
    return await app.post(path, body, hubspot_headers(body, uri=f"{PUBLIC_BASE_URL}{path}", secret=secret))


async def connect_salesforce(app: RunningApp, fake_slack: FakeSlack, *, organization_id: str = ORG_15) -> str:
    answer = await submit(app, await open_form(app, fake_slack, "salesforce"), organization_id=organization_id)
    assert answer["response_action"] == "update", answer
    return address_in(answer)


async def stored_in(app: RunningApp) -> list[tuple[str, str]]:
    async with app.context.sessions() as session:
        rows = (await session.execute(select(ReceivedEvent.workspace_id, ReceivedEvent.source))).all()
    return sorted((workspace, source) for workspace, source in rows)


async def other_workspace_connected(app: RunningApp, source: str, **values: str) -> str:
    """Another workspace, watching deals in COTHER, with its own connection of `source`; returns its address."""
    box = app.context.settings.secret_box()
    secrets = {name: value for name, value in values.items() if name != "organization_id"}
    details = {"organization_id": values["organization_id"]} if "organization_id" in values else {}
    async with session_scope(app.context.sessions) as session:
        workspace = await get_or_create_workspace(session, workspace_id=OTHER_TEAM)
        workspace.quiet_start = workspace.quiet_end = None
        await watch_channel(session, workspace_id=OTHER_TEAM, channel_id="COTHER", kind="deals", user_id="U2")
        connection = await save_connection(
            session,
            workspace_id=OTHER_TEAM,
            source=source,
            sealed_secrets=seal_secrets(box, secrets),
            details=details,
            connected_by="U2",
            now=datetime.now(UTC),
        )
        return f"/webhooks/{source}/{connection.key}"


# ---------------------------------------------------------------------------------------------- HubSpot


async def test_a_connected_hubspots_signed_batch_nudges_with_the_deal_read_with_that_connections_token(
    app: RunningApp, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    path = await connect_hubspot(app, fake_slack)

    response = await send_hubspot(app, path)

    assert path.startswith("/webhooks/hubspot/")
    assert (response.status_code, response.json()["status"], response.json()["accepted"]) == (202, "accepted", 2)
    moved, created = await posts_once_delivered(app, fake_slack, DEALS)
    assert "Acme renewal" in moved["text"] and "Contract Sent" in moved["text"]
    assert "EUR 12,000" in json.dumps(moved["blocks"]) and "Globex pilot" in created["text"]
    assert f"/crm/v3/objects/deals/{MOVED_DEAL}" in fake_hubspot.requests()
    assert set(fake_hubspot.tokens_used()) == {PRIVATE_APP_TOKEN}
    listed = await reply_to(app, "connections", user=ADMIN)
    assert "HubSpot" in listed and "last event" in listed and "Last refused" not in listed


async def test_a_hubspot_deals_owner_whose_email_belongs_to_a_slack_user_is_mentioned(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UJANE", name="jane", email="Jane@acme.test")
    path = await connect_hubspot(app, fake_slack)

    await send_hubspot(app, path)

    moved, created = await posts_once_delivered(app, fake_slack, DEALS)
    assert pings_in(moved) == ["<@UJANE>"]
    assert "Owner" in json.dumps(moved["blocks"]) and "acme.test" not in json.dumps(moved)
    # The other deal has no owner in HubSpot: nobody is mentioned.
    assert pings_in(created) == []


async def test_the_form_asks_for_both_hubspot_values_and_knows_a_private_app_token(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    view = await open_form(app, fake_slack, "hubspot")

    missing = await submit(app, view, private_app_token=PRIVATE_APP_TOKEN)
    not_a_token = await submit(app, view, client_secret=CLIENT_SECRET, private_app_token="my-password")

    assert set(missing["errors"]) == {"client_secret"}
    assert (
        set(not_a_token["errors"]) == {"private_app_token"}
        and "pat-" in not_a_token["errors"]["private_app_token"]
    )
    assert await stored_connections(app) == []


async def test_a_batch_not_signed_with_the_connections_client_secret_is_refused_and_shown_in_connections(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    path = await connect_hubspot(app, fake_slack)
    body = json.dumps(deal_batch()).encode()

    wrong_secret = await send_hubspot(app, path, secret="another-apps-client-secret")
    # HubSpot signs the public address it called; a signature over the server's own address is not HubSpot's.
    wrong_address = await app.post(
        path, body, hubspot_headers(body, uri=f"http://whoelse.test{path}", secret=CLIENT_SECRET)
    )

    assert (wrong_secret.status_code, wrong_address.status_code) == (401, 401)
    assert await nothing_stored(app.context)
    listed = await reply_to(app, "connections", user=ADMIN)
    assert "Last refused" in listed and "signature does not match the request" in listed


async def test_another_workspaces_hubspot_is_read_with_its_own_token_and_nudges_only_there(
    app: RunningApp, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    ours = await connect_hubspot(app, fake_slack)
    theirs = await other_workspace_connected(
        app, "hubspot", client_secret="their-client-secret", private_app_token=OTHER_TOKEN
    )

    crossed = await send_hubspot(app, theirs)  # signed with our client secret
    landed = await send_hubspot(app, theirs, secret="their-client-secret")

    assert (crossed.status_code, landed.status_code) == (401, 202)
    assert await stored_in(app) == [(OTHER_TEAM, "hubspot"), (OTHER_TEAM, "hubspot")]
    posted = await posts_once_delivered(app, fake_slack, "COTHER")
    # The fake HubSpot takes only our token: theirs is refused, and their deal is nudged by its id, never read with
    # ours.
    assert len(posted) == 2 and f"Deal {MOVED_DEAL}" in posted[0]["text"]
    assert set(fake_hubspot.tokens_used()) == {OTHER_TOKEN}
    assert fake_slack.messages(DEALS) == []
    assert ours != theirs


async def test_once_a_workspace_connects_hubspot_its_connections_token_is_used_rather_than_the_settings_one(
    connecting: Settings, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    configured = connecting.model_copy(
        update={"hubspot_private_app_token": SecretStr("pat-na1-from-settings-000")}
    )
    fake_slack.add_user(ADMIN, is_admin=True)
    async with running(configured) as application:
        await given_workspace(application.context, watching={DEALS: "deals"})
        path = await connect_hubspot(application, fake_slack)

        await send_hubspot(application, path)

        moved, _created = await posts_once_delivered(application, fake_slack, DEALS)
    assert "Acme renewal" in moved["text"]
    assert set(fake_hubspot.tokens_used()) == {PRIVATE_APP_TOKEN}


async def test_after_disconnecting_hubspot_its_address_answers_404_and_hubspot_is_not_asked(
    app: RunningApp, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    path = await connect_hubspot(app, fake_slack)
    await reply_to(app, "disconnect hubspot", user=ADMIN)

    gone = await send_hubspot(app, path)

    assert gone.status_code == 404
    assert fake_hubspot.tokens_used() == []
    assert await nothing_stored(app.context)


@asynccontextmanager
async def deciding_by_hand(settings: Settings) -> AsyncIterator[RunningApp]:
    """The app with stored events decided only when a test runs a pass over them, so a test knows which events one
    pass took."""
    async with serving(create_app(settings, job_sources=[], background_workers=False)) as application:
        await given_workspace(application.context, watching={DEALS: "deals"})
        yield application


async def connected_with(app: RunningApp, token: str) -> str:
    """HubSpot connected (or connected again) with `token`, as `connect hubspot` leaves it; returns its address."""
    async with session_scope(app.context.sessions) as session:
        connection = await save_connection(
            session,
            workspace_id=TEAM_ID,
            source="hubspot",
            sealed_secrets=seal_secrets(
                app.context.settings.secret_box(), {"client_secret": CLIENT_SECRET, "private_app_token": token}
            ),
            details={},
            connected_by=ADMIN,
            now=datetime.now(UTC),
        )
        return f"/webhooks/hubspot/{connection.key}"


def stage_changes(count: int, *, first: int) -> list[dict[str, Any]]:
    """`count` moves of the same deal, each a moment later than the one before."""
    moved = deal_batch()[0]
    return [moved | {"eventId": first + n, "occurredAt": moved["occurredAt"] + first + n} for n in range(count)]


def connection_reads(app: RunningApp) -> list[str]:
    """The queries that read a connection, from now on."""
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "source_connections" in statement:
            reads.append(statement)

    event.listen(app.context.engine.sync_engine, "before_cursor_execute", seen)
    return reads


async def one_pass(app: RunningApp) -> int:
    """Decides the stored events one pass takes (as many as the intake takes at a time); returns how many."""
    assert app.context.intake is not None
    return await app.context.intake.decide_pending()


async def titles(app: RunningApp) -> list[str]:
    async with app.context.sessions() as session:
        return list(await session.scalars(select(ReceivedEvent.title).order_by(ReceivedEvent.id)))


async def test_a_batch_of_hubspot_notifications_reads_the_connections_token_once(
    connecting: Settings, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    async with deciding_by_hand(connecting) as app:
        path = await connected_with(app, PRIVATE_APP_TOKEN)
        response = await send_hubspot(app, path, batch=stage_changes(20, first=1))
        reads = connection_reads(app)

        decided = await one_pass(app)

        assert (response.json()["accepted"], decided) == (20, 20)
        assert await titles(app) == ["Acme renewal"] * 20
        assert len(reads) == 1
        assert set(fake_hubspot.tokens_used()) == {PRIVATE_APP_TOKEN}


async def test_a_token_replaced_between_batches_is_the_one_the_next_batch_is_read_with(
    connecting: Settings, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    replaced = "pat-eu1-rotated-9876543210"
    async with deciding_by_hand(connecting) as app:
        path = await connected_with(app, PRIVATE_APP_TOKEN)
        await send_hubspot(app, path, batch=stage_changes(3, first=1))
        await one_pass(app)
        # The admin rotates the token in HubSpot (the old one stops working) and connects again with the new one.
        await connected_with(app, replaced)
        fake_hubspot.token = replaced
        asked_before = len(fake_hubspot.tokens_used())
        await send_hubspot(app, path, batch=stage_changes(3, first=10))

        await one_pass(app)

        assert await titles(app) == ["Acme renewal"] * 6
        assert set(fake_hubspot.tokens_used()[asked_before:]) == {replaced}


async def test_events_still_undecided_when_hubspot_is_disconnected_are_not_read_with_its_token(
    connecting: Settings, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    async with deciding_by_hand(connecting) as app:
        path = await connected_with(app, PRIVATE_APP_TOKEN)
        await send_hubspot(app, path, batch=stage_changes(2, first=1))
        await one_pass(app)
        asked_before = len(fake_hubspot.tokens_used())
        await send_hubspot(app, path, batch=stage_changes(2, first=10))
        async with session_scope(app.context.sessions) as session:
            await remove_connection(session, workspace_id=TEAM_ID, source="hubspot")

        await one_pass(app)

        assert await titles(app) == ["Acme renewal"] * 2 + [f"Deal {MOVED_DEAL}"] * 2
        assert len(fake_hubspot.tokens_used()) == asked_before


# ---------------------------------------------------------------------------------------------- Salesforce


async def test_a_connected_salesforces_outbound_message_nudges_and_is_acknowledged(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    path = await connect_salesforce(app, fake_slack)

    response = await send_salesforce(app, opportunity(), url=path)

    assert path.startswith("/webhooks/salesforce/")
    assert is_acknowledged(response)
    [nudge] = await posts_once_delivered(app, fake_slack, DEALS)
    assert "Globex platform renewal" in nudge["text"]
    assert await stored_in(app) == [(TEAM_ID, "salesforce")]
    listed = await reply_to(app, "connections", user=ADMIN)
    assert "Salesforce" in listed and "last event" in listed


async def test_the_answer_says_the_address_is_the_secret_and_gives_the_steps_in_salesforce(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    answer = await submit(app, await open_form(app, fake_slack, "salesforce"), organization_id=ORG_18)

    shown = shown_text(answer)
    assert "the address above is the secret" in shown and "Outbound Messages" in shown
    assert "Secret to sign with" not in shown


async def test_a_message_from_another_org_is_refused_401_and_recorded_as_the_last_error(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    path = await connect_salesforce(app, fake_slack)

    response = await send_salesforce(app, opportunity(OrganizationId="00Dxx0000002hFSEAY"), url=path)

    assert response.status_code == 401 and "00Dxx0000002hFSEAY" in response.json()["error"]
    assert await nothing_stored(app.context)
    [connection] = await stored_connections(app)
    assert connection.last_error is not None and connection.last_error.startswith("401: OrganizationId")
    listed = await reply_to(app, "connections", user=ADMIN)
    assert "Last refused" in listed and "00Dxx0000002hFSEAY" in listed


async def test_the_form_refuses_what_is_not_an_organization_id(app: RunningApp, fake_slack: FakeSlack) -> None:
    view = await open_form(app, fake_slack, "salesforce")

    for typed in ("acme", "00Dxx0000001gE", "001xx0000001gER"):
        answer = await submit(app, view, organization_id=typed)
        assert answer["response_action"] == "errors" and "00D" in answer["errors"]["organization_id"]
    assert await stored_connections(app) == []


async def test_a_hundred_notifications_larger_than_other_webhooks_may_be_are_taken_at_the_address(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    path = await connect_salesforce(app, fake_slack)
    body = batch(100)
    assert len(body) > app.context.settings.webhook_max_body_bytes

    response = await send_salesforce(app, body, url=path)

    assert is_acknowledged(response)
    async with app.context.sessions() as session:
        assert len(list(await session.scalars(select(ReceivedEvent.id)))) == 100


async def test_a_connections_address_reaches_it_past_the_salesforce_address_from_settings(
    connecting: Settings, fake_slack: FakeSlack
) -> None:
    configured = connecting.model_copy(
        update={"salesforce_organization_id": ORG_18, "salesforce_webhook_token": SecretStr(TOKEN)}
    )
    fake_slack.add_user(ADMIN, is_admin=True)
    async with running(configured) as application:
        await given_workspace(application.context, watching={DEALS: "deals"})
        theirs = await other_workspace_connected(application, "salesforce", organization_id="00Dxx0000002hFS")
        other_org = opportunity(OrganizationId="00Dxx0000002hFSEAY", notification_id="04lxx000000ZzZzAAC")

        to_settings = await send_salesforce(application, opportunity())
        to_connection = await send_salesforce(application, other_org, url=theirs)
        crossed = await send_salesforce(application, opportunity(notification_id="04lxx000000YyYyAAC"), url=theirs)
        unknown = await send_salesforce(application, opportunity(), url="/webhooks/salesforce/no-such-key-at-all")

        assert is_acknowledged(to_settings) and is_acknowledged(to_connection)
        assert (crossed.status_code, unknown.status_code) == (401, 404)
        assert await stored_in(application) == [(TEAM_ID, "salesforce"), (OTHER_TEAM, "salesforce")]
        assert len(await posts_once_delivered(application, fake_slack, "COTHER")) == 1
        assert len(fake_slack.messages(DEALS)) == 1

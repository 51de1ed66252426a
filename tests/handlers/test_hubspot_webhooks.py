"""`POST /webhooks/hubspot`: HubSpot's own batched notifications, signed as HubSpot signs them, through the real app
and a fake HubSpot CRM API to the (fake) Slack channels watching deals and tickets."""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from bot.app import create_app
from bot.settings import ConfigurationError, Settings
from models.events import ReceivedEvent
from models.vendor_values import VendorLastValue
from tests.conftest import RunningApp, eventually, serving, unpaced
from tests.fakes.hubspot_api import FakeHubSpot
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_webhooks import (
    DEALS,
    SUPPORT,
    deal_event,
    given_workspace,
    nothing_stored,
    outcome,
    posts_once_delivered,
)
from tests.handlers.test_webhooks import send as send_generic
from tests.support.mentions import pings_in
from tests.support.vendors import HUBSPOT_SECRET, HUBSPOT_TOKEN, hubspot_headers, sample_list

APP_URI = "http://whoelse.test/webhooks/hubspot"
PUBLIC = "https://whoelse.example.com"
MOVED_DEAL, NEW_DEAL, TICKET = "1246965", "1246978", "5123"


@pytest.fixture
def fake_hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(token=HUBSPOT_TOKEN) as hubspot:
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
        hubspot.add_deal(NEW_DEAL, dealname="Globex pilot", amount="4500", dealstage="appointmentscheduled")
        hubspot.add_ticket(TICKET, subject="Checkout fails for EU customers", hs_ticket_priority="MEDIUM")
        yield hubspot


def hubspot_settings(settings: Settings, fake_hubspot: FakeHubSpot, **changes: Any) -> Settings:
    return settings.model_copy(
        update={
            "hubspot_client_secret": SecretStr(HUBSPOT_SECRET),
            "hubspot_private_app_token": SecretStr(HUBSPOT_TOKEN),
            "hubspot_api_url": fake_hubspot.base_url,
            **changes,
        }
    )


@pytest.fixture
async def hubspot_app(settings: Settings, fake_hubspot: FakeHubSpot) -> AsyncIterator[RunningApp]:
    async with serving(create_app(hubspot_settings(settings, fake_hubspot), delivery_policy=unpaced())) as app:
        await given_workspace(app.context, watching={DEALS: "deals", SUPPORT: "tickets"})
        yield app


def deal_batch() -> list[dict[str, Any]]:
    """HubSpot's documented sample: a stage change, a new deal and an amount change."""
    return sample_list("hubspot_deal_notifications.json")


def ticket_change(prop: str, value: str, *, at: int, event_id: int = 4000) -> dict[str, Any]:
    return {
        "objectId": int(TICKET),
        "propertyName": prop,
        "propertyValue": value,
        "changeSource": "CRM_UI",
        "eventId": event_id,
        "subscriptionId": 31,
        "portalId": 33,
        "appId": 1160452,
        "occurredAt": at,
        "subscriptionType": "ticket.propertyChange",
        "attemptNumber": 0,
    }


async def send(
    app: RunningApp,
    batch: list[dict[str, Any]] | bytes,
    *,
    uri: str = APP_URI,
    path: str = "/webhooks/hubspot",
    headers: dict[str, str] | None = None,
    **signing: Any,
) -> httpx.Response:
    """Sends the batch to `path`, signed as HubSpot signs it for having called `uri`."""
    body = batch if isinstance(batch, bytes) else json.dumps(batch).encode()
    return await app.post(path, body, hubspot_headers(body, uri=uri, **signing) | (headers or {}))


# ---------------------------------------------------------------------------------------------- accepted batches


async def test_a_signed_batch_asks_the_deal_channel_with_the_deals_name_amount_stage_and_owner(
    hubspot_app: RunningApp, fake_slack: FakeSlack
) -> None:
    response = await send(hubspot_app, deal_batch())

    assert response.status_code == 202
    assert {key: response.json()[key] for key in ("status", "accepted", "duplicates", "ignored")} == {
        "status": "accepted",
        "accepted": 2,
        "duplicates": 0,
        "ignored": 1,
    }
    moved, created = await posts_once_delivered(hubspot_app, fake_slack, DEALS)
    shown = json.dumps(moved["blocks"])
    assert "Acme renewal" in moved["text"] and "Contract Sent" in moved["text"]
    assert "EUR 12,000" in shown and "Jane Doe" in shown
    assert f"https://app.hubspot.com/contacts/33/record/0-3/{MOVED_DEAL}" in shown
    assert "Globex pilot" in created["text"] and "4,500" in json.dumps(created["blocks"])
    async with hubspot_app.context.sessions() as session:
        emails = [row.payload.get("owner_email") for row in await session.scalars(select(ReceivedEvent))]
    assert "jane@acme.test" in emails


async def test_a_deals_owner_whose_hubspot_email_belongs_to_a_slack_user_is_mentioned(
    hubspot_app: RunningApp, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UJANE", name="jane", email="jane@acme.test")

    await send(hubspot_app, deal_batch())

    moved, created = await posts_once_delivered(hubspot_app, fake_slack, DEALS)
    assert pings_in(moved) == ["<@UJANE>"] and "acme.test" not in json.dumps(moved)
    assert pings_in(created) == []


async def test_a_retried_batch_is_answered_as_a_repeat_and_never_nudges_twice(
    hubspot_app: RunningApp, fake_slack: FakeSlack
) -> None:
    first = await send(hubspot_app, deal_batch())
    await posts_once_delivered(hubspot_app, fake_slack, DEALS)

    # HubSpot retries with a new attempt number (and a fresh signature and timestamp).
    retry = await send(hubspot_app, [item | {"attemptNumber": 3} for item in deal_batch()])

    assert first.status_code == 202
    assert (retry.status_code, retry.json()["status"], retry.json()["duplicates"]) == (200, "duplicate_event", 2)
    assert len(await posts_once_delivered(hubspot_app, fake_slack, DEALS)) == 2


async def test_two_changes_that_share_an_event_id_are_both_taken(
    hubspot_app: RunningApp, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    moved, *_ = deal_batch()
    won = moved | {"propertyValue": "closedwon", "occurredAt": moved["occurredAt"] + 60_000}

    response = await send(hubspot_app, [moved, won | {"eventId": moved["eventId"]}])

    assert (response.status_code, response.json()["accepted"]) == (202, 2)
    assert len(await posts_once_delivered(hubspot_app, fake_slack, DEALS)) == 2
    async with hubspot_app.context.sessions() as session:
        moments = sorted(await session.scalars(select(ReceivedEvent.event)))
    assert moments == ["closed_won", "stage_changed"]


# ---------------------------------------------------------------------------------------------- ticket moments


async def test_a_ticket_priority_raised_to_high_asks_the_ticket_channel_once(
    hubspot_app: RunningApp, fake_slack: FakeSlack
) -> None:
    now = int(time.time() * 1000)
    created = ticket_change("", "", at=now) | {"subscriptionType": "ticket.creation"}

    await send(hubspot_app, [created])
    await send(hubspot_app, [ticket_change("hs_ticket_priority", "HIGH", at=now + 1000)])
    # Lowered and raised again to the same priority: the same moment, not a second nudge.
    await send(hubspot_app, [ticket_change("hs_ticket_priority", "LOW", at=now + 2000)])
    await send(hubspot_app, [ticket_change("hs_ticket_priority", "HIGH", at=now + 3000)])

    [nudge] = await posts_once_delivered(hubspot_app, fake_slack, SUPPORT)
    assert "Checkout fails for EU customers" in nudge["text"] and "High" in nudge["text"]
    async with hubspot_app.context.sessions() as session:
        moments = list(await session.scalars(select(ReceivedEvent.event).order_by(ReceivedEvent.id)))
        [kept] = await session.scalars(
            select(VendorLastValue).where(VendorLastValue.property == "hs_ticket_priority")
        )
    assert moments == ["created", "priority_raised", "priority_updated", "priority_raised"]
    assert (kept.object_key, kept.value) == (f"ticket:{TICKET}", "HIGH")


async def test_a_priority_lowered_from_urgent_to_high_is_not_a_raise(
    hubspot_app: RunningApp, fake_slack: FakeSlack
) -> None:
    now = int(time.time() * 1000)

    await send(hubspot_app, [ticket_change("hs_ticket_priority", "URGENT", at=now)])
    await posts_once_delivered(hubspot_app, fake_slack, SUPPORT)
    await send(hubspot_app, [ticket_change("hs_ticket_priority", "HIGH", at=now + 1000)])

    assert len(await posts_once_delivered(hubspot_app, fake_slack, SUPPORT)) == 1
    async with hubspot_app.context.sessions() as session:
        moments = list(await session.scalars(select(ReceivedEvent.event).order_by(ReceivedEvent.id)))
    assert moments == ["priority_raised", "priority_updated"]


async def test_a_ticket_moved_back_out_of_closed_is_reopened(
    hubspot_app: RunningApp, fake_slack: FakeSlack
) -> None:
    now = int(time.time() * 1000)

    await send(hubspot_app, [ticket_change("hs_pipeline_stage", "4", at=now)])
    await send(hubspot_app, [ticket_change("hs_pipeline_stage", "3", at=now + 1000)])

    [nudge] = await posts_once_delivered(hubspot_app, fake_slack, SUPPORT)
    assert "reopened" in nudge["text"] and "Checkout fails for EU customers" in nudge["text"]


async def test_for_a_ticket_whoelse_never_saw_change_hubspots_history_tells_what_it_was_before(
    hubspot_app: RunningApp, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    now = int(time.time() * 1000)
    fake_hubspot.add_history(
        "tickets", TICKET, "hs_pipeline_stage", ("1", "2026-11-30T09:00:00Z"), ("4", "2026-12-01T09:00:00Z")
    )
    fake_hubspot.add_history("tickets", TICKET, "hs_ticket_priority", ("URGENT", "2026-12-01T09:00:00Z"))

    await send(hubspot_app, [ticket_change("hs_pipeline_stage", "3", at=now)])
    await send(hubspot_app, [ticket_change("hs_ticket_priority", "HIGH", at=now + 1000)])

    [nudge] = await posts_once_delivered(hubspot_app, fake_slack, SUPPORT)
    assert "reopened" in nudge["text"]
    async with hubspot_app.context.sessions() as session:
        moments = list(await session.scalars(select(ReceivedEvent.event).order_by(ReceivedEvent.id)))
    # Urgent before: down to High is no raise, although whoelse never saw the Urgent itself.
    assert moments == ["reopened", "priority_updated"]


async def test_a_change_that_arrives_after_a_later_one_is_not_taken_for_a_new_moment(
    hubspot_app: RunningApp, fake_slack: FakeSlack
) -> None:
    now = int(time.time() * 1000)

    await send(hubspot_app, [ticket_change("hs_ticket_priority", "LOW", at=now + 5000)])
    await posts_once_delivered(hubspot_app, fake_slack, SUPPORT)
    await send(hubspot_app, [ticket_change("hs_ticket_priority", "HIGH", at=now)])

    assert await posts_once_delivered(hubspot_app, fake_slack, SUPPORT) == []
    async with hubspot_app.context.sessions() as session:
        [kept] = await session.scalars(select(VendorLastValue.value))
    assert kept == "LOW"


# ---------------------------------------------------------------------------------------------- HubSpot's API


@pytest.mark.parametrize(("status", "retry_after"), [(429, 1), (502, None), (503, 1)])
async def test_a_lookup_refused_for_now_is_asked_again_and_the_nudge_still_has_the_deal_name(
    hubspot_app: RunningApp, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot, status: int, retry_after: int | None
) -> None:
    fake_hubspot.fail_next(2, status=status, retry_after=retry_after)
    moved, *_ = deal_batch()

    response = await send(hubspot_app, [moved])

    assert response.status_code == 202
    [nudge] = await posts_once_delivered(hubspot_app, fake_slack, DEALS)
    assert "Acme renewal" in nudge["text"]
    assert len(fake_hubspot.requests(f"/crm/v3/objects/deals/{MOVED_DEAL}")) >= 3


async def test_an_event_waiting_for_hubspot_does_not_hold_back_events_from_elsewhere(
    hubspot_app: RunningApp, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    fake_hubspot.fail_next(1, status=429, retry_after=2)
    moved, *_ = deal_batch()

    await send(hubspot_app, [moved])
    await eventually(lambda: bool(fake_hubspot.requests("/crm/v3/objects/deals")))
    generic = await send_generic(hubspot_app, deal_event())

    assert await outcome(hubspot_app, "crm-evt-1") == "nudged"
    async with hubspot_app.context.sessions() as session:
        waiting = await session.scalar(select(ReceivedEvent.outcome).where(ReceivedEvent.source == "hubspot"))
    assert generic.status_code == 202 and waiting is None
    assert len(await posts_once_delivered(hubspot_app, fake_slack, DEALS)) == 2


async def test_with_a_token_hubspot_refuses_the_deal_is_still_nudged_by_its_id(
    settings: Settings, fake_hubspot: FakeHubSpot, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = hubspot_settings(settings, fake_hubspot, hubspot_private_app_token=SecretStr("pat-na1-revoked-token"))
    async with serving(create_app(wrong, delivery_policy=unpaced())) as app:
        await given_workspace(app.context, watching={DEALS: "deals"})
        moved, *_ = deal_batch()

        await send(app, [moved])

        [nudge] = await posts_once_delivered(app, fake_slack, DEALS)
    # Without the CRM, the stage is known by its id only.
    assert f"Deal {MOVED_DEAL}" in nudge["text"] and "contractsent" in nudge["text"]
    assert any("HUBSPOT_PRIVATE_APP_TOKEN" in record.getMessage() for record in caplog.records)


async def test_pipeline_stages_are_read_once_for_many_deals(
    hubspot_app: RunningApp, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    moved, created, _ = deal_batch()

    await send(hubspot_app, [moved, created])
    await posts_once_delivered(hubspot_app, fake_slack, DEALS)

    assert fake_hubspot.requests("/crm/v3/pipelines/deals") == ["/crm/v3/pipelines/deals"]


async def test_a_portal_hosted_in_the_eu_is_linked_on_its_own_host_which_is_asked_for_once(
    hubspot_app: RunningApp, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    fake_hubspot.ui_domain = "app-eu1.hubspot.com"

    await send(hubspot_app, deal_batch())
    await send(hubspot_app, [ticket_change("hs_ticket_priority", "HIGH", at=int(time.time() * 1000))])

    moved, created = await posts_once_delivered(hubspot_app, fake_slack, DEALS)
    [ticket] = fake_slack.messages(SUPPORT)
    shown = [json.dumps(post["blocks"]) for post in (moved, created, ticket)]
    assert f"https://app-eu1.hubspot.com/contacts/33/record/0-3/{MOVED_DEAL}" in shown[0]
    assert f"https://app-eu1.hubspot.com/contacts/33/record/0-3/{NEW_DEAL}" in shown[1]
    assert f"https://app-eu1.hubspot.com/contacts/33/record/0-5/{TICKET}" in shown[2]
    assert not any("app.hubspot.com" in blocks for blocks in shown)
    assert fake_hubspot.requests("/account-info") == ["/account-info/v3/details"]


async def test_when_hubspot_will_not_say_where_the_portal_is_the_nudge_still_links_to_app_hubspot_com(
    hubspot_app: RunningApp, fake_slack: FakeSlack, fake_hubspot: FakeHubSpot
) -> None:
    fake_hubspot.ui_domain = None  # a token without the scope: 403
    moved, *_ = deal_batch()

    await send(hubspot_app, [moved])

    [nudge] = await posts_once_delivered(hubspot_app, fake_slack, DEALS)
    assert "Acme renewal" in nudge["text"]
    assert f"https://app.hubspot.com/contacts/33/record/0-3/{MOVED_DEAL}" in json.dumps(nudge["blocks"])


# ---------------------------------------------------------------------------------------------- the URI HubSpot signed


async def test_behind_a_proxy_the_public_base_url_is_what_the_signature_covers(
    settings: Settings, fake_hubspot: FakeHubSpot, fake_slack: FakeSlack
) -> None:
    async with serving(
        create_app(hubspot_settings(settings, fake_hubspot, public_base_url=PUBLIC), delivery_policy=unpaced())
    ) as app:
        await given_workspace(app.context)

        as_hubspot_called = await send(app, deal_batch(), uri=f"{PUBLIC}/webhooks/hubspot")
        as_the_app_sees_it = await send(app, [item | {"occurredAt": 1} for item in deal_batch()])

    assert as_hubspot_called.status_code == 202
    assert as_the_app_sees_it.status_code == 401


@pytest.mark.parametrize(("trusted", "status"), [(True, 202), (False, 401)])
async def test_forwarded_scheme_and_host_count_only_when_the_proxy_is_trusted(
    settings: Settings, fake_hubspot: FakeHubSpot, fake_slack: FakeSlack, trusted: bool, status: int
) -> None:
    configured = hubspot_settings(settings, fake_hubspot, trusted_proxy_headers=trusted)
    async with serving(create_app(configured, delivery_policy=unpaced())) as app:
        await given_workspace(app.context)
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "whoelse.example.com, proxy.internal"}

        response = await send(
            app,
            deal_batch(),
            # HubSpot signs the URI with %40 decoded (one of the escapes it documents); the request keeps it.
            uri="https://whoelse.example.com/webhooks/hubspot?from=hubspot@eu",
            path="/webhooks/hubspot?from=hubspot%40eu",
            headers=forwarded,
        )

    assert response.status_code == status


# ---------------------------------------------------------------------------------------------- refused or ignored


async def test_a_wrong_signature_or_a_stale_timestamp_is_refused_and_nothing_is_stored(
    hubspot_app: RunningApp, fake_slack: FakeSlack
) -> None:
    wrong_secret = await send(hubspot_app, deal_batch(), secret="another-apps-secret")
    stale = await send(hubspot_app, deal_batch(), timestamp_ms=int(time.time() * 1000) - 301_000)
    unsigned = await hubspot_app.post("/webhooks/hubspot", json.dumps(deal_batch()).encode(), {})

    assert [r.status_code for r in (wrong_secret, stale, unsigned)] == [401, 401, 401]
    assert "minutes off" in stale.json()["error"]
    assert await nothing_stored(hubspot_app.context)
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_notifications_the_rules_do_not_care_about_are_acknowledged_and_counted(
    hubspot_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.webhooks.intake")
    _, _, amount = deal_batch()
    contact = amount | {"subscriptionType": "contact.creation", "eventId": 1}
    note = ticket_change("content", "new text", at=1)

    response = await send(hubspot_app, [amount, contact, note])

    assert (response.status_code, response.json()["status"], response.json()["ignored"]) == (200, "ignored", 3)
    counted = [record.__dict__["ignored_total"] for record in caplog.records if "ignored_total" in record.__dict__]
    assert len(counted) == 3 and counted[-1] == counted[0] + 2
    assert await nothing_stored(hubspot_app.context)


async def test_an_oversized_batch_is_refused_before_it_is_read(hubspot_app: RunningApp) -> None:
    limit = hubspot_app.context.settings.webhook_max_body_bytes
    batch = [copy.deepcopy(deal_batch()[0]) | {"eventId": n} for n in range(limit // 200 + 1)]

    response = await send(hubspot_app, batch)

    assert response.status_code == 413
    assert await nothing_stored(hubspot_app.context)


async def test_a_body_that_is_not_a_batch_or_a_batch_of_unreadable_notifications_is_refused(
    hubspot_app: RunningApp,
) -> None:
    not_a_batch = await send(hubspot_app, json.dumps({"objectId": 1}).encode())
    without_ids = await send(hubspot_app, [{"subscriptionType": "deal.creation", "portalId": 33}])

    assert (not_a_batch.status_code, without_ids.status_code) == (400, 400)
    assert "JSON array" in not_a_batch.json()["error"] and "objectId" in without_ids.json()["error"]
    assert await nothing_stored(hubspot_app.context)


async def test_without_its_settings_the_hubspot_webhook_is_off_and_says_which_variables_to_set(
    running_app: RunningApp,
) -> None:
    response = await send(running_app, deal_batch())

    assert response.status_code == 503
    assert "HUBSPOT_CLIENT_SECRET and HUBSPOT_PRIVATE_APP_TOKEN" in response.json()["error"]


@pytest.mark.parametrize("name", ["hubspot_client_secret", "hubspot_private_app_token"])
def test_whoelse_will_not_start_with_an_example_placeholder_for_hubspot(settings: Settings, name: str) -> None:
    copied = settings.model_copy(update={name: SecretStr("replace-me")})

    with pytest.raises(ConfigurationError, match=f"{name.upper()} still holds the example placeholder"):
        create_app(copied)


def test_the_public_base_url_is_read_without_its_trailing_slash_and_a_wrong_one_is_named() -> None:
    assert Settings(_env_file=None, public_base_url=f"{PUBLIC}/").public_base_url == PUBLIC

    with pytest.raises(ValidationError, match="PUBLIC_BASE_URL"):
        Settings(_env_file=None, public_base_url="whoelse.example.com")

"""Owners, assignees and requesters named by email in CRM and helpdesk events are mentioned in the nudge when the
email belongs to someone in the Slack workspace (users.lookupByEmail); an email that matches nobody is never shown
and pings nobody. Through the real app, each vendor's webhook, and the fake Slack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import RunningApp, serving, unpaced
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_vendor_webhooks_salesforce import opportunity, salesforce_settings
from tests.handlers.test_vendor_webhooks_salesforce import send as send_salesforce
from tests.handlers.test_webhooks import DEALS, SUPPORT, deal_event, given_workspace, posts_once_delivered
from tests.support.mentions import pings_in
from tests.support.signing import webhook_headers
from tests.support.vendors import JIRA_SECRET, ZENDESK_SECRET, jira_headers, sample, zendesk_headers

LOOKUP = "users.lookupByEmail"


@pytest.fixture
async def vendors_app(settings: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    configured = salesforce_settings(settings).model_copy(
        update={"jira_webhook_secret": SecretStr(JIRA_SECRET), "zendesk_webhook_secret": SecretStr(ZENDESK_SECRET)}
    )
    fake_slack.add_user("UDANA", name="dana", email="Dana.Scully@acme.example")
    fake_slack.add_user("UJORDAN", name="jordan", email="jordan@acme.example")
    fake_slack.add_user("UPRIYA", name="priya", email="priya@acme.example")
    fake_slack.add_user("UGONE", name="gone", email="left@acme.example", deleted=True)
    async with serving(create_app(configured, delivery_policy=unpaced())) as app:
        await given_workspace(app.context, watching={DEALS: "deals", SUPPORT: "tickets"})
        yield app


def shown(message: dict[str, Any]) -> str:
    return str(message["text"]) + json.dumps(message["blocks"])


async def send_generic(app: RunningApp, **fields: Any) -> int:
    body = json.dumps(deal_event(**fields)).encode()
    response = await app.post("/webhooks/generic", body, webhook_headers(body))
    return response.status_code


async def test_a_salesforce_owner_found_by_email_is_mentioned_in_the_nudge(
    vendors_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await send_salesforce(vendors_app, opportunity(Owner_Email__c="dana.scully@acme.example"))

    [nudge] = await posts_once_delivered(vendors_app, fake_slack, DEALS)
    assert "Owner" in shown(nudge)
    assert pings_in(nudge) == ["<@UDANA>"]
    assert "acme.example" not in shown(nudge)


async def test_an_email_that_matches_nobody_is_neither_shown_nor_a_ping(
    vendors_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await send_salesforce(vendors_app, opportunity(Owner_Email__c="stranger@elsewhere.example"))

    [nudge] = await posts_once_delivered(vendors_app, fake_slack, DEALS)
    assert "stranger@elsewhere.example" not in shown(nudge)
    assert pings_in(nudge) == []
    assert [call["email"] for call in fake_slack.calls_to(LOOKUP)] == ["stranger@elsewhere.example"]


async def test_a_deactivated_account_with_the_email_is_not_mentioned(
    vendors_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await send_salesforce(vendors_app, opportunity(Owner_Email__c="left@acme.example"))

    [nudge] = await posts_once_delivered(vendors_app, fake_slack, DEALS)
    assert pings_in(nudge) == []


async def test_a_jira_assignee_is_mentioned_instead_of_named(
    vendors_app: RunningApp, fake_slack: FakeSlack
) -> None:
    body = json.dumps(sample("jira_issue_updated.json")).encode()
    await vendors_app.post("/webhooks/jira", body, jira_headers(body, delivery_id="jira-delivery-1"))

    [nudge] = await posts_once_delivered(vendors_app, fake_slack, SUPPORT)
    assert "Assignee" in shown(nudge)
    assert pings_in(nudge) == ["<@UJORDAN>"]
    assert "Jordan Lee" not in shown(nudge)


async def test_a_zendesk_trigger_names_its_assignee_and_requester_by_the_template_placeholders(
    vendors_app: RunningApp, fake_slack: FakeSlack
) -> None:
    payload = sample("zendesk_trigger_priority_raised.json") | {
        "assignee_email": "priya@acme.example",
        "requester_email": "dana.scully@acme.example",
    }
    body = json.dumps(payload).encode()
    timestamp = vendors_app.context.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    await vendors_app.post("/webhooks/zendesk", body, zendesk_headers(body, timestamp=timestamp))

    [nudge] = await posts_once_delivered(vendors_app, fake_slack, SUPPORT)
    assert sorted(pings_in(nudge)) == ["<@UDANA>", "<@UPRIYA>"]
    assert "Requester" in shown(nudge) and "Assignee" in shown(nudge)


async def test_the_generic_webhook_takes_an_owner_email(vendors_app: RunningApp, fake_slack: FakeSlack) -> None:
    status = await send_generic(vendors_app, owner="Dana S.", owner_email="dana.scully@acme.example")

    [nudge] = await posts_once_delivered(vendors_app, fake_slack, DEALS)
    assert status == 202
    assert pings_in(nudge) == ["<@UDANA>"]


async def test_a_generic_owner_email_that_is_not_an_address_is_refused_naming_the_field(
    vendors_app: RunningApp,
) -> None:
    body = json.dumps(deal_event(owner_email="Dana Scully")).encode()

    response = await vendors_app.post("/webhooks/generic", body, webhook_headers(body))

    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "owner_email"


async def test_the_same_owner_across_many_events_is_looked_up_once(
    vendors_app: RunningApp, fake_slack: FakeSlack
) -> None:
    for index in range(3):
        await send_generic(
            vendors_app,
            id=f"crm-evt-{index}",
            subject_id=f"deal-{index}",
            owner_email="dana.scully@acme.example",
        )

    nudges = await posts_once_delivered(vendors_app, fake_slack, DEALS)
    assert [pings_in(nudge) for nudge in nudges] == [["<@UDANA>"]] * 3
    assert len(fake_slack.calls_to(LOOKUP)) == 1


async def test_while_slack_cannot_look_people_up_the_nudge_still_goes_out_without_the_mention(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UDANA", name="dana", email="dana.scully@acme.example")
    fake_slack.fail_next(LOOKUP, times=5, error="internal_error")
    async with serving(create_app(settings, delivery_policy=unpaced())) as app:
        await given_workspace(app.context, watching={DEALS: "deals"})

        await send_generic(app, owner="Dana S.", owner_email="dana.scully@acme.example")

        [nudge] = await posts_once_delivered(app, fake_slack, DEALS)
    assert "Dana S." in shown(nudge) and pings_in(nudge) == []

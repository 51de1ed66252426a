"""`POST /webhooks/jira`: Jira Cloud's own issue webhooks, signed as Jira signs them, through the real app to the
(fake) Slack channel watching tickets."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.app import create_app
from bot.settings import ConfigurationError, Settings
from models.events import ReceivedEvent
from tests.conftest import RunningApp, serving, unpaced
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_webhooks import (
    SUPPORT,
    count,
    given_workspace,
    nothing_stored,
    outcome,
    posts_once_delivered,
)
from tests.support.databases import table_offline
from tests.support.garbage import UNREADABLE_JSON
from tests.support.vendors import JIRA_SECRET, jira_headers, sample

DELIVERY = "0b6d8a5e-3c6a-4a8e-9d0f-1d2c3b4a5e6f"


@pytest.fixture
async def jira_app(settings: Settings) -> AsyncIterator[RunningApp]:
    async with serving(
        create_app(
            settings.model_copy(update={"jira_webhook_secret": SecretStr(JIRA_SECRET)}), delivery_policy=unpaced()
        )
    ) as app:
        await given_workspace(app.context, watching={SUPPORT: "tickets"})
        yield app


def issue_updated(*changes: dict[str, str]) -> dict[str, Any]:
    """Jira's sample issue_updated delivery, with the changelog items given (its own priority raise by default)."""
    payload = sample("jira_issue_updated.json")
    if changes:
        payload["changelog"]["items"] = [
            {"fieldtype": "jira", "fieldId": item["field"], "from": "1", "to": "2", **item} for item in changes
        ]
    return payload


async def send(
    app: RunningApp, payload: dict[str, Any] | bytes, *, delivery_id: str | None = DELIVERY
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await app.post("/webhooks/jira", body, jira_headers(body, delivery_id=delivery_id))


# ---------------------------------------------------------------------------------------------- escalations


async def test_a_priority_raised_to_highest_asks_the_ticket_channel_with_a_link_people_can_open(
    jira_app: RunningApp, fake_slack: FakeSlack
) -> None:
    response = await send(jira_app, issue_updated())

    assert (response.status_code, response.json()["status"]) == (202, "accepted")
    assert await outcome(jira_app, DELIVERY) == "nudged"
    [nudge] = await posts_once_delivered(jira_app, fake_slack, SUPPORT)
    shown = json.dumps(nudge["blocks"])
    assert "Checkout fails for EU customers" in nudge["text"] and "Highest" in nudge["text"]
    assert "https://acme.atlassian.net/browse/SUP-482" in shown
    assert "/rest/api/" not in shown
    assert "Jordan Lee" in shown


@pytest.mark.parametrize(
    ("change", "moment"),
    [
        ({"field": "status", "fromString": "In Progress", "toString": "Escalated to L2"}, "escalated"),
        ({"field": "status", "fromString": "Done", "toString": "In Progress"}, "reopened"),
        ({"field": "status", "fromString": "Resolved", "toString": "Reopened"}, "reopened"),
        ({"field": "priority", "fromString": "Major", "toString": "Blocker"}, "priority_raised"),
    ],
)
async def test_escalations_reopenings_and_urgent_priorities_are_each_nudged(
    jira_app: RunningApp, fake_slack: FakeSlack, change: dict[str, str], moment: str
) -> None:
    response = await send(jira_app, issue_updated(change))

    assert response.status_code == 202
    assert await outcome(jira_app, DELIVERY) == "nudged"
    async with jira_app.context.sessions() as session:
        stored = await session.get(ReceivedEvent, response.json()["event_id"])
    assert stored is not None and (stored.source, stored.event, stored.subject_key) == (
        "jira",
        moment,
        "ticket:SUP-482",
    )
    assert len(await posts_once_delivered(jira_app, fake_slack, SUPPORT)) == 1


async def test_a_retried_delivery_is_answered_as_a_duplicate_and_nudges_once(
    jira_app: RunningApp, fake_slack: FakeSlack
) -> None:
    first = await send(jira_app, issue_updated())

    # Jira retries with the same X-Atlassian-Webhook-Identifier; the body's timestamp may differ.
    retry = await send(jira_app, issue_updated() | {"timestamp": 1764690000000})

    assert first.status_code == 202
    assert (retry.status_code, retry.json()["status"]) == (200, "duplicate_event")
    assert retry.json()["event_id"] == first.json()["event_id"]
    assert len(await posts_once_delivered(jira_app, fake_slack, SUPPORT)) == 1


# ---------------------------------------------------------------------------------------------- ignored


def _lowered(payload: dict[str, Any]) -> dict[str, Any]:
    return issue_updated({"field": "priority", "fromString": "Highest", "toString": "High"})


def _summary_edited(payload: dict[str, Any]) -> dict[str, Any]:
    return issue_updated({"field": "summary", "fromString": "Checkout fails", "toString": "Checkout fails for EU"})


def _comment_only(payload: dict[str, Any]) -> dict[str, Any]:
    updated = copy.deepcopy(payload)
    del updated["changelog"]
    return updated | {"issue_event_type_name": "issue_commented"}


def _created_at_low_priority(payload: dict[str, Any]) -> dict[str, Any]:
    return sample("jira_issue_created.json")


def _deleted(payload: dict[str, Any]) -> dict[str, Any]:
    return payload | {"webhookEvent": "jira:issue_deleted"}


@pytest.mark.parametrize("variant", [_lowered, _summary_edited, _comment_only, _created_at_low_priority, _deleted])
async def test_deliveries_about_nothing_the_rules_care_about_are_acknowledged_as_ignored(
    jira_app: RunningApp,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    variant: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.webhooks.intake")
    response = await send(jira_app, variant(issue_updated()))
    again = await send(jira_app, variant(issue_updated()))

    assert (response.status_code, response.json()["status"]) == (200, "ignored")
    assert again.json()["status"] == "ignored"
    assert response.json()["detail"]
    counted = [record.__dict__["ignored_total"] for record in caplog.records if "ignored_total" in record.__dict__]
    assert len(counted) == 2 and counted[1] == counted[0] + 1
    assert await nothing_stored(jira_app.context)
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_a_new_issue_raised_at_highest_priority_is_nudged(
    jira_app: RunningApp, fake_slack: FakeSlack
) -> None:
    created = sample("jira_issue_created.json")
    created["issue"]["fields"]["priority"] = {"name": "Highest", "id": "1"}

    response = await send(jira_app, created)

    assert response.status_code == 202
    [nudge] = await posts_once_delivered(jira_app, fake_slack, SUPPORT)
    assert "Typo on the pricing page" in nudge["text"]


async def test_a_delivery_that_cannot_be_stored_is_refused_for_a_retry_and_the_retry_nudges(
    jira_app: RunningApp, fake_slack: FakeSlack
) -> None:
    async with table_offline(jira_app.context.engine, "events"):
        refused = await send(jira_app, issue_updated())

    assert (refused.status_code, refused.json()["retry"]) == (503, True)
    assert refused.headers["Retry-After"]
    retried = await send(jira_app, issue_updated())
    assert retried.status_code == 202
    assert await outcome(jira_app, DELIVERY) == "nudged"
    assert len(await posts_once_delivered(jira_app, fake_slack, SUPPORT)) == 1


# ---------------------------------------------------------------------------------------------- refused


def _unsigned(body: bytes) -> dict[str, str]:
    headers = jira_headers(body, delivery_id=DELIVERY)
    del headers["X-Hub-Signature"]
    return headers


def _wrong_secret(body: bytes) -> dict[str, str]:
    return jira_headers(body, delivery_id=DELIVERY, secret="not-the-jira-secret")


def _signed_for_another_body(body: bytes) -> dict[str, str]:
    return jira_headers(body.replace(b"Highest", b"Lowest"), delivery_id=DELIVERY)


def _bare_digest(body: bytes) -> dict[str, str]:
    headers = jira_headers(body, delivery_id=DELIVERY)
    headers["X-Hub-Signature"] = headers["X-Hub-Signature"].removeprefix("sha256=")
    return headers


@pytest.mark.parametrize("sign", [_unsigned, _wrong_secret, _signed_for_another_body, _bare_digest])
async def test_unsigned_or_wrongly_signed_deliveries_are_refused_and_nothing_is_stored(
    jira_app: RunningApp, fake_slack: FakeSlack, sign: Callable[[bytes], dict[str, str]]
) -> None:
    body = json.dumps(issue_updated()).encode()

    response = await jira_app.post("/webhooks/jira", body, sign(body))

    assert response.status_code == 401
    assert response.json()["error"]
    assert await nothing_stored(jira_app.context)
    assert fake_slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("body", UNREADABLE_JSON.values(), ids=UNREADABLE_JSON.keys())
async def test_an_unreadable_body_is_refused_with_a_reason(jira_app: RunningApp, body: bytes) -> None:
    response = await send(jira_app, body)

    assert response.status_code == 400
    assert response.json()["error"].startswith("body ")
    assert await nothing_stored(jira_app.context)


async def test_an_issue_delivery_without_its_key_or_its_delivery_id_is_refused(jira_app: RunningApp) -> None:
    keyless = issue_updated()
    del keyless["issue"]["key"]

    without_key = await send(jira_app, keyless)
    without_id = await send(jira_app, issue_updated(), delivery_id=None)

    assert (without_key.status_code, without_id.status_code) == (400, 400)
    assert "issue.key" in without_key.json()["error"]
    assert "X-Atlassian-Webhook-Identifier" in without_id.json()["error"]
    assert await count(jira_app.context.sessions, ReceivedEvent) == 0


async def test_an_oversized_body_is_refused_before_it_is_read(jira_app: RunningApp) -> None:
    padded = issue_updated()
    padded["issue"]["fields"]["description"] = "x" * jira_app.context.settings.webhook_max_body_bytes

    response = await send(jira_app, padded)

    assert response.status_code == 413
    assert await nothing_stored(jira_app.context)


async def test_without_its_secret_the_jira_webhook_is_off_and_says_which_variable_to_set(
    running_app: RunningApp,
) -> None:
    body = json.dumps(issue_updated()).encode()

    response = await running_app.post("/webhooks/jira", body, jira_headers(body, delivery_id=DELIVERY))

    assert response.status_code == 503
    assert "JIRA_WEBHOOK_SECRET" in response.json()["error"]


def test_whoelse_will_not_start_with_the_example_placeholder_as_the_jira_secret(settings: Settings) -> None:
    copied = settings.model_copy(update={"jira_webhook_secret": SecretStr("replace-me")})

    with pytest.raises(ConfigurationError, match="JIRA_WEBHOOK_SECRET still holds the example placeholder"):
        create_app(copied)

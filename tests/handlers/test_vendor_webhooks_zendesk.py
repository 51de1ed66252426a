"""`POST /webhooks/zendesk`: Zendesk's trigger webhooks and ticket event subscriptions, signed as Zendesk signs them,
through the real app to the (fake) Slack channel watching tickets."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.app import create_app
from bot.settings import Settings
from handlers.webhooks.signature import SignatureRejected
from handlers.webhooks.zendesk import verify_zendesk
from models.events import ReceivedEvent
from tests.conftest import RunningApp, serving, unpaced
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_webhooks import SUPPORT, given_workspace, nothing_stored, outcome, posts_once_delivered
from tests.support.garbage import UNREADABLE_JSON
from tests.support.vendors import ZENDESK_SECRET, sample, zendesk_headers, zendesk_signature

ROOT = Path(__file__).resolve().parents[2]
PRIORITY_CHANGED = "zendesk_ticket_priority_changed.json"
STATUS_CHANGED = "zendesk_ticket_status_changed.json"
TRIGGER = "zendesk_trigger_priority_raised.json"


@pytest.fixture
async def zendesk_app(settings: Settings) -> AsyncIterator[RunningApp]:
    configured = settings.model_copy(update={"zendesk_webhook_secret": SecretStr(ZENDESK_SECRET)})
    async with serving(create_app(configured, delivery_policy=unpaced())) as app:
        await given_workspace(app.context, watching={SUPPORT: "tickets"})
        yield app


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def send(
    app: RunningApp, payload: dict[str, Any] | bytes, *, age: timedelta = timedelta(0)
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = iso(app.context.clock() - age)
    return await app.post("/webhooks/zendesk", body, zendesk_headers(body, timestamp=timestamp))


async def stored_moment(app: RunningApp, response: httpx.Response) -> tuple[str, str, str]:
    async with app.context.sessions() as session:
        stored = await session.get(ReceivedEvent, response.json()["event_id"])
    assert stored is not None
    return stored.source, stored.event, stored.subject_key


# ---------------------------------------------------------------------------------------------- event subscriptions


async def test_a_ticket_raised_to_urgent_asks_the_ticket_channel(
    zendesk_app: RunningApp, fake_slack: FakeSlack
) -> None:
    response = await send(zendesk_app, sample(PRIORITY_CHANGED))

    assert (response.status_code, response.json()["status"]) == (202, "accepted")
    assert await stored_moment(zendesk_app, response) == ("zendesk", "priority_raised", "ticket:5158")
    [nudge] = await posts_once_delivered(zendesk_app, fake_slack, SUPPORT)
    assert "Card payments declined for EU customers" in nudge["text"] and "Urgent" in nudge["text"]


async def test_a_solved_ticket_opened_again_is_nudged_as_reopened(
    zendesk_app: RunningApp, fake_slack: FakeSlack
) -> None:
    response = await send(zendesk_app, sample(STATUS_CHANGED))

    assert response.status_code == 202
    assert await stored_moment(zendesk_app, response) == ("zendesk", "reopened", "ticket:5091")
    [nudge] = await posts_once_delivered(zendesk_app, fake_slack, SUPPORT)
    assert "CSV export times out" in nudge["text"] and "reopened" in nudge["text"]


async def test_a_retried_delivery_is_answered_as_a_duplicate_and_nudges_once(
    zendesk_app: RunningApp, fake_slack: FakeSlack
) -> None:
    first = await send(zendesk_app, sample(PRIORITY_CHANGED))

    # Zendesk retries the same delivery (same id) with a fresh signature timestamp.
    retry = await send(zendesk_app, sample(PRIORITY_CHANGED), age=timedelta(seconds=-30))

    assert first.status_code == 202
    assert (retry.status_code, retry.json()["status"]) == (200, "duplicate_event")
    assert retry.json()["event_id"] == first.json()["event_id"]
    assert len(await posts_once_delivered(zendesk_app, fake_slack, SUPPORT)) == 1


def _lowered(payload: dict[str, Any]) -> dict[str, Any]:
    return payload | {"event": {"current": "LOW", "previous": "HIGH"}}


def _solved(payload: dict[str, Any]) -> dict[str, Any]:
    return sample(STATUS_CHANGED) | {"event": {"current": "SOLVED", "previous": "OPEN"}}


def _comment(payload: dict[str, Any]) -> dict[str, Any]:
    return payload | {
        "type": "zen:event-type:ticket.comment_added",
        "event": {"comment": {"id": "1", "body": "Hi"}},
    }


def _trigger_priority_normal(payload: dict[str, Any]) -> dict[str, Any]:
    return sample(TRIGGER) | {"priority": "Normal"}


@pytest.mark.parametrize("variant", [_lowered, _solved, _comment, _trigger_priority_normal])
async def test_deliveries_about_nothing_the_rules_care_about_are_acknowledged_as_ignored(
    zendesk_app: RunningApp, fake_slack: FakeSlack, variant: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    response = await send(zendesk_app, variant(sample(PRIORITY_CHANGED)))

    assert (response.status_code, response.json()["status"]) == (200, "ignored")
    assert await nothing_stored(zendesk_app.context)
    assert fake_slack.calls_to("chat.postMessage") == []


# ---------------------------------------------------------------------------------------------- trigger webhooks


async def test_a_trigger_webhook_with_the_readme_template_nudges_with_the_tickets_link_and_assignee(
    zendesk_app: RunningApp, fake_slack: FakeSlack
) -> None:
    first = await send(zendesk_app, sample(TRIGGER))
    again = await send(zendesk_app, sample(TRIGGER))

    assert first.status_code == 202
    assert await outcome(zendesk_app, "5158-December 02, 2026 16:20") == "nudged"
    assert again.json()["status"] == "duplicate_event"
    [nudge] = await posts_once_delivered(zendesk_app, fake_slack, SUPPORT)
    shown = json.dumps(nudge["blocks"])
    assert "https://acme.zendesk.com/agent/tickets/5158" in shown and "Priya Natarajan" in shown


def _readme_template() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n### Webhooks from Jira, Zendesk", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README's Zendesk instructions have no JSON body template"
    return found.group(1)


PLACEHOLDERS = {
    "ticket.id": "5160",
    "ticket.updated_at_with_timestamp": "December 02, 2026 16:24",
    "ticket.title": "Invoices show the wrong VAT",
    "ticket.priority": "High",
    "ticket.status": "Open",
    "ticket.link": "acme.zendesk.com/agent/tickets/5160",
    "ticket.assignee.name": "Priya Natarajan",
    # Unassigned tickets render it empty.
    "ticket.assignee.email": "",
    "ticket.requester.email": "buyer@globex.example",
}


async def test_the_body_template_in_the_readme_is_accepted_once_zendesk_fills_it_in(
    zendesk_app: RunningApp, fake_slack: FakeSlack
) -> None:
    template = _readme_template()
    rendered = re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda placeholder: PLACEHOLDERS[placeholder.group(1)], template)

    response = await send(zendesk_app, rendered.encode())

    assert response.status_code == 202, response.text
    [nudge] = await posts_once_delivered(zendesk_app, fake_slack, SUPPORT)
    assert "Invoices show the wrong VAT" in nudge["text"]
    # The requester is nobody in the workspace: their address is not shown.
    assert "buyer@globex.example" not in json.dumps(nudge)


async def test_a_trigger_body_naming_no_known_moment_is_refused_naming_the_field(zendesk_app: RunningApp) -> None:
    response = await send(zendesk_app, sample(TRIGGER) | {"event": "comment_added"})

    assert response.status_code == 400
    assert "event must be one of" in response.json()["error"]
    assert await nothing_stored(zendesk_app.context)


# ---------------------------------------------------------------------------------------------- refused


def _signed(body: bytes, *, age: timedelta = timedelta(0), secret: str = ZENDESK_SECRET) -> dict[str, str]:
    return zendesk_headers(body, timestamp=iso(datetime.now().astimezone() - age), secret=secret)


def _unsigned(body: bytes) -> dict[str, str]:
    headers = _signed(body)
    del headers["X-Zendesk-Webhook-Signature"]
    return headers


def _without_timestamp(body: bytes) -> dict[str, str]:
    headers = _signed(body)
    del headers["X-Zendesk-Webhook-Signature-Timestamp"]
    return headers


def _wrong_secret(body: bytes) -> dict[str, str]:
    return _signed(body, secret="not-the-zendesk-secret")


def _signed_for_another_body(body: bytes) -> dict[str, str]:
    return _signed(body.replace(b"URGENT", b"LOW"))


def _six_minutes_old(body: bytes) -> dict[str, str]:
    return _signed(body, age=timedelta(minutes=6))


def _timestamp_changed_after_signing(body: bytes) -> dict[str, str]:
    headers = _signed(body)
    headers["X-Zendesk-Webhook-Signature-Timestamp"] = iso(datetime.now().astimezone() - timedelta(seconds=5))
    return headers


def _hex_instead_of_base64(body: bytes) -> dict[str, str]:
    headers = _signed(body)
    headers["X-Zendesk-Webhook-Signature"] = "zz" + headers["X-Zendesk-Webhook-Signature"]
    return headers


@pytest.mark.parametrize(
    "sign",
    [
        _unsigned,
        _without_timestamp,
        _wrong_secret,
        _signed_for_another_body,
        _six_minutes_old,
        _timestamp_changed_after_signing,
        _hex_instead_of_base64,
    ],
)
async def test_unsigned_wrongly_signed_or_stale_deliveries_are_refused_and_nothing_is_stored(
    zendesk_app: RunningApp, fake_slack: FakeSlack, sign: Callable[[bytes], dict[str, str]]
) -> None:
    body = json.dumps(sample(PRIORITY_CHANGED)).encode()

    response = await zendesk_app.post("/webhooks/zendesk", body, sign(body))

    assert response.status_code == 401
    assert response.json()["error"]
    assert await nothing_stored(zendesk_app.context)
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_a_timestamp_four_minutes_old_is_still_accepted(zendesk_app: RunningApp) -> None:
    response = await send(zendesk_app, sample(PRIORITY_CHANGED), age=timedelta(minutes=4))

    assert response.status_code == 202


@pytest.mark.parametrize("body", UNREADABLE_JSON.values(), ids=UNREADABLE_JSON.keys())
async def test_an_unreadable_body_is_refused_with_a_reason(zendesk_app: RunningApp, body: bytes) -> None:
    response = await send(zendesk_app, body)

    assert response.status_code == 400
    assert response.json()["error"].startswith("body ")
    assert await nothing_stored(zendesk_app.context)


async def test_an_oversized_body_is_refused(zendesk_app: RunningApp) -> None:
    padded = sample(PRIORITY_CHANGED)
    padded["detail"]["description"] = "x" * zendesk_app.context.settings.webhook_max_body_bytes

    response = await send(zendesk_app, padded)

    assert response.status_code == 413
    assert await nothing_stored(zendesk_app.context)


async def test_without_its_secret_the_zendesk_webhook_is_off_and_says_which_variable_to_set(
    running_app: RunningApp,
) -> None:
    response = await send(running_app, sample(PRIORITY_CHANGED))

    assert response.status_code == 503
    assert "ZENDESK_WEBHOOK_SECRET" in response.json()["error"]


# ---------------------------------------------------------------------------------------------- the verifier


def test_the_signature_is_base64_of_hmac_sha256_over_the_timestamp_then_the_body() -> None:
    # Zendesk's documented recipe, computed outside Python with
    # printf '%s' "$timestamp$body" | openssl dgst -sha256 -hmac "$secret" -binary | base64
    body, timestamp = b'{"id":"1"}', "2026-12-02T16:20:07Z"
    now = datetime.fromisoformat("2026-12-02T16:21:00+00:00")
    signature = "+5fnMtJEWg42+0M6CGJBlIQmF2TMkt7IBgJueU9uZfo="
    assert zendesk_signature(body, timestamp=timestamp) == signature  # the tests sign as Zendesk does

    verify_zendesk(
        body=body, signature=signature, timestamp=timestamp, secret=ZENDESK_SECRET, now=now, max_age_seconds=300
    )
    with pytest.raises(SignatureRejected):
        verify_zendesk(
            body=body + b" ",
            signature=signature,
            timestamp=timestamp,
            secret=ZENDESK_SECRET,
            now=now,
            max_age_seconds=300,
        )

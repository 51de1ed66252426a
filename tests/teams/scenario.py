"""Teams scenarios through the real app, for the poll and round-table tests: several people, a clock moved by hand,
and the cards whoelse posted read back from the fake Bot Connector."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

import httpx

from bot.app import create_app
from bot.delivery import DeliveryPolicy
from bot.settings import Settings
from scheduler.elephant_jobs import sweep_polls
from tests.conftest import RunningApp, serving
from tests.fakes.bot_connector import FakeBotConnector, SentActivity
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.handlers.test_elephant_command import Clock
from tests.support.teams import APP_ID, BOT_FRAMEWORK_ISSUER, teams_request
from tests.teams.activities import CHANNEL, dialog_fetch, dialog_submit, message_to_bot

# Three people, so a poll reaches the minimum that keeps answers anonymous: (Entra object id, Bot Framework id).
PEOPLE = {
    "Jane Doe": ("3f2a9c1e-5d4b-4e8a-9b7c-6a5d4c3b2a10", "29:1jane"),
    "Omar Haddad": ("7b1d0e2f-3c4a-4b5c-8d6e-9f0a1b2c3d41", "29:1omar"),
    "Lena Park": ("c2e4a6b8-0d1f-4a3b-9c5d-7e9f1a3b5c72", "29:1lena"),
}
OTHER_CONVERSATION = "19:other-channel@thread.tacv2"


@asynccontextmanager
async def serving_teams(
    settings: Settings, connector: FakeBotConnector, login: FakeMicrosoftLogin, clock: Clock
) -> AsyncIterator[RunningApp]:
    """Slack and Teams on together, time moved by hand, delivery and jobs driven by the test."""
    both = Settings(
        _env_file=None,
        **{
            **settings.model_dump(),
            "teams_app_id": APP_ID,
            "teams_app_password": connector.app_password,
            "teams_openid_metadata_url": login.metadata_url,
            "teams_token_url": connector.token_url,
        },
    )
    application = create_app(
        both,
        clock=clock,
        background_workers=False,
        job_sources=[],
        delivery_policy=DeliveryPolicy(channel_interval=timedelta(0)),
    )
    async with serving(application) as running:
        yield running


@contextmanager
def running_connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector(app_id=APP_ID)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


async def send(
    app: RunningApp, login: FakeMicrosoftLogin, connector: FakeBotConnector, activity: dict[str, Any]
) -> httpx.Response:
    token = login.token(aud=APP_ID, iss=BOT_FRAMEWORK_ISSUER, serviceurl=connector.service_url)
    body, headers = teams_request(activity, token)
    response = await app.post("/api/messages", body, headers)
    assert response.status_code == 200, response.text
    return response


def by(person: str, activity: dict[str, Any]) -> dict[str, Any]:
    """The same activity, sent by another of PEOPLE."""
    aad, bot_framework_id = PEOPLE[person]
    return {**activity, "from": {"id": bot_framework_id, "name": person, "aadObjectId": aad}}


def in_conversation(conversation_id: str, activity: dict[str, Any]) -> dict[str, Any]:
    """The same activity, from a card in another conversation of the tenant."""
    return {**activity, "conversation": {**activity["conversation"], "id": conversation_id}}


def cards(connector: FakeBotConnector) -> Iterator[tuple[SentActivity, dict[str, Any]]]:
    """Every card whoelse posted or updated, in order."""
    for sent in connector.activities():
        for attachment in sent.activity.get("attachments") or []:
            yield sent, attachment["content"]


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [action for element in card["body"] for action in element.get("actions", [])]


def button_value(card: dict[str, Any], verb: str) -> str:
    """The value a card's button sends: in `data` for a Universal Action, beside the verb for a dialog button."""
    for action in buttons(card):
        if action.get("verb") == verb or action.get("data", {}).get("verb") == verb:
            return str(action["data"]["value"])
    raise AssertionError(f"no {verb} button on the card")


def dialog_card(response: httpx.Response) -> dict[str, Any]:
    """The Adaptive Card of the dialog a task/fetch was answered with."""
    body = response.json()
    assert body["task"]["type"] == "continue", body
    card: dict[str, Any] = body["task"]["value"]["card"]["content"]
    return card


def filled(card: dict[str, Any], **inputs: str) -> dict[str, Any]:
    """What Teams sends when the dialog's form is submitted with these inputs: its submit data and the inputs."""
    [submit] = card["actions"]
    return {**submit["data"], **inputs}


def closing_text(response: httpx.Response) -> str:
    """The message a dialog closes with (or a task/fetch answers with instead of a form)."""
    body = response.json()
    assert body["task"]["type"] == "message", body
    return str(body["task"]["value"])


def action_text(response: httpx.Response) -> str:
    """The short message a Universal Action is answered with in place of the card's spinner."""
    body = response.json()
    assert body["type"] == "application/vnd.microsoft.activity.message", body
    return str(body["value"])


class Teams:
    """What people do in the channel, and what whoelse posted there."""

    def __init__(self, app: RunningApp, login: FakeMicrosoftLogin, connector: FakeBotConnector) -> None:
        self.app, self.login, self.connector = app, login, connector

    async def type(self, text: str, person: str = "Jane Doe") -> str:
        """Types a command to whoelse in the channel; returns its reply (in that message's thread)."""
        typed = by(person, message_to_bot(text, self.connector.service_url))
        await send(self.app, self.login, self.connector, typed)
        await self.app.context.delivery.drain()
        thread = f"{CHANNEL};messageid={typed['id']}"
        [reply] = [sent for sent in self.connector.activities() if sent.conversation_id == thread]
        # A reply with parts is a card: everything it shows.
        return str(reply.activity.get("text") or json.dumps(reply.activity, ensure_ascii=False))

    async def form(self, verb: str, poll_id: str, person: str) -> dict[str, Any]:
        response = await send(
            self.app,
            self.login,
            self.connector,
            by(person, dialog_fetch(verb, {"value": poll_id}, self.connector.service_url)),
        )
        return dialog_card(response)

    async def submit(self, data: dict[str, Any], person: str, *, conversation: str = CHANNEL) -> str:
        activity = in_conversation(conversation, by(person, dialog_submit(data, self.connector.service_url)))
        return closing_text(await send(self.app, self.login, self.connector, activity))

    def posted(self, words: str) -> list[dict[str, Any]]:
        return [card for sent, card in cards(self.connector) if sent.method == "POST" and words in str(card)]

    async def move_on(self, clock: Clock, **delta: float) -> None:
        """Moves time on and lets the polls move on with it."""
        clock.advance(**delta)
        await sweep_polls(self.app.context)
        await self.app.context.delivery.drain()

"""A request signed with the real signing secret whose fields have the wrong types is refused, never a 500.

Only a holder of the signing secret can send one (or Slack, after a change to its payloads), but the answer must
still be a 4xx with a reason and no traceback, and nothing may be recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import RunningApp, serving
from tests.fakes.slack_api import FakeSlack
from tests.support import databases
from tests.support.signing import slack_event, slack_form, slack_interaction

USER = {"id": "U0000001", "team_id": "T0001"}
TEAM = {"id": "T0001"}
CHANNEL = {"id": "C0000001"}

WRONGLY_TYPED_EVENTS: dict[str, dict[str, Any]] = {
    "team_id a number": {"type": "event_callback", "team_id": 5, "event": {"type": "message", "text": "x"}},
    "team a number": {"type": "event_callback", "team": 5, "event": {"type": "message", "text": "x"}},
    "event a string": {"type": "event_callback", "team_id": "T0001", "event": "message"},
    "event a list": {"type": "event_callback", "team_id": "T0001", "event": ["message"]},
    "authorizations a string": {
        "type": "event_callback",
        "team_id": "T0001",
        "authorizations": "x",
        "event": {"type": "message", "text": "x"},
    },
    "event channel an object": {
        "type": "event_callback",
        "team_id": "T0001",
        "event": {"type": "message", "text": "x", "channel": {"id": 1}, "user": ["U1"]},
    },
    "enterprise a number": {
        "type": "event_callback",
        "team_id": "T0001",
        "enterprise": 7,
        "event": {"type": "message", "text": "x"},
    },
}

WRONGLY_TYPED_INTERACTIONS: dict[str, dict[str, Any]] = {
    "user a number": {"type": "block_actions", "user": 5, "team": TEAM, "channel": CHANNEL, "actions": []},
    "team a string": {"type": "block_actions", "user": USER, "team": "T0001", "channel": CHANNEL, "actions": []},
    "actions a string": {"type": "block_actions", "user": USER, "team": TEAM, "channel": CHANNEL, "actions": "x"},
    "an action a number": {
        "type": "block_actions",
        "user": USER,
        "team": TEAM,
        "channel": CHANNEL,
        "actions": [5],
    },
    "action_id a list": {
        "type": "block_actions",
        "user": USER,
        "team": TEAM,
        "channel": CHANNEL,
        "actions": [{"action_id": ["nudge_nobody"], "value": "1"}],
    },
    "channel a number": {"type": "block_actions", "user": USER, "team": TEAM, "channel": 3, "actions": []},
    "view a string": {"type": "view_submission", "user": USER, "team": TEAM, "view": "x"},
    "view state values a list": {
        "type": "view_submission",
        "user": USER,
        "team": TEAM,
        "view": {"callback_id": "settings", "private_metadata": "{}", "state": {"values": []}},
    },
    "type a number": {"type": 5, "user": USER, "team": TEAM},
}


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    return databases.sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    async with serving(create_app(settings, background_workers=False)) as running:
        yield running


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


@pytest.mark.parametrize("payload", WRONGLY_TYPED_EVENTS.values(), ids=WRONGLY_TYPED_EVENTS.keys())
async def test_a_signed_event_with_wrongly_typed_fields_is_refused_without_a_traceback(
    app: RunningApp, caplog: pytest.LogCaptureFixture, fake_slack: FakeSlack, payload: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    body, headers = slack_event(payload)

    response = await app.post("/slack/events", body, headers)

    assert response.status_code == 400, response.text
    assert "must" in response.json()["error"]
    assert errors_logged(caplog) == []
    assert fake_slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("payload", WRONGLY_TYPED_INTERACTIONS.values(), ids=WRONGLY_TYPED_INTERACTIONS.keys())
async def test_a_signed_click_with_wrongly_typed_fields_is_refused_without_a_traceback(
    app: RunningApp, caplog: pytest.LogCaptureFixture, fake_slack: FakeSlack, payload: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    body, headers = slack_interaction(payload)

    response = await app.post("/slack/events", body, headers)

    assert response.status_code == 400, response.text
    assert "must" in response.json()["error"]
    assert errors_logged(caplog) == []
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_a_signed_slash_command_with_unexpected_fields_is_answered_without_a_traceback(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body, headers = slack_form({"command": "/whoelse", "text": json.dumps({"a": 1}), "team_id": "", "user_id": ""})

    response = await app.post("/slack/events", body, headers)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "a slash command needs team_id, channel_id, user_id"
    assert errors_logged(caplog) == []

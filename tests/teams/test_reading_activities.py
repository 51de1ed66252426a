"""An authenticated request whose body is too big or is not an activity gets a 4xx with a reason, never a 5xx,
and the body (people's words) never reaches the logs."""

from __future__ import annotations

import json

import pytest

from handlers.teams.messages import MAX_ACTIVITY_BYTES
from tests.conftest import RunningApp
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.support.teams import activity, channel_claims, teams_request

SECRET_WORDS = "our-biggest-renewal-is-at-risk"


async def test_a_body_past_the_limit_is_refused_with_413(
    teams_app: RunningApp, microsoft_login: FakeMicrosoftLogin
) -> None:
    too_big = activity(text="x" * MAX_ACTIVITY_BYTES)
    body, headers = teams_request(too_big, microsoft_login.token(**channel_claims()))
    response = await teams_app.post("/api/messages", body, headers)
    assert response.status_code == 413


async def test_a_body_past_the_limit_without_a_token_is_refused_before_it_is_read(teams_app: RunningApp) -> None:
    body, headers = teams_request(activity(text="x" * MAX_ACTIVITY_BYTES), None)
    assert (await teams_app.post("/api/messages", body, headers)).status_code == 401


NOT_ACTIVITIES = {
    "malformed JSON": (f'{{"type": "message", "text": "{SECRET_WORDS}"'.encode(), "Invalid JSON"),
    "not an object": (json.dumps([SECRET_WORDS]).encode(), "not an activity"),
    "no type": (json.dumps({**activity(text=SECRET_WORDS), "type": None}).encode(), "type"),
    "type of the wrong kind": (json.dumps(activity(type=42, text=SECRET_WORDS)).encode(), "type"),
    "blank channel": (json.dumps(activity(channelId="  ", text=SECRET_WORDS)).encode(), "not an activity"),
    "sub-channel contradicting the product": (
        json.dumps(
            activity(
                channelId="msteams:copilot", entities=[{"type": "ProductInfo", "id": "other"}], text=SECRET_WORDS
            )
        ).encode(),
        "productInfo",
    ),
    "no service URL": (json.dumps({**activity(text=SECRET_WORDS), "serviceUrl": None}).encode(), "serviceUrl"),
}


@pytest.mark.parametrize(("body", "reason"), NOT_ACTIVITIES.values(), ids=NOT_ACTIVITIES.keys())
async def test_a_body_that_is_not_an_activity_is_a_400_with_a_reason_and_is_never_logged(
    teams_app: RunningApp,
    microsoft_login: FakeMicrosoftLogin,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    reason: str,
) -> None:
    _, headers = teams_request(b"", microsoft_login.token(**channel_claims()))
    caplog.set_level("DEBUG")
    response = await teams_app.post("/api/messages", body, headers)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert SECRET_WORDS not in response.text
    assert SECRET_WORDS not in caplog.text
    assert all(SECRET_WORDS not in str(record.exc_info) for record in caplog.records)

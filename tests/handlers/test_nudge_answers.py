"""Answering a nudge in Slack: loop colleagues in, say nobody else needs to know, offer or ask for help."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.settings import Settings
from habits.nudge_message import HELP_OPEN, HELP_SUBMIT, LOOP_IN_NOBODY, LOOP_IN_PICK, actions_block_id
from habits.nudging import nudge_by_hand
from models.base import utcnow
from models.db import session_scope
from models.nudges import HelpExchange, LoopIn, Nudge
from tests.conftest import TEAM_ID, RunningApp, eventually
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slash_commands import CHANNEL, running
from tests.support.signing import slack_interaction


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    async with running(settings) as application:
        yield application


async def posted_nudge(app: RunningApp, fake_slack: FakeSlack) -> tuple[int, str]:
    """A nudge asked by hand and delivered; returns its id and its Slack ts."""
    async with session_scope(app.context.sessions) as session:
        nudge = await nudge_by_hand(
            session, workspace_id=TEAM_ID, channel_id=CHANNEL, user_id="UASKER", text="Acme renewal", now=utcnow()
        )
    app.context.delivery.wake()
    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 1)
    return nudge.id, fake_slack.messages(CHANNEL)[0]["ts"]


def click(action: dict[str, Any], *, user: str = "UANA", team: str = TEAM_ID, ts: str = "1.0") -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": team},
        "user": {"id": user},
        "api_app_id": "AWHOELSE",
        "trigger_id": "trigger-42",
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "message_ts": ts, "channel_id": CHANNEL},
        "actions": [action],
    }


def pick(nudge_id: int, users: list[str]) -> dict[str, Any]:
    return {
        "type": "multi_users_select",
        "action_id": LOOP_IN_PICK,
        "block_id": actions_block_id(nudge_id),
        "selected_users": users,
    }


def button(action_id: str, nudge_id: int) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "block_id": actions_block_id(nudge_id),
        "value": str(nudge_id),
    }


def help_submission(
    nudge_id: int, *, kind: str = "offer", category: str = "engineering", text: str = ""
) -> dict[str, Any]:
    def select(value: str | None) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"value": value} if value else None}

    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": "UANA"},
        "api_app_id": "AWHOELSE",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": HELP_SUBMIT,
            "private_metadata": str(nudge_id),
            "state": {
                "values": {
                    "kind": {"kind": {"type": "radio_buttons", "selected_option": {"value": kind}}},
                    "category": {"category": select(category)},
                    "text": {"text": {"type": "plain_text_input", "value": text}},
                }
            },
        },
    }


async def send(app: RunningApp, payload: dict[str, Any]) -> Any:
    body, headers = slack_interaction(payload)
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200, response.text
    return response


async def loop_ins(app: RunningApp, nudge_id: int) -> list[tuple[str, str | None]]:
    async with session_scope(app.context.sessions) as session:
        rows = await session.execute(
            select(LoopIn.by_user, LoopIn.looped_user).where(LoopIn.nudge_id == nudge_id).order_by(LoopIn.id)
        )
        return [(by, looped) for by, looped in rows]


async def first_answer(app: RunningApp, nudge_id: int) -> object:
    async with session_scope(app.context.sessions) as session:
        nudge = await session.get(Nudge, nudge_id)
        assert nudge is not None
        return nudge.first_answer_at


async def test_picked_colleagues_are_mentioned_in_the_thread_with_who_looped_them_in_and_why(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)

    await send(app, click(pick(nudge_id, ["UBO", "UCY"])))

    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 2)
    reply = fake_slack.messages(CHANNEL)[1]
    assert reply["thread_ts"] == nudge_ts
    assert "<@UANA> looped in <@UBO>, <@UCY>" in str(reply["blocks"])
    assert "Acme renewal" in str(reply["blocks"])
    assert await loop_ins(app, nudge_id) == [("UANA", "UBO"), ("UANA", "UCY")]
    assert await first_answer(app, nudge_id) is not None


async def test_picking_the_same_people_again_records_and_mentions_them_once(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, _ = await posted_nudge(app, fake_slack)
    await send(app, click(pick(nudge_id, ["UBO"])))
    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 2)

    await send(app, click(pick(nudge_id, ["UBO", "UANA"])))  # the same colleague, and the picker themself
    await app.context.delivery.drain()

    assert len(fake_slack.messages(CHANNEL)) == 2
    assert await loop_ins(app, nudge_id) == [("UANA", "UBO")]


async def test_nobody_else_is_a_recorded_answer_acknowledged_only_to_the_person(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, _ = await posted_nudge(app, fake_slack)

    await send(app, click(button(LOOP_IN_NOBODY, nudge_id)))
    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    await send(app, click(button(LOOP_IN_NOBODY, nudge_id)))
    await eventually(lambda: len(fake_slack.ephemerals) == 2)

    assert await loop_ins(app, nudge_id) == [("UANA", None)]
    assert "nobody else" in fake_slack.ephemerals[0]["text"].lower()
    assert "already" in fake_slack.ephemerals[1]["text"]
    assert len(fake_slack.messages(CHANNEL)) == 1, "no channel noise for a 'nobody else'"
    assert await first_answer(app, nudge_id) is not None


async def test_the_help_button_opens_a_form_about_this_nudge(app: RunningApp, fake_slack: FakeSlack) -> None:
    nudge_id, _ = await posted_nudge(app, fake_slack)

    await send(app, click(button(HELP_OPEN, nudge_id)))

    await eventually(lambda: len(fake_slack.views_opened) == 1)
    view = fake_slack.views_opened[0]["view"]
    assert view["callback_id"] == HELP_SUBMIT
    assert view["private_metadata"] == str(nudge_id)
    assert {block["block_id"] for block in view["blocks"] if block["type"] == "input"} == {
        "kind",
        "category",
        "text",
    }


async def test_a_help_offer_is_recorded_and_posted_in_the_thread(app: RunningApp, fake_slack: FakeSlack) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)

    response = await send(app, help_submission(nudge_id, text="I can join Thursday's technical call"))

    assert response.text == ""
    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 2)
    reply = fake_slack.messages(CHANNEL)[1]
    assert reply["thread_ts"] == nudge_ts
    assert "<@UANA> offers *engineering* help: I can join Thursday's technical call" in str(reply["blocks"])
    async with session_scope(app.context.sessions) as session:
        exchanges = list(await session.scalars(select(HelpExchange)))
    assert [(e.user_id, e.kind, e.category, e.workspace_id) for e in exchanges] == [
        ("UANA", "offer", "engineering", TEAM_ID)
    ]


async def test_an_incomplete_help_form_gets_field_errors_and_records_nothing(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, _ = await posted_nudge(app, fake_slack)

    response = await send(app, help_submission(nudge_id, category="", text="   "))

    assert response.json() == {
        "response_action": "errors",
        "errors": {"category": "Choose a team.", "text": "Say what you can help with, or what you need."},
    }
    async with session_scope(app.context.sessions) as session:
        assert list(await session.scalars(select(HelpExchange))) == []


async def test_buttons_keep_working_after_a_restart(settings: Settings, fake_slack: FakeSlack) -> None:
    async with running(settings) as first:
        nudge_id, nudge_ts = await posted_nudge(first, fake_slack)

    async with running(settings) as restarted:
        await send(restarted, click(pick(nudge_id, ["UBO"])))
        await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 2)

    assert fake_slack.messages(CHANNEL)[1]["thread_ts"] == nudge_ts


async def test_a_nudge_from_another_workspace_is_refused(app: RunningApp, fake_slack: FakeSlack) -> None:
    nudge_id, _ = await posted_nudge(app, fake_slack)

    await send(app, click(pick(nudge_id, ["UBO"]), team="TOTHER"))
    await eventually(lambda: len(fake_slack.ephemerals) == 1)

    assert await loop_ins(app, nudge_id) == []
    assert "not from this workspace" in fake_slack.ephemerals[0]["text"]
    assert len(fake_slack.messages(CHANNEL)) == 1

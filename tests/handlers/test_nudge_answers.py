"""Answering a nudge in Slack: loop colleagues in, say nobody else needs to know, offer or ask for help."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.settings import Settings
from habits.nudge_message import HELP_OPEN, HELP_SUBMIT, LOOP_IN_NOBODY, LOOP_IN_PICK, actions_block_id
from habits.nudging import nudge_by_hand
from models.base import utcnow
from models.db import session_scope
from models.nudges import HelpExchange, LoopIn, Nudge
from tests.conftest import TEAM_ID, RunningApp, eventually
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.handlers.slash_commands import CHANNEL, running
from tests.support.signing import slack_interaction

OTHER_TEAM = "TOTHER"


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    for user in ("UANA", "UBO", "UCY"):
        fake_slack.add_user(user)
    fake_slack.add_user("UDEPLOYBOT", is_bot=True)
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


def click(action: dict[str, Any], *, ts: str, user: str = "UANA", team: str = TEAM_ID) -> dict[str, Any]:
    """A block_actions payload as Slack sends it when someone uses a control on the nudge posted at `ts`."""
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "AWHOELSE",
        "trigger_id": "trigger-42",
        "channel": {"id": CHANNEL, "name": "sales"},
        "container": {"type": "message", "message_ts": ts, "channel_id": CHANNEL, "is_ephemeral": False},
        "actions": [action],
    }


def pick(nudge_id: int, users: list[str]) -> dict[str, Any]:
    # Slack sends the whole selection each time it changes; a multi-user picker carries no value, only its block.
    return {
        "type": "multi_users_select",
        "action_id": LOOP_IN_PICK,
        "block_id": actions_block_id(nudge_id),
        "selected_users": users,
        "action_ts": "1700000000.000100",
    }


def button(action_id: str, nudge_id: int) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "block_id": actions_block_id(nudge_id),
        "value": str(nudge_id),
        "action_ts": "1700000000.000100",
    }


def help_form(
    nudge_id: int | str,
    *,
    kind: str | None = "offer",
    category: str | None = "engineering",
    text: str | None = "",
    team: str = TEAM_ID,
) -> dict[str, Any]:
    """A view_submission of the help form, with the fields as Slack reports them."""

    def chosen(element: str, value: str | None) -> dict[str, Any]:
        return {"type": element, "selected_option": {"value": value} if value else None}

    return {
        "type": "view_submission",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": "UANA", "team_id": team},
        "api_app_id": "AWHOELSE",
        "trigger_id": "trigger-43",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": HELP_SUBMIT,
            "private_metadata": str(nudge_id),
            "state": {
                "values": {
                    "kind": {"kind": chosen("radio_buttons", kind)},
                    "category": {"category": chosen("static_select", category)},
                    "text": {"text": {"type": "plain_text_input", "value": text}},
                }
            },
        },
    }


async def send(app: RunningApp, payload: dict[str, Any]) -> httpx.Response:
    body, headers = slack_interaction(payload)
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200, response.text
    return response


async def loop_ins(app: RunningApp, nudge_id: int) -> list[LoopIn]:
    async with session_scope(app.context.sessions) as session:
        return list(await session.scalars(select(LoopIn).where(LoopIn.nudge_id == nudge_id).order_by(LoopIn.id)))


async def help_exchanges(app: RunningApp) -> list[HelpExchange]:
    async with session_scope(app.context.sessions) as session:
        return list(await session.scalars(select(HelpExchange).order_by(HelpExchange.id)))


async def first_answer(app: RunningApp, nudge_id: int) -> datetime | None:
    async with session_scope(app.context.sessions) as session:
        nudge = await session.get(Nudge, nudge_id)
        assert nudge is not None
        return nudge.first_answer_at


def thread_replies(fake_slack: FakeSlack, nudge_ts: str) -> list[dict[str, Any]]:
    return [message for message in fake_slack.messages(CHANNEL) if message["thread_ts"] == nudge_ts]


async def test_picked_colleagues_are_mentioned_in_the_thread_with_who_looped_them_in_and_why(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)
    before = utcnow()

    await send(app, click(pick(nudge_id, ["UBO", "UCY"]), ts=nudge_ts))

    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 2)
    reply = fake_slack.messages(CHANNEL)[1]
    assert reply["thread_ts"] == nudge_ts
    assert reply["blocks"][0]["text"]["text"] == "<@UANA> looped in <@UBO> and <@UCY>: *Acme renewal*"
    rows = await loop_ins(app, nudge_id)
    assert [(row.workspace_id, row.by_user, row.looped_user) for row in rows] == [
        (TEAM_ID, "UANA", "UBO"),
        (TEAM_ID, "UANA", "UCY"),
    ]
    assert before <= rows[0].created_at <= utcnow()
    assert await first_answer(app, nudge_id) == rows[0].created_at


async def test_changing_the_selection_mentions_only_people_not_yet_looped_in(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)
    await send(app, click(pick(nudge_id, ["UBO"]), ts=nudge_ts))
    await eventually(lambda: len(thread_replies(fake_slack, nudge_ts)) == 1)

    await send(app, click(pick(nudge_id, ["UBO", "UCY"]), ts=nudge_ts))

    await eventually(lambda: len(thread_replies(fake_slack, nudge_ts)) == 2)
    assert thread_replies(fake_slack, nudge_ts)[1]["blocks"][0]["text"]["text"].startswith(
        "<@UANA> looped in <@UCY>:"
    )
    assert [row.looped_user for row in await loop_ins(app, nudge_id)] == ["UBO", "UCY"]


async def test_picking_the_same_people_again_records_and_posts_nothing_new(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)
    await send(app, click(pick(nudge_id, ["UBO"]), ts=nudge_ts))
    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 2)

    await send(app, click(pick(nudge_id, ["UBO"]), ts=nudge_ts))
    await app.context.delivery.drain()

    assert len(fake_slack.messages(CHANNEL)) == 2
    assert fake_slack.duplicates_by_metadata_key() == {}
    assert [(row.by_user, row.looped_user) for row in await loop_ins(app, nudge_id)] == [("UANA", "UBO")]


async def test_the_picker_themself_and_bots_are_never_looped_in(app: RunningApp, fake_slack: FakeSlack) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)

    await send(app, click(pick(nudge_id, ["UANA", "UDEPLOYBOT", BOT_USER_ID, "USLACKBOT"]), ts=nudge_ts))
    await send(app, click(pick(nudge_id, ["UANA", "UDEPLOYBOT", BOT_USER_ID, "USLACKBOT", "UBO"]), ts=nudge_ts))

    await eventually(lambda: len(thread_replies(fake_slack, nudge_ts)) == 1)
    await app.context.delivery.drain()
    assert thread_replies(fake_slack, nudge_ts)[0]["blocks"][0]["text"]["text"].startswith(
        "<@UANA> looped in <@UBO>:"
    )
    assert len(thread_replies(fake_slack, nudge_ts)) == 1
    assert [row.looped_user for row in await loop_ins(app, nudge_id)] == ["UBO"]


async def test_nobody_else_is_a_recorded_answer_acknowledged_only_to_the_person(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)

    await send(app, click(button(LOOP_IN_NOBODY, nudge_id), ts=nudge_ts))
    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    await send(app, click(button(LOOP_IN_NOBODY, nudge_id), ts=nudge_ts))
    await eventually(lambda: len(fake_slack.ephemerals) == 2)

    rows = await loop_ins(app, nudge_id)
    assert [(row.by_user, row.looped_user) for row in rows] == [("UANA", None)]
    assert await first_answer(app, nudge_id) == rows[0].created_at
    first, second = fake_slack.ephemerals
    assert (first["channel"], first["user"]) == (CHANNEL, "UANA")
    assert "nobody else needs to know" in first["text"]
    assert "already" in second["text"]
    assert len(fake_slack.messages(CHANNEL)) == 1, "no channel noise for a 'nobody else'"


async def test_the_help_button_opens_a_form_about_this_nudge(app: RunningApp, fake_slack: FakeSlack) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)

    await send(app, click(button(HELP_OPEN, nudge_id), ts=nudge_ts))

    await eventually(lambda: len(fake_slack.views_opened) == 1)
    opened = fake_slack.views_opened[0]
    assert opened["trigger_id"] == "trigger-42"
    view = opened["view"]
    assert (view["callback_id"], view["private_metadata"]) == (HELP_SUBMIT, str(nudge_id))
    inputs = {block["block_id"]: block for block in view["blocks"] if block["type"] == "input"}
    assert list(inputs) == ["kind", "category", "text"]
    assert [option["value"] for option in inputs["kind"]["element"]["options"]] == ["offer", "request"]
    assert [option["value"] for option in inputs["category"]["element"]["options"]] == [
        "sales",
        "engineering",
        "marketing",
        "support",
        "other",
    ]
    assert inputs["text"]["optional"] is False


async def test_a_help_offer_is_recorded_and_posted_in_the_thread(app: RunningApp, fake_slack: FakeSlack) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)
    before = utcnow()

    response = await send(app, help_form(nudge_id, text="I can join Thursday's technical call"))

    assert response.text == "", "the form closes"
    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 2)
    reply = fake_slack.messages(CHANNEL)[1]
    assert reply["thread_ts"] == nudge_ts
    assert reply["blocks"][0]["text"]["text"] == (
        "<@UANA> offers *engineering* help: I can join Thursday's technical call"
    )
    [exchange] = await help_exchanges(app)
    assert (exchange.workspace_id, exchange.nudge_id, exchange.user_id, exchange.kind, exchange.category) == (
        TEAM_ID,
        nudge_id,
        "UANA",
        "offer",
        "engineering",
    )
    assert before <= exchange.created_at <= utcnow()
    assert await first_answer(app, nudge_id) == exchange.created_at


async def test_a_help_request_is_posted_in_the_thread(app: RunningApp, fake_slack: FakeSlack) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)

    await send(app, help_form(nudge_id, kind="request", category="marketing", text="A case study for Acme?"))

    await eventually(lambda: len(thread_replies(fake_slack, nudge_ts)) == 1)
    assert thread_replies(fake_slack, nudge_ts)[0]["blocks"][0]["text"]["text"] == (
        "<@UANA> asks for *marketing* help: A case study for Acme?"
    )
    assert [(e.kind, e.category) for e in await help_exchanges(app)] == [("request", "marketing")]


async def test_an_incomplete_help_form_gets_field_errors_and_records_nothing(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, _ = await posted_nudge(app, fake_slack)

    incomplete = await send(app, help_form(nudge_id, kind=None, category=None, text="   "))
    too_long = await send(app, help_form(nudge_id, text="x" * 2001))

    assert incomplete.json() == {
        "response_action": "errors",
        "errors": {
            "kind": "Choose whether you offer or ask for help.",
            "category": "Choose a team.",
            "text": "Say what you can help with, or what you need.",
        },
    }
    assert too_long.json() == {
        "response_action": "errors",
        "errors": {"text": "Keep it under 2000 characters."},
    }
    await app.context.delivery.drain()
    assert await help_exchanges(app) == []
    assert await first_answer(app, nudge_id) is None
    assert len(fake_slack.messages(CHANNEL)) == 1


async def test_buttons_keep_working_after_a_restart(settings: Settings, fake_slack: FakeSlack) -> None:
    async with running(settings) as first:
        nudge_id, nudge_ts = await posted_nudge(first, fake_slack)

    async with running(settings) as restarted:
        await send(restarted, click(pick(nudge_id, ["UBO"]), ts=nudge_ts))
        # A person sees their loop-in announced before they go on; the two answers are independent requests.
        await eventually(lambda: len(thread_replies(fake_slack, nudge_ts)) == 1)
        await send(restarted, click(button(HELP_OPEN, nudge_id), ts=nudge_ts))
        await send(restarted, help_form(nudge_id, text="Happy to review the SOW"))
        await eventually(lambda: len(thread_replies(fake_slack, nudge_ts)) == 2)
        await eventually(lambda: len(fake_slack.views_opened) == 1)

    texts = [reply["blocks"][0]["text"]["text"] for reply in thread_replies(fake_slack, nudge_ts)]
    assert texts == [
        "<@UANA> looped in <@UBO>: *Acme renewal*",
        "<@UANA> offers *engineering* help: Happy to review the SOW",
    ]
    assert fake_slack.views_opened[0]["view"]["private_metadata"] == str(nudge_id)


async def test_a_nudge_from_another_workspace_is_refused(app: RunningApp, fake_slack: FakeSlack) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)

    await send(app, click(pick(nudge_id, ["UBO"]), ts=nudge_ts, team=OTHER_TEAM))
    await send(app, click(button(LOOP_IN_NOBODY, nudge_id), ts=nudge_ts, team=OTHER_TEAM))
    await send(app, click(button(HELP_OPEN, nudge_id), ts=nudge_ts, team=OTHER_TEAM))
    submitted = await send(app, help_form(nudge_id, text="Sneaky", team=OTHER_TEAM))

    await eventually(lambda: len(fake_slack.ephemerals) == 3)
    assert all("not from this workspace" in note["text"] for note in fake_slack.ephemerals)
    assert {note["user"] for note in fake_slack.ephemerals} == {"UANA"}
    assert submitted.json()["response_action"] == "errors"
    assert "not from this workspace" in submitted.json()["errors"]["text"]
    assert fake_slack.views_opened == []
    assert await loop_ins(app, nudge_id) == []
    assert await help_exchanges(app) == []
    assert await first_answer(app, nudge_id) is None
    assert len(fake_slack.messages(CHANNEL)) == 1


async def test_a_click_naming_no_known_nudge_is_refused_politely(app: RunningApp, fake_slack: FakeSlack) -> None:
    _, nudge_ts = await posted_nudge(app, fake_slack)

    await send(app, click(button(LOOP_IN_NOBODY, 999_999), ts=nudge_ts))
    await send(app, help_form("not-a-nudge", text="Hello"))

    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    assert "no longer exists" in fake_slack.ephemerals[0]["text"]
    assert await help_exchanges(app) == []

"""Answering a nudge in Slack: loop colleagues in, say nobody else needs to know, offer or ask for help."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.settings import Settings
from habits.form_origin import FormOrigin, read_origin
from habits.nudge_message import HELP_OPEN, HELP_SUBMIT, LOOP_IN_NOBODY, LOOP_IN_PICK, actions_block_id
from habits.nudging import nudge_by_hand
from handlers.slack.one_workspace import ONE_WORKSPACE_MESSAGE
from models.base import utcnow
from models.db import session_scope
from models.nudges import HelpExchange, LoopIn, Nudge
from tests.conftest import TEAM_ID, RunningApp, eventually
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.handlers.slash_commands import CHANNEL, running
from tests.support.logs import failures
from tests.support.signing import slack_interaction

OTHER_TEAM = "TOTHER"
OTHER_CHANNEL = "CHR"


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


def click(
    action: dict[str, Any], *, ts: str, user: str = "UANA", team: str = TEAM_ID, channel: str = CHANNEL
) -> dict[str, Any]:
    """A block_actions payload as Slack sends it when someone uses a control on a message posted at `ts`."""
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "AWHOELSE",
        "trigger_id": "trigger-42",
        "channel": {"id": channel, "name": "sales"},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
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


def opened_here(nudge_id: int, *, by: str = "UANA", channel: str = CHANNEL) -> str:
    """The context of a help form `by` opened from a nudge in `channel`, as the app writes it."""
    return FormOrigin(channel_id=channel, user_id=by, subject_id=nudge_id).encoded()


def help_form(
    nudge_id: int | None,
    *,
    kind: str | None = "offer",
    category: str | None = "engineering",
    text: str | None = "",
    team: str = TEAM_ID,
    user: str = "UANA",
    private_metadata: str | None = None,
) -> dict[str, Any]:
    """A view_submission of the help form, with the fields as Slack reports them (by default, opened by `user`)."""
    if private_metadata is None:
        assert nudge_id is not None
        private_metadata = opened_here(nudge_id, by=user)

    def chosen(element: str, value: str | None) -> dict[str, Any]:
        return {"type": element, "selected_option": {"value": value} if value else None}

    return {
        "type": "view_submission",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "AWHOELSE",
        "trigger_id": "trigger-43",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": HELP_SUBMIT,
            "private_metadata": private_metadata,
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
    assert view["callback_id"] == HELP_SUBMIT
    assert read_origin(view["private_metadata"], user_id="UANA") == FormOrigin(CHANNEL, "UANA", nudge_id)
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
        # Each answer is awaited before the next: they are handled in the background, in no promised order.
        await eventually(lambda: len(thread_replies(fake_slack, nudge_ts)) == 1)
        await send(restarted, click(button(HELP_OPEN, nudge_id), ts=nudge_ts))
        await eventually(lambda: len(fake_slack.views_opened) == 1)
        opened = fake_slack.views_opened[0]["view"]["private_metadata"]
        await send(restarted, help_form(nudge_id, text="Happy to review the SOW", private_metadata=opened))
        await eventually(lambda: len(thread_replies(fake_slack, nudge_ts)) == 2)

    texts = [reply["blocks"][0]["text"]["text"] for reply in thread_replies(fake_slack, nudge_ts)]
    assert texts == [
        "<@UANA> looped in <@UBO>: *Acme renewal*",
        "<@UANA> offers *engineering* help: Happy to review the SOW",
    ]


async def test_a_nudge_from_another_workspace_is_refused(app: RunningApp, fake_slack: FakeSlack) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)
    calls_before = len(fake_slack.calls)

    clicks = [
        await send(app, click(pick(nudge_id, ["UBO"]), ts=nudge_ts, team=OTHER_TEAM)),
        await send(app, click(button(LOOP_IN_NOBODY, nudge_id), ts=nudge_ts, team=OTHER_TEAM)),
        await send(app, click(button(HELP_OPEN, nudge_id), ts=nudge_ts, team=OTHER_TEAM)),
    ]
    submitted = await send(app, help_form(nudge_id, text="Sneaky", team=OTHER_TEAM))

    # The one bot token answers for its own workspace only: the refusal is the answer, and Slack is not called.
    assert all(answer.text == ONE_WORKSPACE_MESSAGE for answer in clicks)
    assert submitted.json()["response_action"] == "update"
    assert ONE_WORKSPACE_MESSAGE in submitted.text
    assert len(fake_slack.calls) == calls_before
    assert await loop_ins(app, nudge_id) == []
    assert await help_exchanges(app) == []
    assert await first_answer(app, nudge_id) is None
    assert len(fake_slack.messages(CHANNEL)) == 1


async def test_a_click_naming_no_known_nudge_is_refused_politely(app: RunningApp, fake_slack: FakeSlack) -> None:
    _, nudge_ts = await posted_nudge(app, fake_slack)

    await send(app, click(button(LOOP_IN_NOBODY, 999_999), ts=nudge_ts))
    await send(app, help_form(None, private_metadata="not-a-nudge", text="Hello"))

    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    assert "no longer exists" in fake_slack.ephemerals[0]["text"]
    assert await help_exchanges(app) == []


async def test_a_nudge_from_another_channel_is_refused_in_the_channel_clicked_from(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, _ = await posted_nudge(app, fake_slack)

    await send(app, click(pick(nudge_id, ["UBO"]), ts="1.0", channel=OTHER_CHANNEL))
    await send(app, click(button(LOOP_IN_NOBODY, nudge_id), ts="1.0", channel=OTHER_CHANNEL))
    await send(app, click(button(HELP_OPEN, nudge_id), ts="1.0", channel=OTHER_CHANNEL))
    submitted = await send(
        app, help_form(nudge_id, text="Sneaky", private_metadata=opened_here(nudge_id, channel=OTHER_CHANNEL))
    )

    await eventually(lambda: len(fake_slack.ephemerals) == 3)
    for note in fake_slack.ephemerals:
        assert (note["channel"], note["user"]) == (OTHER_CHANNEL, "UANA")
        assert note["text"] == "That nudge is not from this channel, or no longer exists."
    assert submitted.json() == {
        "response_action": "errors",
        "errors": {"text": "That nudge is not from this channel, or no longer exists."},
    }
    assert fake_slack.views_opened == []
    assert await loop_ins(app, nudge_id) == []
    assert await help_exchanges(app) == []
    assert await first_answer(app, nudge_id) is None
    await app.context.delivery.drain()
    assert len(fake_slack.messages(CHANNEL)) == 1, "nothing was posted in the nudge's channel"
    assert fake_slack.messages(OTHER_CHANNEL) == []


async def test_a_help_form_is_only_sent_by_the_person_who_opened_it(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, _ = await posted_nudge(app, fake_slack)

    submitted = await send(
        app, help_form(nudge_id, user="UBO", text="Not my form", private_metadata=opened_here(nudge_id, by="UANA"))
    )

    assert submitted.json()["response_action"] == "errors"
    assert "open it again" in submitted.json()["errors"]["text"]
    await app.context.delivery.drain()
    assert await help_exchanges(app) == []
    assert len(fake_slack.messages(CHANNEL)) == 1


# Every odd shape is read by one helper (tests/habits/test_ids.py); these prove the handlers use it.
ODD_IDS = ["", "-1", "²", "٣", str(2**63), str(2**64)]


@pytest.mark.parametrize("value", ODD_IDS)
async def test_a_click_with_an_odd_nudge_id_is_refused_without_a_failure(
    app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    _, nudge_ts = await posted_nudge(app, fake_slack)
    odd = {"type": "button", "action_id": LOOP_IN_NOBODY, "block_id": f"nudge:{value}", "value": value}

    await send(app, click(odd, ts=nudge_ts))

    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    assert "no longer exists" in fake_slack.ephemerals[0]["text"]
    async with session_scope(app.context.sessions) as session:
        assert list(await session.scalars(select(LoopIn))) == []
    assert failures(caplog) == []


@pytest.mark.parametrize(
    "private_metadata",
    [
        *ODD_IDS,
        "null",
        *(
            f'{{"channel": "CSALES", "user": "UANA", "id": {odd}}}'
            for odd in ("-1", "true", '"²"', str(2**63), str(2**64))
        ),
        '{"channel": ["CSALES"], "user": "UANA", "id": 1}',
    ],
)
async def test_a_help_form_with_an_odd_context_is_refused_without_a_failure(
    app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, private_metadata: str
) -> None:
    await posted_nudge(app, fake_slack)

    submitted = await send(app, help_form(None, text="Hello", private_metadata=private_metadata))

    assert submitted.json()["response_action"] == "errors"
    assert await help_exchanges(app) == []
    assert failures(caplog) == []

"""Whatever whoelse is asked to show, Slack takes it: long topics and names are cut to Block Kit's limits (the fake
Slack refuses over-limit texts as Slack does), and when Slack still will not open a form, the clicker is told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.settings import Settings
from bot.slack.blocks import render_dialog, render_message
from habits.messages import Choice, ChoiceInput, Dialog, Message, Paragraph, TextInput
from habits.nudge_message import HELP_OPEN
from handlers.slack.dialogs import NOT_OPENED
from tests.conftest import RunningApp, eventually
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slash_commands import CHANNEL, reply_to, running
from tests.handlers.test_nudge_answers import button, click, posted_nudge, send


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    fake_slack.add_user("UANA")
    async with running(settings) as application:
        yield application


def nudge_id_of(posted: dict[str, Any]) -> int:
    [actions] = [block for block in posted["blocks"] if block["type"] == "actions"]
    return int(actions["elements"][-1]["value"])


async def test_a_nudge_about_a_very_long_topic_is_posted_and_its_help_form_opens(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    topic = "Acme renewal " + "pricing and the SOW for <@UANA> " * 120

    await reply_to(app, f"nudge {topic}", user="UANA")

    await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 1)
    [posted] = fake_slack.messages(CHANNEL)
    headline = posted["blocks"][0]["text"]["text"]
    assert len(headline) <= 3000 and headline.endswith("…")
    await send(app, click(button(HELP_OPEN, nudge_id_of(posted)), ts=posted["ts"]))
    await eventually(lambda: len(fake_slack.views_opened) == 1)
    intro = fake_slack.views_opened[0]["view"]["blocks"][0]["text"]["text"]
    assert intro.startswith("About: *Acme renewal pricing") and intro.endswith("…")
    assert fake_slack.ephemerals == []


async def test_when_slack_will_not_open_the_help_form_the_clicker_is_told(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    nudge_id, ts = await posted_nudge(app, fake_slack)
    fake_slack.fail_next("views.open", error="expired_trigger_id")

    await send(app, click(button(HELP_OPEN, nudge_id), ts=ts, user="UANA"))

    await eventually(lambda: len(fake_slack.ephemerals) == 1)
    [told] = fake_slack.ephemerals
    assert (told["channel"], told["user"], told["text"]) == (CHANNEL, "UANA", NOT_OPENED)
    assert fake_slack.views_opened == []


@pytest.mark.parametrize(
    ("ending", "kept"),
    [
        ("<@UANA>", ""),
        ("<https://crm.example.com/deals/1|Open in CRM>", ""),
        ("&amp;", ""),
        ("abcdefgh", "abcd"),
    ],
)
def test_a_cut_never_splits_a_mention_a_link_or_an_escape(ending: str, kept: str) -> None:
    text = "x" * 2995 + ending + " and more words after the limit"

    [section] = render_message(Message(text="t", parts=[Paragraph(text=text)]))[1]

    assert section["text"]["text"] == "x" * 2995 + kept + "…"


def test_every_text_of_a_form_fits_its_limit() -> None:
    long = "word " * 1000
    dialog = Dialog(
        callback_id="form",
        title="What else can we help with today?",
        submit_label="Send it to the whole channel",
        intro=long,
        inputs=[
            TextInput(input_id="text", label=long, placeholder=long, initial=long, max_length=500),
            ChoiceInput(input_id="pick", label="Team", choices=[Choice(value="a", label=long)], initial="a"),
        ],
    )

    view = render_dialog(dialog)

    assert view["title"]["text"] == "What else can we help w…"
    assert len(view["submit"]["text"]) == 24
    [intro, text, pick] = view["blocks"]
    assert len(intro["text"]["text"]) == 3000
    assert (len(text["label"]["text"]), len(text["element"]["placeholder"]["text"])) == (2000, 150)
    assert len(text["element"]["initial_value"]) == 500
    assert len(pick["element"]["options"][0]["text"]["text"]) == 75

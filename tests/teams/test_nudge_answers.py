"""Answering a nudge on Teams: loop colleagues in, say nobody else needs to know, offer or ask for help.

What must be the same on both platforms (what is recorded, what the thread shows) is written once and run against
Slack and Teams through a small driver each; what only Teams does (the answer in the invoke's HTTP response, the
dialog, mention entities) is tested on Teams alone. Everything goes through the real app.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.delivery import DeliveryPolicy
from bot.settings import Settings
from bot.teams.cards import CONTEXT_KEY, DIALOG_KEY
from habits.form_origin import NOT_YOUR_FORM, FormOrigin, read_origin
from habits.nudge_answers import NOBODY_AGAIN, NOBODY_NOTED, NOT_HERE
from habits.nudge_message import HELP_OPEN, HELP_SUBMIT, LOOP_IN_NOBODY, LOOP_IN_PICK
from habits.nudging import nudge_by_hand
from models.base import utcnow
from models.db import session_scope
from models.nudges import HelpExchange, LoopIn, Nudge
from models.outbox import OutboxMessage
from tests.conftest import TEAM_ID, RunningApp, eventually, serving
from tests.fakes.bot_connector import FakeBotConnector, SentActivity
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.fakes.slack_api import FakeSlack
from tests.handlers import test_nudge_answers as slack
from tests.handlers.slash_commands import CHANNEL as SLACK_CHANNEL
from tests.support.logs import failures
from tests.support.teams import APP_ID
from tests.teams.activities import (
    CHANNEL,
    OTHER_TENANT,
    TENANT,
    bot_added,
    card_action,
    dialog_fetch,
    dialog_submit,
)
from tests.teams.test_conversations import drain, send

TITLE = "Acme renewal"
OTHER_CHANNEL = "19:support-channel@thread.tacv2"
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
# The same colleagues on each platform: a Slack user id, and a Teams person's Entra object id.
NAMES = {"ana": "Ana", "bo": "Bo", "cy": "Cy", "asker": "Asker"}
SLACK_IDS = {"ana": "UANA", "bo": "UBO", "cy": "UCY", "asker": "UASKER"}
TEAMS_IDS = {
    "ana": "a0a0a0a0-0000-4000-8000-00000000a4a0",
    "bo": "b0b0b0b0-0000-4000-8000-00000000b0b0",
    "cy": "c0c0c0c0-0000-4000-8000-00000000c0c0",
    "asker": "d0d0d0d0-0000-4000-8000-00000000d0d0",
}
ANA, BO, CY = TEAMS_IDS["ana"], TEAMS_IDS["bo"], TEAMS_IDS["cy"]


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector(app_id=APP_ID)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
async def app(
    settings: Settings, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin, fake_slack: FakeSlack
) -> AsyncIterator[RunningApp]:
    """Slack and Teams on together, each knowing the same colleagues; delivery is driven by hand (`drain`)."""
    for person, name in NAMES.items():
        fake_slack.add_user(SLACK_IDS[person], name=name.lower())
        connector.add_member(TEAMS_IDS[person], name)
    both = Settings(
        _env_file=None,
        **{
            **settings.model_dump(),
            "teams_app_id": APP_ID,
            "teams_app_password": connector.app_password,
            "teams_openid_metadata_url": microsoft_login.metadata_url,
            "teams_token_url": connector.token_url,
        },
    )
    policy = DeliveryPolicy(channel_interval=timedelta(0))
    async with serving(create_app(both, background_workers=False, delivery_policy=policy)) as running:
        yield running


class Driver(Protocol):
    """One platform, as a person answering a nudge uses it."""

    workspace_id: str
    ids: dict[str, str]

    async def post_nudge(self) -> int: ...

    async def loop_in(self, by: str, picked: list[str]) -> None: ...

    async def nobody_else(self, by: str) -> str:
        """Says nobody else needs to know; returns the acknowledgement only that person saw."""
        ...

    async def offer_help(self, by: str, *, kind: str, category: str, text: str) -> None: ...

    async def thread_replies(self) -> list[str]:
        """The nudge's thread as people read it: mentions as "@Name", without formatting."""
        ...

    async def other_posts(self) -> int:
        """How many messages whoelse posted besides the nudge and its thread (in any channel or chat)."""
        ...


@dataclass
class SlackDriver:
    app: RunningApp
    fake_slack: FakeSlack
    workspace_id: str = TEAM_ID
    ids: dict[str, str] = field(default_factory=lambda: dict(SLACK_IDS))
    nudge_id: int = 0
    nudge_ts: str = ""

    async def post_nudge(self) -> int:
        self.nudge_id = await _nudge(self.app, TEAM_ID, SLACK_CHANNEL, self.ids["asker"])
        await drain(self.app)
        self.nudge_ts = self.fake_slack.messages(SLACK_CHANNEL)[0]["ts"]
        return self.nudge_id

    async def loop_in(self, by: str, picked: list[str]) -> None:
        users = [self.ids[person] for person in picked]
        await slack.send(
            self.app, slack.click(slack.pick(self.nudge_id, users), ts=self.nudge_ts, user=self.ids[by])
        )
        # Slack's clicks are answered after the acknowledgement: wait until everyone picked is recorded.
        wanted = set(users) - {self.ids[by]}

        async def recorded() -> bool:
            rows = await loop_ins(self.app, self.nudge_id)
            return wanted <= {row.looped_user for row in rows if row.by_user == self.ids[by]}

        await eventually(recorded)

    async def nobody_else(self, by: str) -> str:
        seen = len(self.fake_slack.ephemerals)
        await slack.send(
            self.app, slack.click(slack.button(LOOP_IN_NOBODY, self.nudge_id), ts=self.nudge_ts, user=self.ids[by])
        )

        async def acknowledged() -> bool:
            # Answered after the acknowledgement, like every Slack click: the note is queued, then delivered.
            await drain(self.app)
            return len(self.fake_slack.ephemerals) > seen

        await eventually(acknowledged)
        note = self.fake_slack.ephemerals[seen]
        assert (note["channel"], note["user"]) == (SLACK_CHANNEL, self.ids[by])
        return str(note["text"])

    async def offer_help(self, by: str, *, kind: str, category: str, text: str) -> None:
        form = slack.help_form(self.nudge_id, kind=kind, category=category, text=text, user=self.ids[by])
        response = await slack.send(self.app, form)
        assert response.text == "", "the form closes"

    async def thread_replies(self) -> list[str]:
        await drain(self.app)
        names = {self.ids[person]: name for person, name in NAMES.items()}
        texts = [
            message["blocks"][0]["text"]["text"]
            for message in self.fake_slack.messages(SLACK_CHANNEL)
            if message["thread_ts"] == self.nudge_ts
        ]
        return [re.sub(r"<@(\w+)>", lambda found: "@" + names[found[1]], text).replace("*", "") for text in texts]

    async def other_posts(self) -> int:
        await drain(self.app)
        return len([message for message in self.fake_slack.messages() if message["ts"] != self.nudge_ts]) - len(
            await self.thread_replies()
        )


@dataclass
class TeamsDriver:
    app: RunningApp
    connector: FakeBotConnector
    login: FakeMicrosoftLogin
    workspace_id: str = TENANT
    ids: dict[str, str] = field(default_factory=lambda: dict(TEAMS_IDS))
    nudge_id: int = 0
    root: str = ""
    # The nudge's card as posted, how many activities whoelse had sent by then, and every invoke's answer.
    posted_card: dict[str, Any] = field(default_factory=dict)
    baseline: int = 0
    answers: list[dict[str, Any]] = field(default_factory=list)

    async def post_nudge(self, title: str = TITLE) -> int:
        await send(self.app, self.login, self.connector, bot_added(self.connector.service_url))
        self.nudge_id = await _nudge(self.app, TENANT, CHANNEL, self.ids["asker"], title)
        await drain(self.app)
        [nudge] = [sent for sent in self.connector.activities() if sent.activity.get("attachments")]
        self.posted_card = nudge.activity["attachments"][0]["content"]
        self.root = await _sent_ts(self.app, self.nudge_id)
        self.baseline = len(self.connector.activities())
        return self.nudge_id

    async def click(self, activity: dict[str, Any], by: str) -> dict[str, Any]:
        answer = (
            await send(self.app, self.login, self.connector, on_card(activity, self.root, self.ids[by]))
        ).json()
        self.answers.append(answer)
        return dict(answer)

    async def loop_in(self, by: str, picked: list[str]) -> None:
        data = {"value": str(self.nudge_id), LOOP_IN_PICK: ",".join(self.ids[person] for person in picked)}
        answer = await self.click(card_action(LOOP_IN_PICK, data, self.connector.service_url), by)
        assert answer["type"] == CARD

    async def nobody_else(self, by: str) -> str:
        data = {"value": str(self.nudge_id)}
        answer = await self.click(card_action(LOOP_IN_NOBODY, data, self.connector.service_url), by)
        assert answer["type"] == CARD, "the nudge's card, refreshed for the person who clicked"
        return str(answer["value"]["body"][-1]["text"])

    async def offer_help(self, by: str, *, kind: str, category: str, text: str) -> None:
        opened = await self.click(
            dialog_fetch(HELP_OPEN, {"value": str(self.nudge_id)}, self.connector.service_url), by
        )
        form = dialog_data(opened)
        answer = await self.click(
            dialog_submit({**form, "kind": kind, "category": category, "text": text}, self.connector.service_url),
            by,
        )
        assert answer["task"]["type"] == "message", "the dialog closes with a message"

    def thread(self) -> list[SentActivity]:
        return [
            sent
            for sent in self.connector.activities()
            if sent.conversation_id == f"{CHANNEL};messageid={self.root}"
        ]

    async def thread_replies(self) -> list[str]:
        await drain(self.app)
        return [read_as_people_do(sent.activity) for sent in self.thread()]

    async def other_posts(self) -> int:
        await drain(self.app)
        return len(self.connector.activities()) - self.baseline - len(self.thread())


@pytest.fixture(params=["slack", "teams"])
def platform(
    request: pytest.FixtureRequest,
    app: RunningApp,
    fake_slack: FakeSlack,
    connector: FakeBotConnector,
    microsoft_login: FakeMicrosoftLogin,
) -> Driver:
    if request.param == "slack":
        return SlackDriver(app, fake_slack)
    return TeamsDriver(app, connector, microsoft_login)


@pytest.fixture
def teams(app: RunningApp, connector: FakeBotConnector, microsoft_login: FakeMicrosoftLogin) -> TeamsDriver:
    return TeamsDriver(app, connector, microsoft_login)


async def _nudge(app: RunningApp, workspace_id: str, channel_id: str, asker: str, title: str = TITLE) -> int:
    async with session_scope(app.context.sessions) as session:
        nudge = await nudge_by_hand(
            session, workspace_id=workspace_id, channel_id=channel_id, user_id=asker, text=title, now=utcnow()
        )
    return nudge.id


async def _sent_ts(app: RunningApp, nudge_id: int) -> str:
    async with app.context.sessions() as session:
        nudge = await session.get(Nudge, nudge_id)
        assert nudge is not None and nudge.outbox_id is not None
        post = await session.get(OutboxMessage, nudge.outbox_id)
        assert post is not None and post.sent_ts
        return post.sent_ts


def on_card(activity: dict[str, Any], root: str, person: str) -> dict[str, Any]:
    """An invoke as Teams sends it from a card posted in a channel: by `person`, in the card's thread."""
    conversation = activity["conversation"]
    return {
        **activity,
        "from": {"id": f"29:{person[:8]}", "name": "Someone", "aadObjectId": person},
        "conversation": {**conversation, "id": f"{conversation['id']};messageid={root}"},
    }


def dialog_data(opened: dict[str, Any]) -> dict[str, Any]:
    """The data the help dialog's submit button sends back (its inputs are added by the person filling it in)."""
    content = opened["task"]["value"]["card"]["content"]
    [submit] = content["actions"]
    return dict(submit["data"])


def read_as_people_do(activity: dict[str, Any]) -> str:
    """A posted card's text as Teams shows it: each <at>Name</at> that is a real mention (an entity naming a person)
    read as "@Name", without markdown."""
    content = activity["attachments"][0]["content"]
    text = " ".join(block["text"] for block in content["body"] if block["type"] == "TextBlock")
    for entity in content.get("msteams", {}).get("entities", []):
        assert entity["type"] == "mention" and entity["mentioned"]["id"] in TEAMS_IDS.values()
        text = text.replace(entity["text"], "@" + entity["mentioned"]["name"])
    return text.replace("**", "").replace("\\", "")


async def loop_ins(app: RunningApp, nudge_id: int) -> list[LoopIn]:
    async with app.context.sessions() as session:
        return list(await session.scalars(select(LoopIn).where(LoopIn.nudge_id == nudge_id).order_by(LoopIn.id)))


async def help_exchanges(app: RunningApp) -> list[HelpExchange]:
    async with app.context.sessions() as session:
        return list(await session.scalars(select(HelpExchange).order_by(HelpExchange.id)))


async def first_answer(app: RunningApp, nudge_id: int) -> datetime | None:
    async with app.context.sessions() as session:
        nudge = await session.get(Nudge, nudge_id)
        assert nudge is not None
        return nudge.first_answer_at


# ------------------------------------------------------------------------------------------ on both platforms


async def test_picked_colleagues_are_recorded_and_mentioned_in_the_thread_with_who_looped_them_in(
    app: RunningApp, platform: Driver
) -> None:
    nudge_id = await platform.post_nudge()
    before = utcnow()

    await platform.loop_in("ana", ["bo", "cy"])

    assert await platform.thread_replies() == ["@Ana looped in @Bo and @Cy: Acme renewal"]
    rows = await loop_ins(app, nudge_id)
    ana, bo, cy = (platform.ids[person] for person in ("ana", "bo", "cy"))
    assert [(row.workspace_id, row.by_user, row.looped_user) for row in rows] == [
        (platform.workspace_id, ana, bo),
        (platform.workspace_id, ana, cy),
    ]
    assert before <= rows[0].created_at <= utcnow()
    assert await first_answer(app, nudge_id) == rows[0].created_at
    assert await platform.other_posts() == 0


async def test_picking_again_mentions_only_people_not_yet_looped_in_and_never_the_picker(
    app: RunningApp, platform: Driver
) -> None:
    nudge_id = await platform.post_nudge()

    await platform.loop_in("ana", ["bo"])
    await platform.loop_in("ana", ["ana", "bo", "cy"])

    assert await platform.thread_replies() == [
        "@Ana looped in @Bo: Acme renewal",
        "@Ana looped in @Cy: Acme renewal",
    ]
    assert [row.looped_user for row in await loop_ins(app, nudge_id)] == [platform.ids["bo"], platform.ids["cy"]]


async def test_nobody_else_is_recorded_and_acknowledged_only_to_the_person_once(
    app: RunningApp, platform: Driver
) -> None:
    nudge_id = await platform.post_nudge()

    first = await platform.nobody_else("ana")
    again = await platform.nobody_else("ana")

    assert (first, again) == (NOBODY_NOTED, NOBODY_AGAIN)
    rows = await loop_ins(app, nudge_id)
    assert [(row.workspace_id, row.by_user, row.looped_user) for row in rows] == [
        (platform.workspace_id, platform.ids["ana"], None)
    ]
    assert await first_answer(app, nudge_id) == rows[0].created_at
    assert await platform.thread_replies() == [], "no channel noise for a 'nobody else'"
    assert await platform.other_posts() == 0


async def test_help_offered_is_recorded_and_posted_in_the_thread(app: RunningApp, platform: Driver) -> None:
    nudge_id = await platform.post_nudge()

    await platform.offer_help("ana", kind="offer", category="engineering", text="I can join Thursday's call")
    await platform.offer_help("bo", kind="request", category="marketing", text="A case study for Acme?")

    assert await platform.thread_replies() == [
        "@Ana offers engineering help: I can join Thursday's call",
        "@Bo asks for marketing help: A case study for Acme?",
    ]
    exchanges = await help_exchanges(app)
    assert [(e.workspace_id, e.nudge_id, e.user_id, e.kind, e.category, e.text) for e in exchanges] == [
        (
            platform.workspace_id,
            nudge_id,
            platform.ids["ana"],
            "offer",
            "engineering",
            "I can join Thursday's call",
        ),
        (platform.workspace_id, nudge_id, platform.ids["bo"], "request", "marketing", "A case study for Acme?"),
    ]
    assert await first_answer(app, nudge_id) == exchanges[0].created_at


# ------------------------------------------------------------------------------------------ Teams only


async def test_on_teams_the_thread_reply_mentions_people_by_name_with_mention_entities(teams: TeamsDriver) -> None:
    await teams.post_nudge()

    await teams.loop_in("ana", ["bo", "cy"])
    await drain(teams.app)

    [reply] = teams.thread()
    content = reply.activity["attachments"][0]["content"]
    assert content["body"][0]["text"] == "<at>Ana</at> looped in <at>Bo</at> and <at>Cy</at>: **Acme renewal**"
    assert content["msteams"]["entities"] == [
        {"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": person, "name": name}}
        for person, name in ((ANA, "Ana"), (BO, "Bo"), (CY, "Cy"))
    ]


async def test_on_teams_loop_in_is_answered_with_the_nudge_card_refreshed_with_a_note_for_the_clicker(
    teams: TeamsDriver,
) -> None:
    await teams.post_nudge()

    await teams.loop_in("ana", ["bo", "cy"])
    await teams.loop_in("ana", ["bo"])

    first, again = (answer["value"] for answer in teams.answers)
    assert first["body"][:-1] == teams.posted_card["body"], (
        "the same card, its people search and buttons still there"
    )
    assert first["body"][-1]["text"] == "You looped in Bo and Cy."
    assert again["body"][-1]["text"] == "Everyone you picked is already looped in."
    assert "<at>Asker</at>" in first["body"][0]["text"]


async def test_on_teams_the_refreshed_card_calls_the_channel_it_is_in_this_channel_as_the_posted_one_does(
    teams: TeamsDriver,
) -> None:
    await teams.post_nudge(title=f"moving tickets from #{{{OTHER_CHANNEL}}} to #{{{CHANNEL}}}")

    await teams.loop_in("ana", ["bo"])
    await teams.nobody_else("cy")

    headline = teams.posted_card["body"][0]["text"]
    assert headline.endswith("asks about: **moving tickets from a channel to this channel**")
    for answer in teams.answers:
        assert answer["value"]["body"][0]["text"] == headline


async def test_on_teams_nobody_else_sends_no_chat_message_besides_the_refreshed_card(teams: TeamsDriver) -> None:
    await teams.post_nudge()

    await teams.nobody_else("ana")
    await drain(teams.app)

    assert teams.connector.created_conversations == []
    async with teams.app.context.sessions() as session:
        assert (
            list(await session.scalars(select(OutboxMessage).where(OutboxMessage.ephemeral_user_id.is_not(None))))
            == []
        )


async def test_on_teams_the_help_button_opens_a_dialog_about_this_nudge_for_the_clicker(
    teams: TeamsDriver,
) -> None:
    nudge_id = await teams.post_nudge()

    opened = await teams.click(
        dialog_fetch(HELP_OPEN, {"value": str(nudge_id)}, teams.connector.service_url), "ana"
    )

    assert opened["task"]["type"] == "continue"
    content = opened["task"]["value"]["card"]["content"]
    assert [element["id"] for element in content["body"] if "id" in element] == ["kind", "category", "text"]
    data = dialog_data(opened)
    assert data[DIALOG_KEY] == HELP_SUBMIT
    assert read_origin(data[CONTEXT_KEY], user_id=ANA) == FormOrigin(CHANNEL, ANA, nudge_id)


async def test_on_teams_an_incomplete_help_form_is_shown_again_with_what_to_fix_and_records_nothing(
    teams: TeamsDriver,
) -> None:
    nudge_id = await teams.post_nudge()
    opened = await teams.click(
        dialog_fetch(HELP_OPEN, {"value": str(nudge_id)}, teams.connector.service_url), "ana"
    )

    answer = await teams.click(
        dialog_submit({**dialog_data(opened), "kind": "offer", "text": "x" * 2001}, teams.connector.service_url),
        "ana",
    )

    assert answer["task"]["type"] == "continue", "the dialog stays open"
    body = answer["task"]["value"]["card"]["content"]["body"]
    assert "Choose a team." in body[0]["text"] and "Keep it under 2000 characters." in body[0]["text"]
    inputs = {element["id"]: element for element in body if "id" in element}
    assert inputs["kind"]["value"] == "offer", "what was filled in is kept"
    assert inputs["text"]["value"] == "x" * 2000
    assert await help_exchanges(teams.app) == []
    assert await first_answer(teams.app, nudge_id) is None
    assert await teams.thread_replies() == []


async def test_on_teams_a_help_form_is_only_sent_by_its_opener_from_its_channel(teams: TeamsDriver) -> None:
    nudge_id = await teams.post_nudge()
    opened = dialog_data(
        await teams.click(dialog_fetch(HELP_OPEN, {"value": str(nudge_id)}, teams.connector.service_url), "ana")
    )
    filled = {**opened, "kind": "offer", "category": "sales", "text": "Sneaky"}
    elsewhere = dialog_submit(filled, teams.connector.service_url)
    elsewhere["conversation"]["id"] = OTHER_CHANNEL

    by_someone_else = await teams.click(dialog_submit(filled, teams.connector.service_url), "bo")
    from_another_channel = await teams.click(elsewhere, "ana")

    assert by_someone_else == {"task": {"type": "message", "value": NOT_YOUR_FORM}}
    assert from_another_channel == {"task": {"type": "message", "value": NOT_HERE}}
    assert await help_exchanges(teams.app) == []
    assert await teams.thread_replies() == []


async def test_on_teams_another_channel_s_or_tenant_s_nudge_is_refused_and_nothing_recorded(
    teams: TeamsDriver,
) -> None:
    nudge_id = await teams.post_nudge()
    value = {"value": str(nudge_id)}
    url = teams.connector.service_url
    other_channel = [
        card_action(LOOP_IN_PICK, {**value, LOOP_IN_PICK: BO}, url),
        card_action(LOOP_IN_NOBODY, value, url),
        dialog_fetch(HELP_OPEN, value, url),
    ]
    for activity in other_channel:
        activity["conversation"]["id"] = OTHER_CHANNEL
    other_tenant = [
        card_action(LOOP_IN_PICK, {**value, LOOP_IN_PICK: BO}, url, tenant=OTHER_TENANT),
        card_action(LOOP_IN_NOBODY, value, url, tenant=OTHER_TENANT),
        dialog_fetch(HELP_OPEN, value, url, tenant=OTHER_TENANT),
    ]
    form = {DIALOG_KEY: HELP_SUBMIT, CONTEXT_KEY: FormOrigin(CHANNEL, ANA, nudge_id).encoded()}
    sneaky = dialog_submit(
        {**form, "kind": "offer", "category": "sales", "text": "Sneaky"}, url, tenant=OTHER_TENANT
    )

    answers = [(await teams.click(activity, "ana")) for activity in [*other_channel, *other_tenant, sneaky]]

    refused_click = {"statusCode": 200, "type": MESSAGE, "value": NOT_HERE}
    refused_dialog = {"task": {"type": "message", "value": NOT_HERE}}
    assert answers == [refused_click, refused_click, refused_dialog] * 2 + [refused_dialog]
    assert await loop_ins(teams.app, nudge_id) == []
    assert await help_exchanges(teams.app) == []
    assert await first_answer(teams.app, nudge_id) is None
    assert await teams.thread_replies() == []
    assert await teams.other_posts() == 0


ODD_VALUES: list[Any] = ["", "-1", "²", "٣", str(2**63), str(2**64), 7, None, ["1"]]


@pytest.mark.parametrize("value", ODD_VALUES)
async def test_on_teams_a_click_with_an_odd_nudge_id_is_refused_without_a_failure(
    teams: TeamsDriver, caplog: pytest.LogCaptureFixture, value: Any
) -> None:
    await teams.post_nudge()
    url = teams.connector.service_url

    clicked = await teams.click(card_action(LOOP_IN_NOBODY, {"value": value}, url), "ana")
    opened = await teams.click(dialog_fetch(HELP_OPEN, {"value": value}, url), "ana")

    assert clicked["value"] == NOT_HERE and opened["task"]["value"] == NOT_HERE
    async with teams.app.context.sessions() as session:
        assert list(await session.scalars(select(LoopIn))) == []
    assert failures(caplog) == []


async def test_on_teams_values_that_are_not_people_from_the_search_are_never_looped_in(teams: TeamsDriver) -> None:
    nudge_id = await teams.post_nudge()
    data = {"value": str(nudge_id)}

    nobody = await teams.click(card_action(LOOP_IN_PICK, data, teams.connector.service_url), "ana")
    odd = await teams.click(
        card_action(
            LOOP_IN_PICK, {**data, LOOP_IN_PICK: f"x{'y' * 300}, 28:{APP_ID},"}, teams.connector.service_url
        ),
        "ana",
    )

    assert nobody["type"] == odd["type"] == MESSAGE
    assert nobody["value"] == odd["value"]
    assert nobody["value"].startswith("Pick the colleagues to loop in first")
    assert await loop_ins(teams.app, nudge_id) == []
    assert await teams.thread_replies() == []

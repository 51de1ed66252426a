"""What Teams users see: the neutral messages and dialogs the habits build, as Adaptive Cards."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.teams.card_text import PostedIn
from bot.teams.cards import (
    CARD_CONTENT_TYPE,
    CONTEXT_KEY,
    DIALOG_KEY,
    LISTS_KEY,
    MESSAGE_BYTES_LIMIT,
    VERB_KEY,
    activity_for,
    render_dialog,
    render_message,
    submitted,
)
from habits.elephants.messages import ANONYMITY_NOTE, NAME_BUTTON, ballot_form, poll_message
from habits.events import BusinessEvent
from habits.form_origin import FormOrigin
from habits.messages import (
    Actions,
    Button,
    Checkboxes,
    Choice,
    ChoiceInput,
    Control,
    DateInput,
    Dialog,
    Divider,
    Facts,
    Input,
    Message,
    Note,
    Paragraph,
    Part,
    PeopleMenu,
    PeoplePicker,
    TextInput,
    TimeInput,
    ZoneSelect,
    command,
)
from habits.nudge_answers import HELP_CATEGORIES, help_dialog
from habits.nudge_message import HELP_OPEN, HELP_SUBMIT, LOOP_IN_NOBODY, LOOP_IN_PICK, WHAT_ELSE, WHO_ELSE
from habits.roundtables.form import (
    GROUPS,
    INVITEES,
    SETUP_FORM,
    TIME,
    TIMEZONE,
    WEEKDAY,
    FormDefaults,
    read_setup_form,
    setup_form,
)
from habits.roundtables.messages import COMING_BUTTON, NOT_COMING_BUTTON, RoundTableView, Rsvps, reminder
from habits.workspace_settings import JUNCTURES, settings_dialog
from models.db import session_scope
from models.nudges import Nudge
from models.outbox import OutboxMessage
from models.watches import watch_channel
from models.workspaces import Workspace, get_or_create_workspace
from tests.habits.receiving import receive_event

Sessions = async_sessionmaker[AsyncSession]
WORKSPACE = "T0001"
DEALS = "CDEALS"
NOON = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
OWNER = "U0OWNER"
NAMES = {OWNER: "Olivia Owner", "U0ANN": "Ann Archer", "U0BEN": "Ben Baker"}


def elements(card: dict[str, Any]) -> list[dict[str, Any]]:
    return list(card["body"])


def of_type(card: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [element for element in elements(card) if element["type"] == kind]


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    in_body = [action for element in of_type(card, "ActionSet") for action in element["actions"]]
    return in_body + list(card.get("actions", []))


def button(card: dict[str, Any], title: str) -> dict[str, Any]:
    [found] = [action for action in buttons(card) if action["title"] == title]
    return found


def texts(card: dict[str, Any]) -> list[str]:
    """Every text Teams reads as markdown: text blocks, fact titles and values."""
    found = [element["text"] for element in of_type(card, "TextBlock")]
    for fact_set in of_type(card, "FactSet"):
        found += [text for fact in fact_set["facts"] for text in (fact["title"], fact["value"])]
    return found


def facts(card: dict[str, Any]) -> dict[str, str]:
    return {fact["title"]: fact["value"] for fact_set in of_type(card, "FactSet") for fact in fact_set["facts"]}


def mentions(card: dict[str, Any]) -> dict[str, str]:
    """Who each <at> tag of the card pings."""
    return {entity["text"]: entity["mentioned"]["id"] for entity in card["msteams"].get("entities", [])}


def unescaped(markdown: str) -> str:
    """What a reader sees of escaped markdown text (the inverse of the backslash escapes)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\n\n", "\n")


def assert_only_real_mentions(card: dict[str, Any]) -> None:
    tags = {tag for text in texts(card) for tag in re.findall(r"<at>.*?</at>", text)}
    assert tags == set(mentions(card))


async def a_nudge_about(sessions: Sessions, event: BusinessEvent) -> Message:
    """The nudge the who-else habit queues for the event, read back from the outbox as delivery would."""
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=WORKSPACE)
        await watch_channel(session, workspace_id=WORKSPACE, channel_id=DEALS, kind="deals", user_id="UADMIN")
    async with session_scope(sessions) as session:
        result = await receive_event(session, workspace_id=WORKSPACE, event=event, now=NOON)
    assert result.outcome == "nudged"
    async with sessions() as session:
        [row] = await session.scalars(select(OutboxMessage))
    return row.neutral_message()


def deal(**extra: Any) -> BusinessEvent:
    fields: dict[str, Any] = {
        "source": "webhook",
        "external_id": "evt-1",
        "kind": "deal",
        "event": "stage_changed",
        "subject_id": "https://crm.example.com/deals/1",
        "title": "Acme renewal",
        "url": "https://crm.example.com/deals/1",
        "account": "Acme",
        "stage": "Negotiation",
        "owner": OWNER,
    }
    return BusinessEvent(**(fields | extra))


async def test_a_deal_nudge_shows_its_context_and_asks_both_questions_with_teams_controls(
    sessions: Sessions,
) -> None:
    nudge = await a_nudge_about(sessions, deal())

    card = render_message(nudge, NAMES)

    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert facts(card) == {
        "Account": "Acme",
        "Stage": "Negotiation",
        "Owner": "<at>Olivia Owner</at>",
        "Link": "[Open in CRM](https://crm.example.com/deals/1)",
    }
    assert mentions(card) == {"<at>Olivia Owner</at>": OWNER}
    said = "\n".join(texts(card))
    assert f"**{WHO_ELSE}**" in said and f"**{WHAT_ELSE}**" in said
    assert "**Acme renewal** \\(Acme\\) moved to **Negotiation**" in said
    [people] = of_type(card, "Input.ChoiceSet")
    assert people["id"] == LOOP_IN_PICK and people["isMultiSelect"] is True
    assert people["choices.data"] == {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
    nudge_id = button(card, "Nobody else")["data"]["value"]
    assert nudge_id.isdigit()
    loop_in = button(card, "Loop in")
    assert (loop_in["type"], loop_in["verb"], loop_in["data"]) == (
        "Action.Execute",
        LOOP_IN_PICK,
        {"value": nudge_id},
    )
    assert loop_in["associatedInputs"] == "auto"
    nobody = button(card, "Nobody else")
    assert (nobody["type"], nobody["verb"], nobody["associatedInputs"]) == (
        "Action.Execute",
        LOOP_IN_NOBODY,
        "none",
    )
    # "What else can we help with?" opens a dialog, which Teams does only from a task/fetch submit.
    help_button = button(card, "Offer or ask for help")
    assert help_button["type"] == "Action.Submit" and help_button["style"] == "positive"
    assert help_button["data"] == {"msteams": {"type": "task/fetch"}, VERB_KEY: HELP_OPEN, "value": nudge_id}
    [footnote] = [block for block in of_type(card, "TextBlock") if block.get("size") == "Small"]
    assert footnote["isSubtle"] is True
    # On Teams commands are typed to the bot as they are: no Slack slash command.
    assert footnote["text"].endswith("**snooze 1w** to mute.") and "/whoelse" not in footnote["text"]


async def test_a_deal_title_with_markdown_and_mention_tags_stays_literal(sessions: Sessions) -> None:
    title = "[x](http://evil) ** <at>Olivia Owner</at> _deal_"
    nudge = await a_nudge_about(sessions, deal(title=title, account="**Acme**"))

    card = render_message(nudge, NAMES)

    [headline] = [text for text in texts(card) if "evil" in text]
    assert "](" not in headline and "<at>" not in headline
    # Shown as written, only in bold as every deal title is (the neutral model's lookalikes for angle brackets).
    assert (
        unescaped(headline)
        == "**[x](http://evil) ** ‹at›Olivia Owner‹/at› _deal_** (**Acme**) moved to **Negotiation**"
    )
    assert facts(card)["Account"] == "\\*\\*Acme\\*\\*"
    # The only mention is the real owner's, from the facts.
    assert_only_real_mentions(card)
    assert mentions(card) == {"<at>Olivia Owner</at>": OWNER}


def test_text_with_mention_tags_cannot_forge_a_mention() -> None:
    message = Message(text="hi", parts=[Paragraph(text="Ask <at>Olivia Owner</at>, or @{U0ANN}")])

    card = render_message(message, NAMES)

    [text] = texts(card)
    assert text == "Ask ‹at›Olivia Owner‹/at›, or <at>Ann Archer</at>"
    assert mentions(card) == {"<at>Ann Archer</at>": "U0ANN"}


def test_markup_becomes_teams_markdown_and_everything_else_is_escaped() -> None:
    message = Message(
        text="x",
        parts=[
            Paragraph(text="*Bold* and _italic_ and <https://example.com/a(1)|the [doc]> and a*b_c [d](e) `f`"),
            Paragraph(text="first line\nsecond line"),
            Paragraph(text=":elephant: *Voting is open.*  Unknown :shrug: stays"),
        ],
    )

    markup, lines, emoji = texts(render_message(message))

    assert markup == (
        "**Bold** and _italic_ and [the \\[doc\\]](https://example.com/a%281%29) and a\\*b\\_c \\[d\\]\\(e\\) \\`f\\`"
    )
    # A TextBlock drops a single line break; a blank line shows one.
    assert lines == "first line\n\nsecond line"
    assert emoji == "🐘 **Voting is open.**  Unknown :shrug: stays"


def test_commands_are_shown_as_typed_to_the_bot_in_teams_without_slack_s_prefix() -> None:
    message = Message(text="x", parts=[Paragraph(text=f"Usage: {command('watch deals|tickets')}")])

    [usage] = texts(render_message(message))

    assert usage == "Usage: **watch deals|tickets**"


def test_people_are_mentioned_by_name_groups_and_channels_are_named() -> None:
    names = {"U0ANN": "Ann Archer", "U0ANN2": "Ann Archer", "group:S0SALES": "sales", "C0GEN": "general"}
    message = Message(
        text="x",
        parts=[Paragraph(text="@{U0ANN}, @{U0ANN2}, @{U0ANN} and @{U0NEW}: @{group:S0SALES} in #{C0GEN}")],
    )

    card = render_message(message, lambda target: names.get(target))

    [text] = texts(card)
    assert (
        text
        == "<at>Ann Archer</at>, <at>Ann Archer (2)</at>, <at>Ann Archer</at> and <at>U0NEW</at>: @sales in #general"
    )
    # Teams finds the person by the tag's text: two people who share a name get two texts.
    assert mentions(card) == {
        "<at>Ann Archer</at>": "U0ANN",
        "<at>Ann Archer (2)</at>": "U0ANN2",
        "<at>U0NEW</at>": "U0NEW",
    }
    [unnamed] = texts(render_message(Message(text="x", parts=[Paragraph(text="@{group:S1} in #{C1}")])))
    assert unnamed == "a group in a channel"


def test_an_elephant_poll_opens_its_anonymous_form_from_teams() -> None:
    card = render_message(poll_message(poll_id=7, naming_for=timedelta(days=2), voting_for=timedelta(days=1)))

    assert texts(card)[0] == "🐘 **What is the elephant in the room this week?**"
    name = button(card, "Name an elephant")
    assert name["type"] == "Action.Submit" and name["style"] == "positive"
    assert name["data"] == {"msteams": {"type": "task/fetch"}, VERB_KEY: NAME_BUTTON, "value": "7"}
    [note] = [block for block in of_type(card, "TextBlock") if block.get("isSubtle")]
    assert unescaped(note["text"]) == ANONYMITY_NOTE and note["size"] == "Small"


def test_a_round_table_reminder_lists_who_is_coming_and_takes_rsvps() -> None:
    view = RoundTableView(
        roundtable_id=3,
        cadence="every week on Tuesday at 15:00",
        timezone="Europe/Berlin",
        invitees=["U0ANN", "U0BEN"],
        group_ids=[],
        reminder_minutes=[60],
    )
    message = reminder(
        view,
        meeting_id=11,
        starts_at=datetime(2026, 12, 1, 14, 0, tzinfo=UTC),
        offset_minutes=60,
        answers=Rsvps(coming=["U0ANN"], not_coming=[]),
    )

    card = render_message(message, NAMES)

    assert texts(card)[0] == "📍 Round-table in 1 hour: **Tuesday 1 December 2026, 15:00 CET**"
    assert facts(card) == {"Coming \\(1\\)": "<at>Ann Archer</at>", "Can't make it \\(0\\)": "—"}
    assert "<at>Ann Archer</at>, <at>Ben Baker</at>" in texts(card)[1]
    assert mentions(card) == {"<at>Ann Archer</at>": "U0ANN", "<at>Ben Baker</at>": "U0BEN"}
    coming, not_coming = button(card, "I'll be there"), button(card, "Can't make it")
    assert (coming["type"], coming["verb"], coming["data"], coming["style"]) == (
        "Action.Execute",
        COMING_BUTTON,
        {"value": "11"},
        "positive",
    )
    assert (not_coming["verb"], "style" in not_coming) == (NOT_COMING_BUTTON, False)


def test_a_danger_button_is_destructive_and_a_divider_separates_what_follows() -> None:
    message = Message(
        text="x",
        parts=[
            Paragraph(text="above"),
            Divider(),
            Actions(
                block_id="b", controls=[Button(action_id="cancel", label="Cancel", value="1", style="danger")]
            ),
        ],
    )

    card = render_message(message)

    above, actions = elements(card)
    assert "separator" not in above
    assert (actions["type"], actions["separator"]) == ("ActionSet", True)
    assert button(card, "Cancel")["style"] == "destructive"


def test_what_else_can_we_help_with_is_a_teams_dialog() -> None:
    nudge = Nudge(id=42, title="Acme_renewal [2027]")

    dialog = help_dialog(nudge, opened_by="U0ANN")
    answer = render_dialog(dialog)

    task = answer["task"]
    assert task["type"] == "continue"
    assert task["value"]["title"] == "What else can we help with?"
    assert task["value"]["card"]["contentType"] == CARD_CONTENT_TYPE
    card = task["value"]["card"]["content"]
    assert texts(card) == ["About: **Acme\\_renewal \\[2027\\]**"]
    kind, category, text = elements(card)[1:]
    assert (kind["type"], kind["id"], kind["style"], kind["value"]) == (
        "Input.ChoiceSet",
        "kind",
        "expanded",
        "offer",
    )
    assert [choice["value"] for choice in kind["choices"]] == ["offer", "request"]
    assert (category["style"], category["isRequired"]) == ("compact", True)
    assert [choice["value"] for choice in category["choices"]] == list(HELP_CATEGORIES)
    assert (text["type"], text["isMultiline"], text["label"]) == ("Input.Text", True, "What exactly?")
    [submit] = card["actions"]
    assert (submit["type"], submit["title"]) == ("Action.Submit", "Post in thread")
    # The form's origin (channel, opener, nudge) comes back with it, as on Slack.
    assert submit["data"] == {DIALOG_KEY: HELP_SUBMIT, CONTEXT_KEY: dialog.context, LISTS_KEY: []}


def as_teams_submits(card: dict[str, Any], typed: dict[str, str]) -> dict[str, Any]:
    """The data of the task/submit invoke: the submit button's data, plus every input's value as a string."""
    [submit] = card["actions"]
    inputs = {element["id"]: element.get("value", "") for element in elements(card) if "id" in element}
    return {**submit["data"], **inputs, **typed}


def test_a_round_table_form_submitted_from_teams_reads_back_as_the_plan() -> None:
    origin = FormOrigin(channel_id="C1", user_id="U0ANN")
    form = setup_form(origin=origin, defaults=FormDefaults(invitees=["U0ANN"]), changing=False)
    card = render_dialog(form, NAMES)["task"]["value"]["card"]["content"]

    answer = submitted(
        as_teams_submits(card, {WEEKDAY: "1", TIME: "15:00", TIMEZONE: "Europe/Berlin", INVITEES: "U0ANN,U0BEN"})
    )

    assert (answer.callback_id, answer.context) == (SETUP_FORM, origin.encoded())
    assert answer.values[INVITEES] == ["U0ANN", "U0BEN"]
    # Left empty: the same None a Slack form gives.
    assert answer.values[GROUPS] is None
    plan = read_setup_form(answer.values, known_groups=[])
    assert (plan.weekday, plan.at, plan.timezone, plan.invitees) == (
        1,
        time(15, 0),
        "Europe/Berlin",
        ("U0ANN", "U0BEN"),
    )
    # Nobody ticked: an empty list, not a missing answer.
    assert submitted({DIALOG_KEY: SETUP_FORM, LISTS_KEY: [INVITEES]}).values == {INVITEES: []}


def test_a_round_table_form_shows_who_is_invited_by_name() -> None:
    form = setup_form(
        origin=FormOrigin(channel_id="C1", user_id="U0ANN"),
        defaults=FormDefaults(invitees=["U0ANN", "U0BEN"]),
        changing=True,
    )

    card = render_dialog(form, NAMES)["task"]["value"]["card"]["content"]

    [invitees] = [element for element in elements(card) if element.get("id") == INVITEES]
    assert invitees["choices.data"]["dataset"] == "graph.microsoft.com/users"
    assert invitees["choices"] == [
        {"title": "Ann Archer", "value": "U0ANN"},
        {"title": "Ben Baker", "value": "U0BEN"},
    ]
    assert invitees["value"] == "U0ANN,U0BEN"
    [time_of_day] = [element for element in elements(card) if element.get("id") == TIME]
    assert time_of_day["type"] == "Input.Time"


def test_workspace_settings_tick_the_moments_that_get_a_nudge() -> None:
    workspace = Workspace(
        id=WORKSPACE,
        timezone="UTC",
        quiet_start=time(19, 0),
        quiet_end=time(8, 0),
        hourly_cap=6,
        junctures=["deal.closed_won", "ticket.escalated"],
    )

    card = render_dialog(settings_dialog(workspace, origin=FormOrigin(channel_id="C1", user_id="U0ANN")))["task"][
        "value"
    ]["card"]["content"]

    [moments] = [element for element in elements(card) if element.get("id") == JUNCTURES]
    assert (moments["isMultiSelect"], moments["style"]) == (True, "expanded")
    assert moments["value"] == "deal.closed_won,ticket.escalated"


def test_a_vote_with_many_elephants_is_a_menu() -> None:
    submissions = [(str(number), f"elephant {number}") for number in range(12)]

    card = render_dialog(
        ballot_form(origin=FormOrigin(channel_id="C1", user_id="U0ANN", subject_id=1), submissions=submissions)
    )["task"]["value"]["card"]["content"]

    [choice] = of_type(card, "Input.ChoiceSet")
    assert choice["style"] == "compact" and len(choice["choices"]) == 12


def test_a_message_without_parts_is_plain_text_with_its_mentions() -> None:
    activity = activity_for(Message(text="Sorry @{U0ANN}, only *admins* can"), NAMES)

    assert activity == {
        "type": "message",
        "textFormat": "markdown",
        "text": "Sorry <at>Ann Archer</at>, only **admins** can",
        "entities": [
            {"type": "mention", "text": "<at>Ann Archer</at>", "mentioned": {"id": "U0ANN", "name": "Ann Archer"}}
        ],
    }


def test_the_channel_a_message_is_posted_in_is_this_channel_and_others_are_a_channel() -> None:
    # Teams does not tell a bot channels' names.
    posted_in_deals = PostedIn(NAMES, "19:deals@thread.tacv2")
    message = Message(
        text="#{19:deals@thread.tacv2} now watches deals; @{U0ANN} moved tickets from #{19:support@thread.tacv2} "
        "to #{19:deals@thread.tacv2}."
    )

    activity = activity_for(message, posted_in_deals)

    assert activity["text"] == (
        "This channel now watches deals; <at>Ann Archer</at> moved tickets from a channel to this channel."
    )


async def test_a_nudge_activity_carries_its_card_and_says_what_it_is_in_notifications(sessions: Sessions) -> None:
    nudge = await a_nudge_about(sessions, deal())

    activity = activity_for(nudge, NAMES)

    assert activity["type"] == "message"
    [attachment] = activity["attachments"]
    assert attachment["contentType"] == CARD_CONTENT_TYPE
    assert attachment["content"] == {**render_message(nudge, NAMES), "fallbackText": activity["summary"]}
    assert activity["summary"] == f"Acme renewal (Acme) moved to Negotiation — {WHO_ELSE} {WHAT_ELSE}"
    # Not also as text: Teams would show it above the card.
    assert "text" not in activity


def test_long_messages_are_cut_to_fit_in_a_teams_message() -> None:
    # Every character as costly as it gets: escaped, a line break doubled, or four bytes of UTF-8.
    heavy = ("*_[\n🐘" * 1000)[:2990] + "END"
    message = Message(
        text=heavy, parts=[Paragraph(text=heavy) for _ in range(20)] + [Facts(facts=[("Label", heavy)] * 10)]
    )

    activity = activity_for(message)

    assert len(json.dumps(activity, ensure_ascii=False).encode()) <= MESSAGE_BYTES_LIMIT
    card = activity["attachments"][0]["content"]
    said = texts(card)
    # What comes first is kept; what comes last is cut, but still there.
    assert said[0].startswith("\\*\\_\\[") and said[0].endswith("END")
    assert said[-1] == "…" and len(said) == 20 + 2 * 10
    # A short message is left whole.
    short = Message(text="x", parts=[Paragraph(text=heavy)])
    assert texts(render_message(short))[0].endswith("END")


SAMPLE_PARTS: dict[type, Part] = {
    Paragraph: Paragraph(text="p"),
    Facts: Facts(facts=[("a", "b")]),
    Note: Note(text="n"),
    Divider: Divider(),
    Actions: Actions(block_id="b", controls=[Button(action_id="a", label="A")]),
}
SAMPLE_CONTROLS: dict[type, Control] = {
    Button: Button(action_id="button", label="Button", value="1"),
    PeopleMenu: PeopleMenu(action_id="picker", placeholder="Pick…", value="1"),
}
SAMPLE_INPUTS: dict[type, Input] = {
    TextInput: TextInput(input_id="text", label="Text"),
    ChoiceInput: ChoiceInput(input_id="choice", label="Choice", choices=[Choice(value="v", label="V")]),
    Checkboxes: Checkboxes(input_id="multi", label="Multi", choices=[Choice(value="v", label="V")]),
    PeoplePicker: PeoplePicker(input_id="people", label="People"),
    TimeInput: TimeInput(input_id="time", label="Time"),
    ZoneSelect: ZoneSelect(input_id="zone", label="Zone"),
    DateInput: DateInput(input_id="due", label="Due"),
}


def members(union: object) -> set[type]:
    [types, _discriminator] = get_args(union)
    return set(get_args(types))


def test_every_kind_of_part_control_and_input_has_an_adaptive_card_form() -> None:
    # A new kind in the neutral model fails here until Teams renders it too.
    assert set(SAMPLE_PARTS) == members(Part)
    assert set(SAMPLE_CONTROLS) == members(Control)
    assert set(SAMPLE_INPUTS) == members(Input)

    for part in SAMPLE_PARTS.values():
        card = render_message(Message(text="x", parts=[Paragraph(text="before"), part, Paragraph(text="after")]))
        assert len(elements(card)) == (2 if isinstance(part, Divider) else 3)
    card = render_message(
        Message(text="x", parts=[Actions(block_id="b", controls=list(SAMPLE_CONTROLS.values()))])
    )
    assert {action["verb"] for action in buttons(card)} == {"button", "picker"}
    dialog = Dialog(callback_id="d", title="D", inputs=list(SAMPLE_INPUTS.values()))
    card = render_dialog(dialog)["task"]["value"]["card"]["content"]
    assert [element["id"] for element in elements(card)] == [
        "text",
        "choice",
        "multi",
        "people",
        "time",
        "zone",
        "due",
    ]

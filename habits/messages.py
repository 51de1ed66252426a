"""The neutral message model: features describe what to say once; renderers turn it into Block Kit or Adaptive Cards.

Inline text is a small markdown subset shared by both platforms: *bold*, _italic_, <https://url|label> links, and
mentions written as @{U123} (a user), @{group:S123} (a user group) or #{C123} (a channel), which each renderer
turns into its own mention syntax. A whoelse command is written /{nudge <topic>}: what people type after the
platform's way of addressing whoelse, which the renderer adds (on Slack, `/whoelse nudge <topic>`).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from habits.zone_choices import zone_choices

MENTION = re.compile(r"@\{([A-Za-z0-9_.:@-]+)\}")
CHANNEL_MENTION = re.compile(r"#\{([A-Za-z0-9_.:@-]+)\}")
COMMAND = re.compile(r"/\{([^{}]+)\}")
GROUP_PREFIX = "group:"


def mention(user_id: str) -> str:
    return f"@{{{user_id}}}"


def group_mention(group_id: str) -> str:
    return f"@{{{GROUP_PREFIX}{group_id}}}"


def channel_mention(channel_id: str) -> str:
    return f"#{{{channel_id}}}"


# Words Slack may turn into a channel-wide ping even without markup (mrkdwn's automatic parsing).
_EVERYONE_WORDS = re.compile(r"@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)
# Between @ and the word: invisible, so "@here" reads the same, but no longer the word Slack looks for.
WORD_JOINER = "\u2060"


def shown(text: str) -> str:
    """Text from outside (a CRM, a helpdesk, a bot's post, someone's words) made inert: shown as written, never a
    mention or a link."""
    text = MENTION.sub(lambda found: "@" + found.group(1), text)
    text = CHANNEL_MENTION.sub(lambda found: "#" + found.group(1), text)
    text = _EVERYONE_WORDS.sub("@" + WORD_JOINER, text)
    # Nor a whoelse command, which renderers would show as one (on Slack, `/whoelse …`).
    text = text.replace("/{", "/" + WORD_JOINER + "{")
    # Slack reads <!channel>, <@U…> and <url|label> between angle brackets; lookalikes keep the text readable.
    return text.replace("<", "‹").replace(">", "›")


# Characters a URL never holds raw (RFC 3986) that would spell a mention (@{…}, #{…}) or end the <url|label>
# markup early. Percent-encoded, they keep the address the same for every browser but can no longer ping anyone.
_NOT_IN_URLS = re.compile(r"[{}<>|\s\"\\^`]")


def link(url: str, label: str) -> str:
    """A link to an address from outside; `label` must already be inline text (escaped where it came from outside)."""
    target = _NOT_IN_URLS.sub(lambda found: "".join(f"%{byte:02X}" for byte in found.group().encode()), url)
    return f"<{target}|{label}>"


def command(syntax: str) -> str:
    """A whoelse command as people type it, without the platform's prefix: command("watch deals|tickets")."""
    return f"/{{{syntax}}}"


class Paragraph(BaseModel):
    type: Literal["paragraph"] = "paragraph"
    text: str


class Facts(BaseModel):
    """Label/value pairs such as Account: Acme, Stage: Negotiation."""

    type: Literal["facts"] = "facts"
    facts: list[tuple[str, str]]


class Note(BaseModel):
    """Small print under the main content."""

    type: Literal["note"] = "note"
    text: str


class Divider(BaseModel):
    type: Literal["divider"] = "divider"


class Button(BaseModel):
    type: Literal["button"] = "button"
    action_id: str
    label: str
    value: str = ""
    style: Literal["primary", "danger"] | None = None
    # The click answers with a form. Slack opens one from any click; Teams only from a button made for it, so the
    # Teams renderer must know which buttons these are.
    opens_dialog: bool = False


class PeopleMenu(BaseModel):
    """A menu in a message that answers as soon as people are picked in it (Loop in…)."""

    # The name it had before dialogs had a people picker: messages waiting in the outbox still read back.
    type: Literal["people_picker"] = "people_picker"
    action_id: str
    placeholder: str
    value: str = ""


Control = Annotated[Button | PeopleMenu, Field(discriminator="type")]


class Actions(BaseModel):
    type: Literal["actions"] = "actions"
    # Stable across restarts: the value is what the click handler reads back, never in-memory state.
    block_id: str
    controls: list[Control]


Part = Annotated[Paragraph | Facts | Note | Divider | Actions, Field(discriminator="type")]


class Message(BaseModel):
    """One chat message. `text` is the notification and screen-reader fallback; `parts` the rich body."""

    text: str
    parts: list[Part] = Field(default_factory=list)


class TextInput(BaseModel):
    type: Literal["text_input"] = "text_input"
    input_id: str
    label: str
    placeholder: str = ""
    multiline: bool = False
    optional: bool = False
    initial: str = ""
    max_length: int = 3000


class Choice(BaseModel):
    value: str
    label: str


class ChoiceInput(BaseModel):
    type: Literal["choice_input"] = "choice_input"
    input_id: str
    label: str
    choices: list[Choice]
    initial: str | None = None
    style: Literal["radio", "dropdown"] = "dropdown"
    optional: bool = False


class Checkboxes(BaseModel):
    """Any number of choices at once, all in view."""

    type: Literal["checkboxes"] = "checkboxes"
    input_id: str
    label: str
    choices: list[Choice]
    initial: list[str] = Field(default_factory=list)
    optional: bool = True


class PeoplePicker(BaseModel):
    """People picked from the workspace's directory: one, or several when `multiple`."""

    type: Literal["people_picker"] = "people_picker"
    input_id: str
    label: str
    multiple: bool = True
    optional: bool = True
    initial: list[str] = Field(default_factory=list)


class TimeInput(BaseModel):
    """A time of day picked on a clock, read back as "HH:MM" (24-hour)."""

    type: Literal["time_input"] = "time_input"
    input_id: str
    label: str
    initial: str = ""
    optional: bool = False


class ZoneSelect(BaseModel):
    """An IANA time zone picked from a list that starts with the person's own zone."""

    type: Literal["zone_select"] = "zone_select"
    input_id: str
    label: str
    # The zone of the person filling in the form, listed first; "" when the platform did not say.
    own_zone: str = ""
    initial: str = ""
    optional: bool = False

    def choices(self) -> list[Choice]:
        return [
            Choice(value=zone, label=label)
            for zone, label in zone_choices(own_zone=self.own_zone, initial=self.initial)
        ]


class DateInput(BaseModel):
    """A calendar date picked in a form (Slack's datepicker, Teams' Input.Date); read back as YYYY-MM-DD."""

    type: Literal["date_input"] = "date_input"
    input_id: str
    label: str
    optional: bool = True
    initial: date | None = None


Input = Annotated[
    TextInput | ChoiceInput | Checkboxes | PeoplePicker | TimeInput | ZoneSelect | DateInput,
    Field(discriminator="type"),
]


class Dialog(BaseModel):
    """A form people fill in (a Slack modal, a Teams task module)."""

    callback_id: str
    title: str
    submit_label: str = "Submit"
    # Round-tripped untouched by the platform: the context the submission handler needs.
    context: str = ""
    intro: str = ""
    inputs: list[Input] = Field(default_factory=list)

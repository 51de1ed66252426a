"""Connecting a workspace's own CRM or helpdesk: what the form asks for, what comes back, and what people are told.

Plain rules, no chat platform: each source is described once by a `SourceGuide` (what its form asks, whether whoelse
generates the secret, the steps to follow in that system); the edges render the form and the answers.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from habits.form_origin import FormOrigin
from habits.messages import Dialog, Message, Note, Paragraph, TextInput, command, mention, shown
from habits.time_words import describe_duration

CONNECT_DIALOG = "whoelse_connect"
CONNECT_SYNTAX = "connect <source>"
DISCONNECT_SYNTAX = "disconnect <source>"
# Bytes of randomness in a secret whoelse generates for a vendor to sign with (43 characters).
GENERATED_SECRET_BYTES = 32
LONGEST_ANSWER = 500

NOT_AN_ADMIN = (
    "Sorry, only workspace admins can connect, list or disconnect a CRM or helpdesk: "
    "its events nudge every channel that watches deals or tickets."
)


@dataclass(frozen=True)
class Asked:
    """One thing the form asks for, as the vendor shows it."""

    key: str
    label: str
    placeholder: str = ""
    # Kept sealed and never shown again; otherwise kept as a detail of the connection.
    secret: bool = True
    # Left empty, the value already stored is kept (or the connection waits for it, for a vendor that reveals it
    # only once the webhook exists).
    optional: bool = False
    # Why a value is not right, or None: ("must be 15 or 18 characters").
    problem: Callable[[str], str | None] = field(default=lambda _value: None)


@dataclass(frozen=True)
class SourceGuide:
    source: str
    name: str
    # (webhook URL, the secret whoelse generated or None) → the steps to follow in that system.
    steps: Callable[[str, str | None], Sequence[str]]
    asks: tuple[Asked, ...] = ()
    # The name under which whoelse generates the secret the vendor signs with (shown once), or None.
    generates: str | None = None


@dataclass(frozen=True)
class Answers:
    secrets: dict[str, str]
    details: dict[str, str]


class InvalidAnswers(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {error}" for key, error in errors.items()))
        # Keyed by the form's input ids, so the platform shows each next to its field.
        self.errors = errors


@dataclass(frozen=True)
class ConnectionSummary:
    source: str
    address: str
    connected_by: str
    connected_at: datetime
    last_event_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    waiting_for: str | None = None


def generate_secret() -> str:
    return secrets.token_urlsafe(GENERATED_SECRET_BYTES)


def dialog_id(source: str) -> str:
    """The form's callback id names the source it connects (checked against the known sources when it comes back)."""
    return f"{CONNECT_DIALOG}:{source}"


def source_of_dialog(callback_id: object) -> str | None:
    if not isinstance(callback_id, str) or not callback_id.startswith(f"{CONNECT_DIALOG}:"):
        return None
    return callback_id.removeprefix(f"{CONNECT_DIALOG}:")


def connect_dialog(guide: SourceGuide, *, origin: FormOrigin, connected: bool) -> Dialog:
    answer = "the address to paste into it" + (" and the secret to sign with" if guide.generates else "")
    intro = f"Events from {guide.name} will nudge the channels here that watch deals or tickets. whoelse answers "
    intro += f"with {answer}."
    if connected:
        kept = "its address, with a new secret" if guide.generates else "its address"
        intro += f"\n{guide.name} is already connected: connecting again keeps {kept}."
    inputs = [
        TextInput(
            input_id=asked.key,
            label=asked.label,
            placeholder=asked.placeholder,
            optional=asked.optional,
            max_length=LONGEST_ANSWER,
        )
        for asked in guide.asks
    ]
    return Dialog(
        callback_id=dialog_id(guide.source),
        title=f"Connect {guide.name}"[:24],
        submit_label="Connect",
        context=origin.encoded(),
        intro=intro,
        inputs=inputs,
    )


def read_answers(guide: SourceGuide, values: Mapping[str, str | list[str] | None]) -> Answers:
    """What the admin typed, each field checked; raises InvalidAnswers naming every field that is not right."""
    errors: dict[str, str] = {}
    answers = Answers(secrets={}, details={})
    for asked in guide.asks:
        value = values.get(asked.key)
        typed = value.strip() if isinstance(value, str) else ""
        if not typed:
            if not asked.optional:
                errors[asked.key] = f"Paste the {asked.label.lower()} from {guide.name}."
            continue
        problem = asked.problem(typed)
        if problem is not None:
            errors[asked.key] = problem
            continue
        (answers.secrets if asked.secret else answers.details)[asked.key] = typed
    if errors:
        raise InvalidAnswers(errors)
    return answers


def missing_secrets(guide: SourceGuide, stored: Mapping[str, str]) -> list[str]:
    """The secrets a connection still waits for before whoelse can check its deliveries."""
    return [asked.label for asked in guide.asks if asked.secret and not stored.get(asked.key)]


def connected_message(
    guide: SourceGuide, *, url: str, generated: str | None, waiting_for: Sequence[str]
) -> Message:
    """The private answer to a connection: the address, the generated secret (shown this once) and the steps."""
    steps = "\n".join(f"{number}. {step}" for number, step in enumerate(guide.steps(url, generated), start=1))
    parts: list[Paragraph | Note] = [
        Paragraph(text=f"*{guide.name} is connected.* Its webhook address:\n`{url}`"),
    ]
    if generated is not None:
        parts.append(Paragraph(text=f"Secret to sign with:\n`{generated}`"))
    parts.append(Paragraph(text=f"In {guide.name}:\n{steps}"))
    if waiting_for:
        parts.append(
            Paragraph(
                text=f"Once {guide.name} shows its {', '.join(label.lower() for label in waiting_for)}, run "
                f"{command(f'connect {guide.source}')} again and paste it: until then its deliveries are refused."
            )
        )
    if generated is not None:
        parts.append(Note(text="whoelse keeps the secret sealed and will not show it again."))
    return Message(text=f"{guide.name} is connected. Its webhook address: {url}", parts=list(parts))


def connections_message(
    summaries: Sequence[ConnectionSummary], names: Mapping[str, str], *, now: datetime, name_people: bool = True
) -> Message:
    """`name_people=False` for a list everyone in the channel reads: naming who connected each source there would
    notify them every time someone lists the connections."""
    if not summaries:
        return Message(
            text=f"No CRM or helpdesk is connected here yet. An admin can connect one with {command(CONNECT_SYNTAX)} "
            f"({', '.join(sorted(names))})."
        )
    lines = []
    for summary in summaries:
        name = names.get(summary.source, summary.source)
        line = f"• *{name}* at `{summary.address}`, connected "
        line += f"by {mention(summary.connected_by)} " if name_people else ""
        line += _ago(summary.connected_at, now)
        line += (
            f"; last event {_ago(summary.last_event_at, now)}"
            if summary.last_event_at
            else "; no event received yet"
        )
        if summary.waiting_for:
            line += f"; waiting for its {summary.waiting_for.lower()}"
        if summary.last_error and summary.last_error_at:
            line += f"\n   Last refused {_ago(summary.last_error_at, now)}: {shown(summary.last_error)}"
        lines.append(line)
    return Message(text="Connected here:\n" + "\n".join(lines))


def _ago(moment: datetime, now: datetime) -> str:
    return f"{describe_duration(now - moment)} ago"


def disconnected_message(name: str, *, removed: bool) -> Message:
    if not removed:
        return Message(text=f"{name} is not connected here: there was nothing to disconnect.")
    return Message(
        text=f"{name} is disconnected: its webhook address now answers 404. Remove the webhook in {name} too."
    )


def unknown_source_message(typed: str, sources: Sequence[str], *, syntax: str) -> Message:
    known = ", ".join(sources)
    if not typed:
        return Message(text=f"Usage: {command(syntax)}, where the source is one of: {known}.")
    return Message(text=f"whoelse can't connect `{shown(typed)[:40]}`. The sources it knows: {known}.")


_WORD = re.compile(r"^[a-z0-9_-]{1,32}$")


def source_word(arguments: str) -> str:
    """The source someone typed after connect/disconnect, as a registry key ("Jira" is jira)."""
    word = arguments.strip().lower()
    return word if _WORD.match(word) else word[:40]

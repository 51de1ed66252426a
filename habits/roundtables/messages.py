"""What the round-table says: its overview, the announcement, reminders with RSVPs, the agenda and the debrief."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from habits.messages import Actions, Button, Facts, Message, Note, Paragraph, Part, command, group_mention, mention
from habits.time_words import describe_duration

# Interaction ids. Values carry a round-table or meeting id, so buttons keep working after a restart.
CHANGE_BUTTON = "whoelse_roundtable_change"
CANCEL_BUTTON = "whoelse_roundtable_cancel"
COMING_BUTTON = "whoelse_roundtable_coming"
NOT_COMING_BUTTON = "whoelse_roundtable_not_coming"
NOTES_BUTTON = "whoelse_roundtable_notes"

SILO_NOTE = "Round-tables work when every team is at the table."


@dataclass(frozen=True)
class RoundTableView:
    """Everything the messages say about a round-table, already worked out."""

    roundtable_id: int
    cadence: str
    timezone: str
    invitees: Sequence[str]
    group_ids: Sequence[str]
    reminder_minutes: Sequence[int]


@dataclass(frozen=True)
class AgendaElephant:
    # The elephant's random key: what outcomes are recorded against.
    submission_id: str
    poll_id: int
    text: str
    votes: int


@dataclass(frozen=True)
class FollowUp:
    """An action item an earlier meeting left open."""

    text: str
    owner_id: str
    due_on: date
    overdue: bool


class DebriefAction(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def owner_id(self) -> str: ...

    @property
    def due_on(self) -> date: ...


class DebriefOutcome(Protocol):
    @property
    def elephant(self) -> AgendaElephant: ...

    @property
    def pain_point(self) -> str: ...

    @property
    def decision(self) -> str: ...

    @property
    def actions(self) -> Sequence[DebriefAction]: ...


@dataclass(frozen=True)
class AgendaItems:
    follow_ups: Sequence[FollowUp]
    elephants: Sequence[AgendaElephant]
    # (who asked, category, what about, what they asked)
    help_requests: Sequence[tuple[str, str, str, str]]
    # Titles of deals and tickets nobody answered "who else" for.
    unanswered: Sequence[str]


@dataclass(frozen=True)
class Rsvps:
    coming: Sequence[str]
    not_coming: Sequence[str]


def as_written(text: str) -> str:
    """Someone's words, line breaks kept, unable to ping anyone or pose as a link."""
    return text.replace("<", "‹").replace(">", "›").replace("@{", "@ {").replace("#{", "# {").strip()


def meeting_time(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} {local.tzname()}"


def reminders_in_words(minutes: Sequence[int]) -> str:
    if not minutes:
        return "none"
    words = [describe_duration(timedelta(minutes=m)) for m in sorted(minutes, reverse=True)]
    joined = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"{joined} before"


def invitees_in_words(view: RoundTableView) -> str:
    names = [mention(user) for user in view.invitees] + [group_mention(group) for group in view.group_ids]
    return ", ".join(names) if names else "nobody yet"


def teams_in_words(teams: Sequence[str]) -> str:
    return teams[0] if len(teams) == 1 else ", ".join(teams[:-1]) + " and " + teams[-1]


def missing_teams_line(missing: Sequence[str] | None) -> str:
    if missing is None:
        return "I couldn't check which teams are invited just now."
    if not missing:
        return ":white_check_mark: Sales, engineering, marketing and support are all invited."
    return f":warning: Nobody from *{teams_in_words(missing)}* is invited yet. {SILO_NOTE}"


def overview(
    view: RoundTableView, *, next_meeting: datetime, missing: Sequence[str] | None, steerable: bool = True
) -> Message:
    """The round-table as its channel sees it; "Change" and "Cancel" only for someone who may use them."""
    parts: list[Part] = [
        Paragraph(text="*This channel's cross-functional round-table*"),
        Facts(
            facts=[
                ("When", view.cadence),
                ("Next meeting", meeting_time(next_meeting, view.timezone)),
                ("Invited", invitees_in_words(view)),
                ("Reminders", reminders_in_words(view.reminder_minutes)),
            ]
        ),
        Paragraph(text=missing_teams_line(missing)),
    ]
    if not steerable:
        return Message(text=f"Round-table: {view.cadence}", parts=parts)
    parts.append(
        Actions(
            block_id=f"roundtable:{view.roundtable_id}",
            controls=[
                Button(action_id=CHANGE_BUTTON, label="Change", value=str(view.roundtable_id), opens_dialog=True),
                Button(
                    action_id=CANCEL_BUTTON,
                    label="Cancel round-table",
                    value=str(view.roundtable_id),
                    style="danger",
                ),
            ],
        )
    )
    return Message(text=f"Round-table: {view.cadence}", parts=parts)


def no_roundtable() -> Message:
    return Message(
        text="This channel has no round-table yet.",
        parts=[
            Paragraph(
                text=(
                    "This channel has no round-table yet. A regular cross-functional round-table gets sales, "
                    "engineering, marketing and support talking about the elephant in the room."
                )
            ),
            Actions(
                block_id="roundtable:new",
                controls=[
                    Button(
                        action_id=CHANGE_BUTTON, label="Set one up", value="", style="primary", opens_dialog=True
                    )
                ],
            ),
        ],
    )


def open_setup_form() -> Message:
    """Where a typed command cannot open a form itself (Teams opens one only from a card's button): the button."""
    text = "The round-table's set-up form opens from this button."
    return Message(
        text=text,
        parts=[
            Paragraph(text=text),
            Actions(
                block_id="roundtable:set",
                controls=[
                    Button(
                        action_id=CHANGE_BUTTON,
                        label="Open the form",
                        value="",
                        style="primary",
                        opens_dialog=True,
                    )
                ],
            ),
        ],
    )


def announcement(
    view: RoundTableView, *, by_user: str, changed: bool, next_meeting: datetime, missing: Sequence[str] | None
) -> Message:
    verb = "changed" if changed else "set up"
    headline = f"{mention(by_user)} {verb} this channel's cross-functional round-table: *{view.cadence}*."
    return Message(
        text=headline,
        parts=[
            Paragraph(text=headline),
            Facts(
                facts=[
                    ("Next meeting", meeting_time(next_meeting, view.timezone)),
                    ("Invited", invitees_in_words(view)),
                    ("Reminders", reminders_in_words(view.reminder_minutes)),
                ]
            ),
            Paragraph(text=missing_teams_line(missing)),
            Note(text=f"{command('roundtable')} shows it, changes it or cancels it."),
        ],
    )


def reminder(
    view: RoundTableView, *, meeting_id: int, starts_at: datetime, offset_minutes: int, answers: Rsvps
) -> Message:
    when = meeting_time(starts_at, view.timezone)
    lead = describe_duration(timedelta(minutes=offset_minutes))
    headline = f":round_pushpin: Round-table in {lead}: *{when}*"
    parts: list[Part] = [
        Paragraph(text=headline),
        Paragraph(
            text=(
                f"{invitees_in_words(view)} — bring the elephant in the room. Sales, engineering, marketing and "
                "support: what gets in the way of working together?"
            )
        ),
        Facts(
            facts=[
                (f"Coming ({len(answers.coming)})", _names(answers.coming)),
                (f"Can't make it ({len(answers.not_coming)})", _names(answers.not_coming)),
            ]
        ),
        Actions(
            block_id=f"roundtable-meeting:{meeting_id}",
            controls=[
                Button(action_id=COMING_BUTTON, label="I'll be there", value=str(meeting_id), style="primary"),
                Button(action_id=NOT_COMING_BUTTON, label="Can't make it", value=str(meeting_id)),
            ],
        ),
    ]
    summary = f"{len(answers.coming)} coming, {len(answers.not_coming)} can't make it"
    return Message(text=f"Round-table in {lead}: {when} ({summary})", parts=parts)


def _names(people: Sequence[str]) -> str:
    return ", ".join(mention(user) for user in people) if people else "—"


def agenda(view: RoundTableView, *, meeting_id: int, starts_at: datetime, items: AgendaItems) -> Message:
    when = meeting_time(starts_at, view.timezone)
    parts: list[Part] = [Paragraph(text=f":clipboard: *Agenda for the round-table on {when}*")]
    if items.follow_ups:
        lines = [follow_up_line(item) for item in items.follow_ups]
        parts.append(Paragraph(text=":repeat: *Still open from earlier meetings*\n" + "\n".join(lines)))
    if items.elephants:
        lines = [
            f"{rank}. {as_written(elephant.text)} ({_votes(elephant.votes)})"
            for rank, elephant in enumerate(items.elephants, 1)
        ]
        parts.append(Paragraph(text=":elephant: *The elephants in the room*\n" + "\n".join(lines)))
    else:
        parts.append(
            Paragraph(text=":elephant: *The elephants in the room*\nNo poll results since the last meeting.")
        )
    if items.help_requests:
        lines = [
            f"• {mention(user)} asked for {category} help on *{as_written(subject)}*: {as_written(text)}"
            for user, category, subject, text in items.help_requests
        ]
        parts.append(Paragraph(text=":raised_hand: *Help still asked for*\n" + "\n".join(lines)))
    else:
        parts.append(
            Paragraph(text=":raised_hand: *Help still asked for*\nNo open requests since the last meeting.")
        )
    if items.unanswered:
        lines = [f"• {as_written(title)}" for title in items.unanswered]
        parts.append(Paragraph(text=':mag: *Nobody answered "who else?" for*\n' + "\n".join(lines)))
    else:
        parts.append(
            Paragraph(text=':mag: *Nobody answered "who else?" for*\nEvery deal and ticket got an answer.')
        )
    parts.append(
        Actions(
            block_id=f"roundtable-agenda:{meeting_id}",
            controls=[Button(action_id=NOTES_BUTTON, label="Notes", value=str(meeting_id), opens_dialog=True)],
        )
    )
    parts.append(Note(text="After the meeting, press *Notes* to share what was decided as the debrief."))
    return Message(text=f"Agenda for the round-table on {when}", parts=parts)


def due_in_words(due_on: date) -> str:
    return f"{due_on:%a} {due_on.day} {due_on:%b}"


def follow_up_line(item: FollowUp) -> str:
    overdue = " — :warning: *overdue*" if item.overdue else ""
    return f"• {as_written(item.text)} ({mention(item.owner_id)}, due {due_in_words(item.due_on)}){overdue}"


def _votes(count: int) -> str:
    return f"{count} vote" + ("" if count == 1 else "s")


def debrief(
    view: RoundTableView,
    *,
    starts_at: datetime,
    notes: str,
    by_user: str,
    outcomes: Sequence[DebriefOutcome] = (),
) -> Message:
    when = meeting_time(starts_at, view.timezone)
    parts: list[Part] = [Paragraph(text=f":memo: *Round-table debrief — {when}*")]
    if notes:
        parts.append(Paragraph(text=as_written(notes)))
    for outcome in outcomes:
        lines = [f":elephant: *{as_written(outcome.elephant.text)}*"]
        if outcome.pain_point:
            lines.append(f"Pain point: {as_written(outcome.pain_point)}")
        if outcome.decision:
            lines.append(f"Decided: {as_written(outcome.decision)}")
        lines.extend(
            f"Action: {as_written(action.text)} — {mention(action.owner_id)}, due {due_in_words(action.due_on)}"
            for action in outcome.actions
        )
        parts.append(Paragraph(text="\n".join(lines)))
    parts.append(Note(text=f"Notes by {mention(by_user)}"))
    return Message(text=f"Round-table debrief — {when}", parts=parts)

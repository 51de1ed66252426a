"""What the elephant poll says: the channel posts, the forms, the results and the one reminder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from habits.form_origin import FormOrigin, context_fields
from habits.messages import (
    Actions,
    Button,
    Checkboxes,
    Choice,
    ChoiceInput,
    Dialog,
    Message,
    Note,
    Paragraph,
    TextInput,
    channel_mention,
)
from habits.time_words import describe_duration

QUESTION = "What is the elephant in the room this week?"

# Interaction ids. Values carry the poll id, so buttons keep working after a restart.
NAME_BUTTON = "whoelse_elephant_name"
VOTE_BUTTON = "whoelse_elephant_vote"
SUBMIT_FORM = "whoelse_elephant_submit"
BALLOT_FORM = "whoelse_elephant_ballot"
INFO_FORM = "whoelse_elephant_info"
APPROVAL_FORM = "whoelse_elephant_approval"
CLOSE_BUTTON = "whoelse_elephant_close"
TEXT_INPUT = "elephant"
CHOICE_INPUT = "choice"

MAX_TEXT = 300

# What someone who answered is told, on either platform, as their form closes.
NAMED_THANKS = "Thank you. Your elephant is in — with no name attached. Results come when the poll closes."
VOTED_THANKS = "Thank you. Your vote is counted — and only counted. Results come when the poll closes."
APPROVED_THANKS = (
    "Thank you. Your votes are counted — and only counted. If more elephants are named, the poll says so and you "
    "can vote on those too."
)
PICK_ONE = "Please pick the elephant that matters most."
# Slack shows at most ten radio buttons and a hundred menu options.
RADIO_LIMIT = 10
BALLOT_LIMIT = 100
# A form's intro is one Block Kit section: 3000 characters.
INTRO_BUDGET = 2800

# Said wherever someone answers a poll that has already closed: naming and voting are both over.
POLL_CLOSED = "This elephant-in-the-room poll has closed. Look for its results in the channel."

ANONYMITY_NOTE = (
    "Anonymous for real: whoelse stores what people write without their names, and nothing it keeps can tell "
    "anyone — admins included — who wrote or voted for what."
)


def quoted(text: str) -> str:
    """Someone's words, shown as written but unable to ping anyone or turn into a link."""
    text = text.replace("<", "‹").replace(">", "›").replace("@{", "@ {").replace("#{", "# {").replace("/{", "/ {")
    return " ".join(text.split())


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def poll_message(*, poll_id: int, naming_for: timedelta, voting_for: timedelta) -> Message:
    return Message(
        text=f"Elephant in the room: {QUESTION}",
        parts=[
            Paragraph(text=f":elephant: *{QUESTION}*"),
            Paragraph(
                text=(
                    "What gets in the way of sales, engineering, marketing and support working together? Name it "
                    f"anonymously within {describe_duration(naming_for)}; then everyone gets {describe_duration(voting_for)} to vote "
                    "for the one that matters most. The results feed the next round-table."
                )
            ),
            Actions(
                block_id=f"elephant:{poll_id}",
                controls=[_name_button(poll_id)],
            ),
            Note(text=ANONYMITY_NOTE),
        ],
    )


def overlap_poll_message(*, poll_id: int, open_for: timedelta, named: int) -> Message:
    """An overlapping poll's one message: naming and voting side by side until it closes."""
    so_far = (
        f"*{_elephants(named).capitalize()} named so far* — vote on the ones you haven't seen yet."
        if named
        else "Nobody has named one yet: be the first."
    )
    return Message(
        text=f"Elephant in the room: {QUESTION}",
        parts=[
            Paragraph(text=f":elephant: *{QUESTION}*"),
            Paragraph(
                text=(
                    "What gets in the way of sales, engineering, marketing and support working together? For the "
                    f"next {describe_duration(open_for)}, name one anonymously and vote on those named so far: "
                    "one vote per elephant that matters to you. The results feed the next round-table."
                )
            ),
            Paragraph(text=so_far),
            Actions(
                block_id=f"elephant:{poll_id}",
                controls=[
                    _name_button(poll_id),
                    Button(action_id=VOTE_BUTTON, label="Vote", value=str(poll_id), opens_dialog=True),
                ],
            ),
            Note(text=ANONYMITY_NOTE),
        ],
    )


def _name_button(poll_id: int) -> Button:
    return Button(
        action_id=NAME_BUTTON, label="Name an elephant", value=str(poll_id), style="primary", opens_dialog=True
    )


def new_elephants_note(*, named: int) -> Message:
    """The thread reply that brings people who voted early back to the elephants named since."""
    text = (
        f":elephant: New elephants have been named — {_elephants(named)} so far. "
        "If you voted already, press *Vote* again: you'll only see the ones you haven't judged."
    )
    return Message(
        text=f"New elephants have been named — {_elephants(named)} so far.", parts=[Paragraph(text=text)]
    )


def close_control(*, poll_id: int) -> Actions:
    """ "Close now", only ever shown privately to someone who may close the poll (checked again at the click)."""
    return Actions(
        block_id=f"elephant-close:{poll_id}",
        controls=[Button(action_id=CLOSE_BUTTON, label="Close now", value=str(poll_id), style="danger")],
    )


def naming_closed_message(*, named: int) -> Message:
    """Replaces the poll message once voting opens."""
    return Message(
        text=f"Elephant in the room: {QUESTION}",
        parts=[
            Paragraph(text=f":elephant: *{QUESTION}*"),
            Paragraph(text=f"Naming has closed with {_elephants(named)}. Voting is open — see below."),
        ],
    )


def voting_message(*, poll_id: int, named: int, voting_for: timedelta) -> Message:
    if named == 0:
        return Message(
            text="Nobody named an elephant this time.",
            parts=[
                Paragraph(text=":elephant: Nobody named an elephant this time, so there is nothing to vote on.")
            ],
        )
    return Message(
        text=f"Voting is open: which elephant matters most? {_elephants(named).capitalize()} to choose from.",
        parts=[
            Paragraph(
                text=(
                    f":elephant: *Voting is open.* {_elephants(named).capitalize()} named. Which one matters most? "
                    f"One vote each, for {describe_duration(voting_for)}."
                )
            ),
            Actions(
                block_id=f"elephant-vote:{poll_id}",
                controls=[
                    Button(
                        action_id=VOTE_BUTTON, label="Vote", value=str(poll_id), style="primary", opens_dialog=True
                    )
                ],
            ),
            Note(text=ANONYMITY_NOTE),
        ],
    )


def poll_closed_message() -> Message:
    """Replaces the poll and voting messages once the poll has closed."""
    return Message(
        text="This elephant-in-the-room poll has closed.",
        parts=[Paragraph(text=":elephant: This elephant-in-the-room poll has closed. The results are below.")],
    )


def results_message(*, ranked: Sequence[tuple[str, int]], participants: int) -> Message:
    if not ranked:
        return Message(
            text="The elephant poll closed; nobody named an elephant.",
            parts=[
                Paragraph(
                    text=f":elephant: The poll has closed. {participants} people took part; none named "
                    "an elephant this time."
                )
            ],
        )
    lines = [
        f"{place}. {quoted(text)} — *{votes} vote{'' if votes == 1 else 's'}*"
        for place, (text, votes) in enumerate(ranked, start=1)
    ]
    return Message(
        text=f"Elephant-in-the-room results: {quoted(ranked[0][0])}",
        parts=[
            Paragraph(text=f":elephant: *The elephants in the room this week* ({participants} people took part)"),
            Paragraph(text="\n".join(lines)),
            Note(text="These go on the agenda of the next round-table."),
        ],
    )


def too_few_message(*, minimum: int) -> Message:
    text = (
        f"The elephant poll has closed. Fewer than {minimum} people took part, so the results stay hidden: "
        "showing them could tell who wrote what."
    )
    return Message(text=text, parts=[Paragraph(text=f":elephant: {text}")])


def reminder_message(*, channel_id: str, voting: bool, overlap: bool = False) -> Message:
    if overlap:
        ask = "name the elephant in the room or vote on those named so far"
    else:
        ask = "vote for the elephant that matters most" if voting else "name the elephant in the room"
    return Message(
        text=f"There's an anonymous elephant-in-the-room poll open in {channel_mention(channel_id)}.",
        parts=[
            Paragraph(
                text=(
                    f":elephant: There's an elephant-in-the-room poll open in {channel_mention(channel_id)}. "
                    f"If something gets in the way of working together, take a minute to {ask} — it's anonymous."
                )
            ),
            Note(text="This is the only reminder you'll get for this poll."),
        ],
    )


def submission_form(*, origin: FormOrigin) -> Dialog:
    return Dialog(
        callback_id=SUBMIT_FORM,
        title="Elephant in the room",
        submit_label="Submit anonymously",
        context=origin.encoded(),
        intro=f"{ANONYMITY_NOTE} One per person per poll.",
        inputs=[
            TextInput(
                input_id=TEXT_INPUT,
                label=QUESTION,
                placeholder="e.g. Engineering hears about deal commitments after they are made",
                multiline=True,
                max_length=MAX_TEXT,
            )
        ],
    )


def ballot_form(*, origin: FormOrigin, submissions: Sequence[tuple[str, str]]) -> Dialog:
    """`submissions` are (id, text) pairs; the numbered list shows them whole, the choices only their start."""
    shown = list(submissions)[:BALLOT_LIMIT]
    per_item = max(INTRO_BUDGET // max(len(shown), 1) - 6, 10)
    listing = "\n".join(
        f"{number}. {shortened(quoted(text), per_item)}" for number, (_id, text) in enumerate(shown, start=1)
    )
    return Dialog(
        callback_id=BALLOT_FORM,
        title="Vote",
        submit_label="Cast my vote",
        context=origin.encoded(),
        intro=f"{listing}\n\nOne vote each; nobody can see who voted for what.",
        inputs=[
            ChoiceInput(
                input_id=CHOICE_INPUT,
                label="Which elephant matters most?",
                choices=[
                    Choice(value=submission_id, label=shortened(f"{number}. {quoted(text)}", 75))
                    for number, (submission_id, text) in enumerate(shown, start=1)
                ],
                style="radio" if len(shown) <= RADIO_LIMIT else "dropdown",
            )
        ],
    )


def approval_form(*, origin: FormOrigin, submissions: Sequence[tuple[str, str]]) -> Dialog:
    """An overlapping poll's ballot: the elephants this person has not judged yet, any number of them ticked.

    The context carries, besides where the form came from, the ids of the elephants shown: all of them, and only
    them, are marked as judged when it is sent.
    """
    shown = list(submissions)[:RADIO_LIMIT]
    listing = "\n".join(f"{number}. {quoted(text)}" for number, (_id, text) in enumerate(shown, start=1))
    context = {**json.loads(origin.encoded()), "ballot": [submission_id for submission_id, _text in shown]}
    return Dialog(
        callback_id=APPROVAL_FORM,
        title="Vote",
        submit_label="Send my votes",
        context=json.dumps(context, separators=(",", ":")),
        intro=shortened(
            f"{listing}\n\nTick every elephant that matters to you: one vote each. Those you leave unticked "
            "won't be shown to you again; nobody can see what you ticked.",
            INTRO_BUDGET,
        ),
        inputs=[
            Checkboxes(
                input_id=CHOICE_INPUT,
                label="Which of these matter?",
                choices=[
                    Choice(value=submission_id, label=shortened(f"{number}. {quoted(text)}", 75))
                    for number, (submission_id, text) in enumerate(shown, start=1)
                ],
            )
        ],
    )


def ballot_of(context: object) -> list[str] | None:
    """The elephant ids an approval form's context lists, or None if it lists none (or not the way whoelse does)."""
    fields = context_fields(context)
    listed = fields.get("ballot") if fields is not None else None
    if not isinstance(listed, list) or not 0 < len(listed) <= RADIO_LIMIT:
        return None
    if not all(isinstance(submission_id, str) and 0 < len(submission_id) <= 36 for submission_id in listed):
        return None
    return [str(submission_id) for submission_id in listed]


def info_form(text: str) -> Dialog:
    """A form that only tells something (the poll closed, you already voted)."""
    return Dialog(callback_id=INFO_FORM, title="Elephant in the room", submit_label="OK", intro=text)


def _elephants(count: int) -> str:
    return f"{count} elephant{'' if count == 1 else 's'}"

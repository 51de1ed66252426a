"""The nudge itself: the event's context and the two questions, with controls that answer them."""

from __future__ import annotations

from habits.ids import parse_id
from habits.messages import Actions, Button, Facts, Message, Note, Paragraph, PeopleMenu

WHO_ELSE = "Who else needs to know?"
WHAT_ELSE = "What else can we help with?"

# Interaction ids: click handlers find the nudge from the value, so buttons keep working after a restart.
LOOP_IN_PICK = "whoelse_loop_in_pick"
LOOP_IN_NOBODY = "whoelse_loop_in_nobody"
HELP_OPEN = "whoelse_help_open"
HELP_SUBMIT = "whoelse_help_submit"


def actions_block_id(nudge_id: int) -> str:
    return f"nudge:{nudge_id}"


def nudge_id_from(value: object) -> int | None:
    """Reads the nudge id back from a control's value or block id ("42" or "nudge:42"); None for anything else."""
    if isinstance(value, str):
        value = value.removeprefix("nudge:")
    return parse_id(value)


def compose_nudge(
    *, nudge_id: int, headline: str, facts: list[tuple[str, str]] | None = None, note: str | None = None
) -> Message:
    parts: list[Paragraph | Facts | Note | Actions] = [Paragraph(text=headline)]
    if facts:
        parts.append(Facts(facts=facts))
    parts.append(Paragraph(text=f"*{WHO_ELSE}*  Pick the colleagues to loop in, or say nobody else needs to."))
    parts.append(
        Paragraph(
            text=f"*{WHAT_ELSE}*  Offer a hand, or ask for one from sales, engineering, marketing or support."
        )
    )
    parts.append(
        Actions(
            block_id=actions_block_id(nudge_id),
            controls=[
                PeopleMenu(action_id=LOOP_IN_PICK, placeholder="Loop in…", value=str(nudge_id)),
                Button(action_id=LOOP_IN_NOBODY, label="Nobody else", value=str(nudge_id)),
                Button(
                    action_id=HELP_OPEN,
                    label="Offer or ask for help",
                    value=str(nudge_id),
                    style="primary",
                    opens_dialog=True,
                ),
            ],
        )
    )
    if note:
        parts.append(Note(text=note))
    return Message(text=f"{headline} — {WHO_ELSE} {WHAT_ELSE}", parts=list(parts))

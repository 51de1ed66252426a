"""Commands typed to the bot in Teams (`help`, `nudge <topic>`, …): the words after the @mention."""

from __future__ import annotations

from habits.messages import Message

# The order people need them in; on Teams the commands are typed without a prefix.
COMMANDS: list[tuple[str, str]] = [
    ("help", "what whoelse can do"),
    ("nudge <topic>", "ask the two questions about anything, now"),
    ("watch deals|tickets", "post nudges for deal or ticket events in this channel"),
    ("unwatch deals|tickets", "stop"),
    ("stats", "this channel's habit: nudges, answers, loop-ins, help"),
    ("snooze <30m|4h|2d|1w>|off", "mute whoelse's pings for yourself"),
    ("elephant", "the weekly elephant-in-the-room poll"),
    ("roundtable", "this channel's recurring round-table"),
    ("settings", "workspace admins: time zone, quiet hours, hourly cap, junctures"),
    ("status", "workspace admins: scheduler and delivery state"),
]


def answer_command(text: str) -> Message:
    words = text.split(maxsplit=1)
    name = words[0].lower() if words else "help"
    if name == "help":
        return help_message()
    if name in {syntax.split()[0] for syntax, _summary in COMMANDS}:
        return Message(
            text=f"`{name}` works in Slack today and is coming to Teams; for now I can answer `help` here."
        )
    return help_message(f"I don't know `{name}`.")


def help_message(preface: str | None = None) -> Message:
    lines = [f"• `{syntax}` — {summary}" for syntax, summary in COMMANDS]
    intro = (
        preface + "\n\n" if preface else ""
    ) + "*whoelse* asks the two questions that keep teams in the loop:\n"
    return Message(text=intro + "\n".join(lines))

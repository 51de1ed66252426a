"""How whoelse talks about its own commands: the help list, usage lines and words it does not know.

Commands are written with `messages.command`, without the platform's prefix, so the same words serve Slack (where
the renderer shows `/whoelse watch deals|tickets`) and Teams (where people type `watch deals` to the bot).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from habits.messages import Message, command

TOKEN_START = re.compile(r"([@#/])\{")
INTRO = "*whoelse* asks the two questions that keep teams in the loop:"


@dataclass(frozen=True)
class CommandHelp:
    # How it is typed after the platform's prefix: "nudge <topic>", "watch deals|tickets", "stats".
    syntax: str
    summary: str

    @property
    def name(self) -> str:
        return self.syntax.split()[0]


def help_message(commands: Sequence[CommandHelp], preface: str | None = None) -> Message:
    """The commands in the order given: what people need first comes first."""
    lines = [f"• {command(entry.syntax)} — {entry.summary}" for entry in commands]
    text = "\n".join([INTRO, *lines])
    return Message(text=f"{preface}\n\n{text}" if preface else text)


def usage(entry: CommandHelp) -> str:
    return f"Usage: {command(entry.syntax)} — {entry.summary}."


def unknown_command(typed: str) -> str:
    return f"I don't know the command `{_in_code(typed)}`."


def unknown_words(typed: str, *, after: str) -> str:
    """Names what someone typed that whoelse does not understand after the command `after` ("watch")."""
    return f"I don't know `{_in_code(typed)}` after {command(after)}."


def _in_code(text: str) -> str:
    # A backtick would end the code span early, and what was typed must not turn into a mention or a link;
    # a long paste is cut to what identifies it.
    text = " ".join(text.replace("`", "'").replace("<", "‹").replace(">", "›").split())
    text = TOKEN_START.sub(lambda found: found.group(1) + " {", text)
    return text if len(text) <= 40 else text[:39] + "…"

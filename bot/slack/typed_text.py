"""Text people type in Slack (a slash command's arguments), read into the neutral message model's inline text."""

from __future__ import annotations

import re

from habits.messages import WORD_JOINER, channel_mention, mention, shown

# Slack's markup between angle brackets: <@U1|name>, <#C1|name>, <!here>, <!subteam^S1|@sales>, <url|label>.
_MARKUP = re.compile(r"<([^<>]*)>")
_PERSON = re.compile(r"@([UW][A-Z0-9]{2,})")
_CHANNEL = re.compile(r"#(C[A-Z0-9]{2,})")
_EVERYONE = {"!here", "!channel", "!everyone"}


def typed(text: str) -> str:
    """What someone typed, as inline text: the people and channels Slack mentioned for them stay mentions; group
    and channel-wide pings (<!subteam^…>, <!here>, <!channel>, <!everyone>), links and mention markup are shown
    as written, so repeating someone's words pings nobody they did not name."""
    pieces: list[str] = []
    written = 0
    for found in _MARKUP.finditer(text):
        pieces.append(shown(text[written : found.start()]))
        pieces.append(_one(found))
        written = found.end()
    pieces.append(shown(text[written:]))
    return "".join(pieces)


def _one(found: re.Match[str]) -> str:
    target, _, label = found.group(1).partition("|")
    if (person := _PERSON.fullmatch(target)) is not None:
        return mention(person.group(1))
    if (channel := _CHANNEL.fullmatch(target)) is not None:
        return channel_mention(channel.group(1))
    if target.startswith("!subteam^") or target in _EVERYONE:
        # <!subteam^S1|@sales> reads "@sales", <!here> "@here": the name, never the ping.
        name = label.lstrip("@") or ("group" if target.startswith("!subteam^") else target[1:])
        return "@" + WORD_JOINER + shown(name)
    if target.startswith("!") and label:
        # Other special markup (<!date^…|fallback>) reads as its fallback text.
        return shown(label)
    return shown(found.group(0))

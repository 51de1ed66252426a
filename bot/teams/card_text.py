"""The neutral model's inline markup in Adaptive Cards' markdown: *bold*, _italic_, links, mentions and emoji.

Whatever is not markup is escaped, so that words from a CRM, a helpdesk or a colleague are shown as written and can
never turn into formatting, a disguised link or a mention of someone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from habits.messages import GROUP_PREFIX

# A person's, group's or channel's display name by id; None (or a missing key) when it is not known.
Names = Mapping[str, str] | Callable[[str], str | None]
NO_NAMES: Mapping[str, str] = {}


class PostedIn:
    """The names for a message posted in a channel, which its text calls "this channel": Teams does not tell a bot
    channels' names, and "a channel now watches deals" said in that very channel left people guessing which."""

    def __init__(self, names: Names, channel_id: str) -> None:
        self.names = names
        self.channel_id = channel_id

    def __call__(self, target: str) -> str | None:
        return self.names(target) if callable(self.names) else self.names.get(target)


TOKEN = re.compile(
    r"<(?P<url>https?://[^\s|<>]+)(?:\|(?P<label>[^<>\n]*))?>"
    r"|@\{(?P<mention>[A-Za-z0-9_.:@-]+)\}"
    r"|#\{(?P<channel>[A-Za-z0-9_.:@-]+)\}"
    # A whoelse command (habits.messages.command): on Teams it is typed to the bot as is, with no prefix.
    r"|/\{(?P<command>[^{}\n]+)\}"
    # Like Slack: the markers hug the words they enclose, on one line, and do not sit inside a word. What they
    # enclose may hold the marker itself (a deal called "A*B"): it is escaped with the rest.
    r"|(?<![^\W_])(?<!\*)\*(?P<bold>[^*\s](?:[^\n]*?[^*\s])??)\*(?![^\W_])(?!\*)"
    r"|(?<![^\W_])(?<!_)_(?P<italic>[^_\s](?:[^\n]*?[^_\s])??)_(?![^\W_])(?!_)"
    r"|:(?P<emoji>[a-z0-9_+-]+):"
)
# Everything Adaptive Cards' markdown could read as formatting or a link is preceded by a backslash.
MARKDOWN_SPECIAL = re.compile(r"([\\*_\[\]()`~])")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Slack's names for the emoji whoelse's messages use; Teams shows the characters.
EMOJI = {
    "elephant": "🐘",
    "tada": "🎉",
    "rotating_light": "🚨",
    "round_pushpin": "📍",
    "white_check_mark": "✅",
    "warning": "⚠️",
    "clipboard": "📋",
    "raised_hand": "✋",
    "mag": "🔍",
    "memo": "📝",
}
NAME_LIMIT = 100
ELLIPSIS = "…"


class TextBudget:
    """How many characters of text a card has left: long messages are cut, not refused by Teams."""

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, text: str, limit: int) -> str:
        allowed = max(min(limit, self.left), 1)
        if len(text) > allowed:
            text = text[: allowed - 1].rstrip() + ELLIPSIS
        self.left -= len(text)
        return text


class CardText:
    """Writes the texts of one card (or one activity), gathering the mentions they make."""

    def __init__(self, names: Names, budget: TextBudget) -> None:
        self._writer = _Markdown(names)
        self.budget = budget

    def markdown(self, text: str, *, limit: int) -> str:
        return self._writer.inline(CONTROL.sub("", self.budget.take(text, limit)))

    @property
    def mentions(self) -> list[dict[str, Any]]:
        """Teams' mention entities: each <at>Name</at> written so far, with the person it pings."""
        return list(self._writer.mentions)


def plain(text: str, names: Names) -> str:
    """Text for fields Teams shows as typed (button titles, labels, choices): markup dropped, names filled in."""
    return _Plain(names).inline(CONTROL.sub("", text))


def name_of(target: str, names: Names) -> str | None:
    found = names(target) if callable(names) else names.get(target)
    return " ".join(found.split())[:NAME_LIMIT] if found and found.strip() else None


def escape(text: str) -> str:
    # Teams reads <at>…</at> as a mention: angle brackets become lookalikes so no text can pose as one.
    text = text.replace("<", "‹").replace(">", "›")
    # A single line break is lost in a TextBlock; a blank line is a break.
    return MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", "\n\n")


class _Writer:
    def __init__(self, names: Names) -> None:
        self.names = names

    def inline(self, text: str) -> str:
        out: list[str] = []
        position = 0
        for token in TOKEN.finditer(text):
            out.append(self.literal(text[position : token.start()]))
            out.append(self.token(token))
            position = token.end()
        out.append(self.literal(text[position:]))
        return "".join(out)

    def token(self, token: re.Match[str]) -> str:
        if token["url"] is not None:
            return self.link(token["url"], token["label"] or token["url"])
        if token["mention"] is not None:
            target = token["mention"]
            if target.startswith(GROUP_PREFIX):
                # Teams tags are not mentioned by whoelse: the group is named.
                group = name_of(target, self.names)
                return self.literal(f"@{group}" if group else "a group")
            return self.person(target)
        if token["channel"] is not None:
            if isinstance(self.names, PostedIn) and token["channel"] == self.names.channel_id:
                return self.literal("This channel" if token.start() == 0 else "this channel")
            channel = name_of(token["channel"], self.names)
            return self.literal(f"#{channel}" if channel else "a channel")
        if token["command"] is not None:
            return self.bold(self.literal(token["command"]))
        if token["bold"] is not None:
            return self.bold(self.inline(token["bold"]))
        if token["italic"] is not None:
            return self.italic(self.inline(token["italic"]))
        emoji = EMOJI.get(token["emoji"])
        return emoji if emoji is not None else self.literal(token[0])

    def literal(self, text: str) -> str:
        raise NotImplementedError

    def link(self, url: str, label: str) -> str:
        raise NotImplementedError

    def person(self, user_id: str) -> str:
        raise NotImplementedError

    def bold(self, inner: str) -> str:
        raise NotImplementedError

    def italic(self, inner: str) -> str:
        raise NotImplementedError


class _Markdown(_Writer):
    def __init__(self, names: Names) -> None:
        super().__init__(names)
        self.mentions: list[dict[str, Any]] = []
        self._who_by_text: dict[str, str] = {}

    def literal(self, text: str) -> str:
        return escape(text)

    def link(self, url: str, label: str) -> str:
        return f"[{escape(label)}]({url.replace('(', '%28').replace(')', '%29')})"

    def person(self, user_id: str) -> str:
        # The name sits between <at> tags, outside any escaping: characters markdown or Teams could misread go.
        name = re.sub(r"[<>\\*_\[\]`~]", "", name_of(user_id, self.names) or user_id).strip() or user_id
        text, count = f"<at>{name}</at>", 1
        # Teams finds who is meant by the tag's text, so two people with one name need two texts.
        while self._who_by_text.get(text, user_id) != user_id:
            count += 1
            text = f"<at>{name} ({count})</at>"
        if text not in self._who_by_text:
            self._who_by_text[text] = user_id
            self.mentions.append({"type": "mention", "text": text, "mentioned": {"id": user_id, "name": name}})
        return text

    def bold(self, inner: str) -> str:
        return f"**{inner}**"

    def italic(self, inner: str) -> str:
        return f"_{inner}_"


class _Plain(_Writer):
    def literal(self, text: str) -> str:
        return text

    def link(self, url: str, label: str) -> str:
        return label

    def person(self, user_id: str) -> str:
        return name_of(user_id, self.names) or user_id

    def bold(self, inner: str) -> str:
        return inner

    def italic(self, inner: str) -> str:
        return inner

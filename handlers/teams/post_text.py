"""A Teams post's words as people read them: its HTML text, then its cards (Adaptive Cards' TextBlocks, RichTextBlocks
and FactSets; Office 365 connector cards' titles, sections and facts; hero and thumbnail cards), as plain lines and
the links they hold, in reading order."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any

from habits.bot_posts import Link

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CONNECTOR_CARD = "application/vnd.microsoft.teams.card.o365connector"
SIMPLE_CARDS = ("application/vnd.microsoft.card.hero", "application/vnd.microsoft.card.thumbnail")
WEB_LINK = ("http://", "https://")
HTML_LINK = re.compile(
    r"<a\b[^>]*?\bhref\s*=\s*[\"'](?P<url>[^\"']*)[\"'][^>]*>(?P<label>.*?)</a\s*>", re.I | re.S
)
MARKDOWN_LINK = re.compile(r"\[(?P<label>[^\]\n]*)\]\((?P<url>https?://[^)\s]+)\)")
LINE_BREAK = re.compile(r"<br\s*/?>|</(?:p|div|li|h[1-6]|tr)\s*>", re.I)
TAG = re.compile(r"<[^>]+>")
# Containers whose children are read in turn: `items` (Container, Column), `columns` (ColumnSet), `body`, `rows`
# and `cells` (Table), `card` (an Action.ShowCard's).
NESTED = ("items", "columns", "body", "rows", "cells")


class PostReader:
    """Collects a post's text in reading order; bots repeat themselves across text and cards, so repeats go."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.links: list[Link] = []

    def add_html(self, text: object) -> None:
        if not isinstance(text, str):
            return

        def link(match: re.Match[str]) -> str:
            url, label = html.unescape(match["url"]), self._tags_off(match["label"]).strip()
            if url.startswith(WEB_LINK):
                self.links.append(Link(url=url, label=label or None))
            return label or url

        self.add_markdown(self._tags_off(LINE_BREAK.sub("\n", HTML_LINK.sub(link, text))))

    def add_markdown(self, text: object) -> None:
        """Text as Adaptive Cards and connector cards write it: links as [label](url)."""
        if not isinstance(text, str):
            return

        def link(match: re.Match[str]) -> str:
            self.links.append(Link(url=match["url"], label=match["label"].strip() or None))
            return match["label"] or match["url"]

        for line in MARKDOWN_LINK.sub(link, text).splitlines():
            line = line.strip()
            if line and line not in self.lines:
                self.lines.append(line)

    def add_attachment(self, attachment: dict[str, Any]) -> None:
        content = attachment.get("content")
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                return
        if not isinstance(content, dict):
            return
        kind = attachment.get("contentType")
        if kind == ADAPTIVE_CARD:
            self._adaptive(content.get("body") or [])
            self._actions(content.get("actions") or [])
        elif kind == CONNECTOR_CARD:
            self._connector_card(content)
        elif kind in SIMPLE_CARDS:
            for key in ("title", "subtitle", "text"):
                self.add_html(content.get(key))
            self._actions(content.get("buttons") or [])

    def _adaptive(self, elements: Iterable[Any]) -> None:
        for element in elements:
            if not isinstance(element, dict):
                continue
            kind = element.get("type")
            if kind == "TextBlock":
                self.add_markdown(element.get("text"))
            elif kind == "RichTextBlock":
                self.add_markdown("".join(self._inline(element.get("inlines") or [])))
            elif kind == "FactSet":
                for fact in element.get("facts") or []:
                    if isinstance(fact, dict):
                        self._fact(fact.get("title"), fact.get("value"))
            elif kind == "ActionSet":
                self._actions(element.get("actions") or [])
            for key in NESTED:
                nested = element.get(key)
                if isinstance(nested, list):
                    self._adaptive(nested)
            select = element.get("selectAction")
            if isinstance(select, dict):
                self._actions([select])

    def _inline(self, inlines: Iterable[Any]) -> Iterable[str]:
        for inline in inlines:
            if isinstance(inline, str):
                yield inline
            elif isinstance(inline, dict) and isinstance(inline.get("text"), str):
                action = inline.get("selectAction")
                if isinstance(action, dict) and str(action.get("url") or "").startswith(WEB_LINK):
                    self.links.append(Link(url=str(action["url"]), label=inline["text"].strip() or None))
                yield inline["text"]

    def _actions(self, actions: Iterable[Any]) -> None:
        """Buttons that open the deal or ticket (Action.OpenUrl, a card's openUrl, a connector card's OpenUri)."""
        for action in actions:
            if not isinstance(action, dict):
                continue
            url = action.get("url") or action.get("value")
            for target in action.get("targets") or []:
                if isinstance(target, dict):
                    url = url or target.get("uri")
            if isinstance(url, str) and url.startswith(WEB_LINK):
                title = action.get("title") or action.get("name")
                self.links.append(Link(url=url, label=str(title).strip() if title else None))

    def _connector_card(self, card: dict[str, Any]) -> None:
        for key in ("title", "summary", "text"):
            self.add_markdown(card.get(key))
        for section in card.get("sections") or []:
            if not isinstance(section, dict):
                continue
            for key in ("title", "activityTitle", "activitySubtitle", "activityText", "text"):
                self.add_markdown(section.get(key))
            for fact in section.get("facts") or []:
                if isinstance(fact, dict):
                    self._fact(fact.get("name"), fact.get("value"))
            self._actions(section.get("potentialAction") or [])
        self._actions(card.get("potentialAction") or [])

    def _fact(self, label: object, value: object) -> None:
        if isinstance(label, str) and isinstance(value, str) and label.strip() and value.strip():
            self.add_markdown(f"{label.strip().rstrip(':')}: {value}")
        else:
            self.add_markdown(value)

    @staticmethod
    def _tags_off(text: str) -> str:
        return html.unescape(TAG.sub("", text))

"""Reads deal and ticket moments out of the notifications CRM and helpdesk bots post in watched channels.

HubSpot, Salesforce, Pipedrive, Zendesk and Jira word their notifications differently but similarly enough:
"moved to stage X", "Deal stage changed to X", "Closed Won", "escalated", "Priority changed from Medium to Urgent".
The post arrives here as plain lines and links (the platform adapter flattens its formatting and attachments).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from habits.events import BusinessEvent, EventKind

SOURCE = "slack_message"
TEAMS_SOURCE = "teams_message"


@dataclass(frozen=True)
class Link:
    url: str
    label: str | None = None


@dataclass(frozen=True)
class BotPost:
    channel_id: str
    ts: str
    # Plain text in reading order: the message, then its attachments, then its blocks.
    lines: tuple[str, ...]
    links: tuple[Link, ...] = ()
    # The thread the post was made in, when it is itself a reply.
    thread_ts: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class _Moment:
    event: str
    stage: str | None = None
    priority: str | None = None


_FLAGS = re.IGNORECASE | re.MULTILINE
_WON = re.compile(
    r"\bclosed[\s_-]*won\b|\bdeal\s+(?:was\s+|has\s+been\s+)?won\b|\bmarked\s+(?:as\s+)?won\b", _FLAGS
)
_LOST = re.compile(
    r"\bclosed[\s_-]*lost\b|\bdeal\s+(?:was\s+|has\s+been\s+)?lost\b|\bmarked\s+(?:as\s+)?lost\b", _FLAGS
)
_STAGE_CHANGES = (
    re.compile(r"\bmoved\s+(?:in)?to\s+(?:the\s+)?stage\b[\s:]*(?P<stage>[^\n]*)", _FLAGS),
    re.compile(
        r"\bstage\s+(?:was\s+|has\s+been\s+)?(?:changed|updated|set|moved)\b(?:\s+from\s+.+?)?\s+to\b[\s:]*"
        r"(?P<stage>[^\n]*)",
        _FLAGS,
    ),
    # "Stage changed" with the new stage only in a "Stage: X" field.
    re.compile(r"\bstage\s+(?:was\s+|has\s+been\s+)?(?:changed|updated)\b(?P<stage>)", _FLAGS),
)
_ESCALATED = re.compile(r"\bescalat(?:ed|es|ion)\b", _FLAGS)
_REOPENED = re.compile(r"\bre-?opened\b", _FLAGS)
_CHANGED = r"(?:changed|raised|set|updated|increased|bumped)"
_PRIORITY_CHANGE = re.compile(
    rf"(?:\bpriority\b[^\n]*?\b{_CHANGED}\b|\b{_CHANGED}\s+(?:the\s+)?priority\b)[^\n]*?\bto\b[\s:*_\"'“‘]*"
    r"(?P<priority>[A-Za-z0-9]+)",
    _FLAGS,
)
_CREATED = {
    # CRMs also announce created tasks, notes and meetings: only a created deal is a new deal.
    "deal": re.compile(
        r"\b(?:deal|opportunity)\b[^\n]*\bcreated\b|\bcreated\b[^\n]*\b(?:deal|opportunity)\b"
        r"|\bnew\s+(?:deal|opportunity)\b",
        _FLAGS,
    ),
    "ticket": re.compile(r"\bcreated\b|\bnew\s+(?:ticket|issue|case|request|incident)\b", _FLAGS),
}
_FIELD = re.compile(
    r"^[\s*_]*(?P<label>account|company|organi[sz]ation|customer|owner|deal owner|assignee|stage|deal stage"
    r"|priority)[\s*_]*:[\s*_]*(?P<value>[^\n]+?)[\s*_]*$",
    _FLAGS,
)
_FIELD_NAMES = {
    "account": "account",
    "company": "account",
    "organisation": "account",
    "organization": "account",
    "customer": "account",
    "owner": "owner",
    "deal owner": "owner",
    "assignee": "owner",
    "stage": "stage",
    "deal stage": "stage",
    "priority": "priority",
}
# Where a stage name stops: "… to Negotiation by Jane Doe (2 minutes ago)".
_STAGE_END = re.compile(r"\s+(?:by|on|at)\s+.*$|\s*[(|—–].*$|[.!;,:]\s.*$|[.!;,:]$", re.IGNORECASE)
# A name in quotes or bold; a lone apostrophe ("Acme's") is not a quote.
_QUOTED = (
    re.compile(r"\"(?P<name>[^\"\n]{2,})\""),
    re.compile(r"“(?P<name>[^”\n]{2,})”"),
    re.compile(r"‘(?P<name>[^’\n]{2,})’"),
    re.compile(r"(?:^|(?<=\s))'(?P<name>[^'\n]{2,}?)'(?=[\s.,:;!?)]|$)"),
    re.compile(r"\*(?P<name>[^*\n]{2,})\*"),
)
_BARE_URL = re.compile(r"https?://[^\s<>|\"'()]+")
_EMOJI_CODE = re.compile(r":[a-z0-9_+-]+:")
_GENERIC_LABEL = re.compile(
    r"^(?:view|open|see|show|link|here|details|click here|more)\b|^https?://|^[\w.+-]+@[\w-]+\.", re.IGNORECASE
)
_TICKET_WORDS = re.compile(
    r"\b(?:ticket|issue|case|incident|bug|escalat\w*|priority|reopened|helpdesk|zendesk|jira|freshdesk)\b",
    re.IGNORECASE,
)


def parse_bot_post(post: BotPost, *, kind: EventKind, source: str = SOURCE) -> BusinessEvent | None:
    """The deal or ticket event a bot's post announces, or None when it announces nothing whoelse knows. `source`
    names the chat platform it was posted on."""
    text = post.text
    fields = _fields(text)
    moment = _moment(text, fields, kind)
    if moment is None:
        return None
    title = _title(post)
    if not title:
        return None
    url = post.links[0].url if post.links else _first_bare_url(text)
    # Thread replies answer in their own thread: a reply's ts cannot be a thread root.
    thread_root = post.thread_ts or post.ts
    return BusinessEvent(
        source=source,
        external_id=f"{post.channel_id}:{post.ts}",
        kind=kind,
        event=moment.event,
        subject_id=(url or title)[:500],
        title=title[:2000],
        url=url,
        account=_limit(fields.get("account"), 255),
        stage=_limit(moment.stage or fields.get("stage"), 128),
        priority=_limit(moment.priority or fields.get("priority"), 32),
        owner=_limit(fields.get("owner"), 255),
        channel=post.channel_id,
        thread_ts=thread_root,
    )


def kind_in_channel(watched: frozenset[str], post: BotPost) -> EventKind:
    """What a post in a channel watching `watched` (deals, tickets or both) is about."""
    if watched == {"deals"}:
        return "deal"
    if watched == {"tickets"}:
        return "ticket"
    return guess_kind(post)


def guess_kind(post: BotPost) -> EventKind:
    """For a channel that watches both deals and tickets: helpdesk wording means a ticket."""
    return "ticket" if _TICKET_WORDS.search(post.text) else "deal"


def _moment(text: str, fields: dict[str, str], kind: EventKind) -> _Moment | None:
    if _WON.search(text):
        return _Moment("closed_won")
    if _LOST.search(text):
        return _Moment("closed_lost")
    for pattern in _STAGE_CHANGES:
        found = pattern.search(text)
        if found is not None:
            stage = _clean_stage(found.group("stage")) or fields.get("stage")
            if stage:
                return _Moment("stage_changed", stage=stage)
    if _ESCALATED.search(text):
        return _Moment("escalated")
    if _REOPENED.search(text):
        return _Moment("reopened")
    priority = _PRIORITY_CHANGE.search(text)
    if priority is not None:
        return _Moment("priority_raised", priority=priority.group("priority"))
    if _CREATED[kind].search(text):
        return _Moment("created")
    return None


def _clean_stage(raw: str) -> str | None:
    stage = _STAGE_END.sub("", raw.strip())
    stage = stage.strip(" \t*_~\"'“”‘’`:")
    return stage or None


def _fields(text: str) -> dict[str, str]:
    """ "Label: value" lines (attachment fields, Zendesk and Jira summaries); the first of each label wins."""
    found: dict[str, str] = {}
    for match in _FIELD.finditer(text):
        name = _FIELD_NAMES[" ".join(match.group("label").lower().split())]
        value = match.group("value").strip(" \t*_~\"'`")
        if value:
            found.setdefault(name, value)
    return found


def _title(post: BotPost) -> str | None:
    """The deal's or ticket's name: the label of its link, else a quoted or bold name, else the first line."""
    for link in post.links:
        label = _plain(link.label or "")
        if len(label) >= 2 and not _GENERIC_LABEL.search(label):
            return label
    first = next((line for line in post.lines if _plain(line)), None)
    if first is None:
        return None
    return _quoted_name(first) or _plain(_BARE_URL.sub("", first)).rstrip(" .,;:") or _plain(first)


def _first_bare_url(text: str) -> str | None:
    found = _BARE_URL.search(text)
    return found.group(0).rstrip(".,;:!?") if found else None


def _quoted_name(line: str) -> str | None:
    found = [match for pattern in _QUOTED if (match := pattern.search(line)) is not None]
    if not found:
        return None
    return _plain(min(found, key=lambda match: match.start()).group("name")) or None


def _plain(text: str) -> str:
    text = _EMOJI_CODE.sub("", text)
    return " ".join(text.replace("*", "").replace("~", "").replace("`", "").split())


def _limit(value: str | None, length: int) -> str | None:
    return value[:length] if value else None

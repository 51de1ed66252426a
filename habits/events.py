"""Deal and ticket events in one shape, whichever CRM, helpdesk or channel they came from."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

EventKind = Literal["deal", "ticket"]
# The people an event concerns, by their part in it: who owns the deal or ticket, who works it, who asked.
PersonRole = Literal["owner", "assignee", "requester"]
PERSON_ROLES: tuple[PersonRole, ...] = ("owner", "assignee", "requester")
EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")
MAX_EMAIL_LENGTH = 254


def email_address(value: object) -> str | None:
    """An email address from a payload, lower-cased as it is looked up, or None when it is not one."""
    if not isinstance(value, str):
        return None
    cleaned = value.strip().lower()
    return cleaned if len(cleaned) <= MAX_EMAIL_LENGTH and EMAIL.match(cleaned) else None


def people_emails(**by_role: object) -> dict[PersonRole, str]:
    """The roles whose value is an email address; anything else (blank, a name, an unfilled placeholder) is left out."""
    found: dict[PersonRole, str] = {}
    for role in PERSON_ROLES:
        email = email_address(by_role.get(role))
        if email is not None:
            found[role] = email
    return found


class BusinessEvent(BaseModel):
    source: str = Field(description="where it came from: a webhook source, slack_message or teams_message")
    external_id: str = Field(min_length=1, max_length=255, description="the sender's id for this event")
    kind: EventKind
    event: str = Field(min_length=1, max_length=64)
    subject_id: str = Field(min_length=1, max_length=500, description="the deal or ticket this is about")
    title: str = Field(min_length=1, max_length=2000)
    url: str | None = None
    account: str | None = None
    stage: str | None = None
    priority: str | None = None
    owner: str | None = None
    channel: str | None = None
    # Matched to chat users when the nudge is written, and mentioned there; never shown as addresses.
    people: dict[PersonRole, str] = Field(default_factory=dict, description="emails of the people it concerns")
    thread_ts: str | None = Field(default=None, description="reply under this message (a bot post we react to)")
    amount: str | None = Field(default=None, description="a deal's value as people read it (EUR 12,000)")
    owner_email: str | None = Field(default=None, description="the owner's email, to find them in the chat later")
    # Some senders name the deal or ticket by id only (HubSpot): what to look up at the source before deciding.
    pending: dict[str, Any] | None = None

    @property
    def subject_key(self) -> str:
        return f"{self.kind}:{self.subject_id}"

"""Deal and ticket events in one shape, whichever CRM, helpdesk or channel they came from."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

EventKind = Literal["deal", "ticket"]


class BusinessEvent(BaseModel):
    source: str = Field(description="where it came from: webhook or slack_message")
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
    thread_ts: str | None = Field(default=None, description="reply under this message (a bot post we react to)")
    amount: str | None = Field(default=None, description="a deal's value as people read it (EUR 12,000)")
    owner_email: str | None = Field(default=None, description="the owner's email, to find them in the chat later")
    # Some senders name the deal or ticket by id only (HubSpot): what to look up at the source before deciding.
    pending: dict[str, Any] | None = None

    @property
    def subject_key(self) -> str:
        return f"{self.kind}:{self.subject_id}"

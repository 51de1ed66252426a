"""`POST /webhooks/generic`: a deal or ticket event from any CRM or helpdesk that can sign a JSON body."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from bot.context import AppContext
from habits.events import BusinessEvent, email_address, people_emails
from habits.rules import canonical_event
from handlers.webhooks.intake import json_object, problem, signed_body, store_and_answer
from handlers.webhooks.signature import verify

logger = logging.getLogger(__name__)

CHANNEL_ID_PATTERN = r"^[CGD][A-Z0-9]{2,}$"


class MissingField(ValueError):
    """A field the event's type makes necessary (a stage change without the stage)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=255)
    type: Literal["deal", "ticket"]
    event: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=2000)
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://[^\s<>|]+$")
    account: str | None = Field(default=None, max_length=255)
    stage: str | None = Field(default=None, max_length=128)
    priority: str | None = Field(default=None, max_length=32)
    owner: str | None = Field(default=None, max_length=255)
    # Matched to a chat user, who is then mentioned; an address that matches nobody is not shown.
    owner_email: str | None = Field(default=None, max_length=254)
    channel: str | None = Field(default=None, pattern=CHANNEL_ID_PATTERN)
    # The deal's or ticket's own id; without it the URL (or account and title) identifies it.
    subject_id: str | None = Field(default=None, max_length=500)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("owner_email")
    @classmethod
    def _an_email_address(cls, value: str | None) -> str | None:
        if value is not None and value.strip() and email_address(value) is None:
            raise ValueError("must be an email address (name@example.com)")
        return value

    @model_validator(mode="after")
    def _stage_or_priority(self) -> WebhookEvent:
        moment = canonical_event(self.event)
        if self.type == "deal" and moment == "stage_changed" and not self.stage:
            raise MissingField("stage", "required for a deal stage_changed event")
        if self.type == "ticket" and moment == "priority_raised" and not self.priority:
            raise MissingField("priority", "required for a ticket priority change")
        return self

    def to_event(self) -> BusinessEvent:
        subject = self.subject_id or self.url or f"{self.account or ''}/{self.title}"
        return BusinessEvent(
            source="webhook",
            external_id=self.id,
            kind=self.type,
            event=self.event,
            subject_id=subject[:500],
            title=self.title,
            url=self.url,
            account=self.account,
            stage=self.stage,
            priority=self.priority,
            owner=self.owner,
            channel=self.channel,
            people=people_emails(owner=self.owner_email),
        )


def _named(issue: ErrorDetails) -> dict[str, str]:
    """One validation problem, with the field it is about, so the sender knows what to fix."""
    cause = (issue.get("ctx") or {}).get("error")
    if isinstance(cause, MissingField):
        return {"field": cause.field, "problem": cause.problem}
    return {"field": ".".join(str(part) for part in issue["loc"]) or "body", "problem": issue["msg"]}


def _read_event(body: bytes) -> WebhookEvent | JSONResponse:
    """The event, or a 400 that tells the sender what is wrong: unreadable JSON, not an object, or which fields."""
    try:
        # Parsing and validating in one pass is the common case, and the cheap one.
        return WebhookEvent.model_validate_json(body)
    except ValidationError:
        pass  # Read again step by step below, to name the problem the way senders are told everywhere else.
    document = json_object(body)
    if isinstance(document, JSONResponse):
        return document
    try:
        # Python's JSON reader accepts a little more than pydantic's (NaN in an extra field): such a body is fine.
        return WebhookEvent.model_validate(document)
    except ValidationError as error:
        fields = [_named(issue) for issue in error.errors()]
        summary = "; ".join(f"{field['field']}: {field['problem']}" for field in fields)
        return problem(400, f"invalid event: {summary}", fields=fields)


async def generic_webhook(request: Request) -> JSONResponse:
    """`POST /webhooks/generic` (registered in handlers/webhooks)."""
    context: AppContext = request.app.state.context
    settings = context.settings
    secret = context.webhook_secret
    if secret is None:
        return problem(503, "webhooks are not configured on this whoelse: set WHOELSE_WEBHOOK_SECRET")

    body = await signed_body(
        request,
        context,
        sender="webhook",
        check=lambda raw: verify(
            body=raw,
            signature=request.headers.get("x-whoelse-signature"),
            timestamp=request.headers.get("x-whoelse-timestamp"),
            secret=secret,
            now=context.clock().timestamp(),
            max_age_seconds=settings.webhook_max_age_seconds,
        ),
    )
    if isinstance(body, JSONResponse):
        return body

    payload = _read_event(body)
    if isinstance(payload, JSONResponse):
        return payload

    return await store_and_answer(context, payload.to_event())

"""`POST /webhooks/generic`: a deal or ticket event from any CRM or helpdesk that can sign a JSON body."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from bot.context import AppContext
from habits.connections import SourceGuide
from habits.events import BusinessEvent, email_address, people_emails
from habits.messages import command
from habits.rules import canonical_event
from handlers.webhooks.delivery import Delivery, WebhookSource, receive
from handlers.webhooks.intake import capped_body, json_object, no_single_workspace, problem
from handlers.webhooks.signature import verify

logger = logging.getLogger(__name__)

GENERIC_GUIDE = SourceGuide(
    source="generic",
    name="Generic webhook",
    generates="secret",
    steps=lambda url, secret: [
        "Send each deal or ticket event as a POST of a JSON body to the webhook address above (the fields are in "
        "whoelse's README, section Webhooks).",
        "Sign it: `X-Whoelse-Timestamp` is the time in Unix seconds, `X-Whoelse-Signature` is `sha256=` and the hex "
        "HMAC-SHA256 of the exact body under the secret above.",
        f"Events then nudge the channel that ran {command('watch deals')} (or {command('watch tickets')}).",
    ],
)

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


def verify_delivery(delivery: Delivery) -> None:
    verify(
        body=delivery.body,
        signature=delivery.request.headers.get("x-whoelse-signature"),
        timestamp=delivery.request.headers.get("x-whoelse-timestamp"),
        secret=delivery.secret("secret", source="generic"),
        now=delivery.context.clock().timestamp(),
        max_age_seconds=delivery.context.settings.webhook_max_age_seconds,
    )


async def read_delivery(delivery: Delivery) -> BusinessEvent | JSONResponse:
    payload = _read_event(delivery.body)
    return payload if isinstance(payload, JSONResponse) else payload.to_event()


GENERIC = WebhookSource(guide=GENERIC_GUIDE, verify=verify_delivery, read=read_delivery)


async def generic_webhook(request: Request) -> Response:
    """`POST /webhooks/generic` (registered in handlers/webhooks): the single-workspace install's webhook, signed
    with WHOELSE_WEBHOOK_SECRET."""
    context: AppContext = request.app.state.context
    if (refused := no_single_workspace(context)) is not None:
        return refused
    secret = context.webhook_secret
    if secret is None:
        return problem(503, "webhooks are not configured on this whoelse: set WHOELSE_WEBHOOK_SECRET")
    body = await capped_body(request, context)
    if isinstance(body, JSONResponse):
        return body
    delivery = Delivery(request=request, body=body, context=context, secrets={"secret": secret})
    return await receive(GENERIC, delivery, workspace_id=context.default_workspace_id)

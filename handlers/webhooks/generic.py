"""`POST /webhooks/generic`: a deal or ticket event from any CRM or helpdesk that can sign a JSON body."""

from __future__ import annotations

import json
import logging
from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from sqlalchemy.exc import SQLAlchemyError

from bot.context import AppContext
from habits.events import BusinessEvent
from habits.nudging import OUTCOME_DETAILS
from habits.rules import canonical_event
from handlers.request_body import read_limited
from handlers.webhooks.signature import SignatureRejected, verify

logger = logging.getLogger(__name__)

CHANNEL_ID_PATTERN = r"^[CGD][A-Z0-9]{2,}$"
# A database outage is usually over within moments; senders that honour Retry-After come back soon after.
STORE_RETRY_AFTER_SECONDS = 5


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
    channel: str | None = Field(default=None, pattern=CHANNEL_ID_PATTERN)
    # The deal's or ticket's own id; without it the URL (or account and title) identifies it.
    subject_id: str | None = Field(default=None, max_length=500)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

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
        )


def _named(issue: ErrorDetails) -> dict[str, str]:
    """One validation problem, with the field it is about, so the sender knows what to fix."""
    cause = (issue.get("ctx") or {}).get("error")
    if isinstance(cause, MissingField):
        return {"field": cause.field, "problem": cause.problem}
    return {"field": ".".join(str(part) for part in issue["loc"]) or "body", "problem": issue["msg"]}


def _problem(status: int, error: str, **details: object) -> JSONResponse:
    return JSONResponse({"error": error, **details}, status_code=status)


def _read_event(body: bytes) -> WebhookEvent | JSONResponse:
    """The event, or a 400 that tells the sender what is wrong: unreadable JSON, not an object, or which fields."""
    try:
        # Parsing and validating in one pass is the common case, and the cheap one.
        return WebhookEvent.model_validate_json(body)
    except ValidationError:
        pass  # Read again step by step below, to name the problem the way senders are told everywhere else.
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return _problem(400, f"body is not valid JSON: {error}")
    except RecursionError:
        # Python's JSON reader recurses once per level of nesting; no event needs more than a few.
        return _problem(400, "body is not valid JSON: nested too deeply")
    if not isinstance(document, dict):
        return _problem(400, "body must be a JSON object")
    try:
        # Python's JSON reader accepts a little more than pydantic's (NaN in an extra field): such a body is fine.
        return WebhookEvent.model_validate(document)
    except ValidationError as error:
        fields = [_named(issue) for issue in error.errors()]
        summary = "; ".join(f"{field['field']}: {field['problem']}" for field in fields)
        return _problem(400, f"invalid event: {summary}", fields=fields)


async def generic_webhook(request: Request) -> JSONResponse:
    """`POST /webhooks/generic` (registered in handlers/webhooks)."""
    context: AppContext = request.app.state.context
    settings = context.settings
    secret = context.webhook_secret
    if secret is None:
        return _problem(503, "webhooks are not configured on this whoelse: set WHOELSE_WEBHOOK_SECRET")

    body = await read_limited(request, settings.webhook_max_body_bytes)
    if body is None:
        return _problem(413, f"body is larger than {settings.webhook_max_body_bytes} bytes")
    now = context.clock()
    try:
        verify(
            body=body,
            signature=request.headers.get("x-whoelse-signature"),
            timestamp=request.headers.get("x-whoelse-timestamp"),
            secret=secret,
            now=now.timestamp(),
            max_age_seconds=settings.webhook_max_age_seconds,
        )
    except SignatureRejected as rejected:
        logger.warning("webhook rejected: %s", rejected)
        return _problem(401, str(rejected))

    payload = _read_event(body)
    if isinstance(payload, JSONResponse):
        return payload

    assert context.intake is not None
    # One bot token serves one Slack team: that is where every webhook lands.
    workspace_id, event = context.default_workspace_id, payload.to_event()
    try:
        event_id = await context.intake.accept(workspace_id=workspace_id, event=event)
        first_id = (
            None if event_id else await context.intake.existing_event_id(workspace_id=workspace_id, event=event)
        )
    except (SQLAlchemyError, OSError):  # OSError includes TimeoutError: the database did not answer in time.
        logger.exception("could not store webhook event %s", payload.id)
        refused = _problem(503, "the event could not be stored; please retry", retry=True)
        refused.headers["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)
        return refused

    if event_id is None:
        # A repeat is answered 200 rather than 202: nothing new was accepted, and the sender should stop retrying.
        return JSONResponse(
            {"status": "duplicate_event", "detail": OUTCOME_DETAILS["duplicate_event"], "event_id": first_id},
            status_code=200,
        )
    return JSONResponse(
        {
            "status": "accepted",
            "detail": "stored; whoelse decides within moments whether it is a moment to nudge about",
            "event_id": event_id,
        },
        status_code=202,
    )

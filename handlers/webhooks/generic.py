"""`POST /webhooks/generic`: a deal or ticket event from any CRM or helpdesk that can sign a JSON body."""

from __future__ import annotations

import json
import logging
import time
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.context import AppContext
from habits.events import BusinessEvent
from habits.nudging import receive_event
from handlers.webhooks.signature import SignatureRejected, verify
from models.db import session_scope

logger = logging.getLogger(__name__)
router = APIRouter()

CHANNEL_ID_PATTERN = r"^[CGD][A-Z0-9]{2,}$"


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=255)
    type: Literal["deal", "ticket"]
    event: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=2000)
    url: str | None = Field(default=None, max_length=2000)
    account: str | None = Field(default=None, max_length=255)
    stage: str | None = Field(default=None, max_length=128)
    priority: str | None = Field(default=None, max_length=32)
    owner: str | None = Field(default=None, max_length=255)
    channel: str | None = Field(default=None, pattern=CHANNEL_ID_PATTERN)
    # The deal's or ticket's own id; without it the URL (or account and title) identifies it.
    subject_id: str | None = Field(default=None, max_length=500)
    workspace: str | None = Field(default=None, max_length=32)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _stage_or_priority(self) -> WebhookEvent:
        if self.type == "deal" and self.event in {"stage_changed", "stage_change"} and not self.stage:
            raise ValueError("stage is required for a deal stage_changed event")
        if self.type == "ticket" and self.event in {"priority_raised", "priority_changed"} and not self.priority:
            raise ValueError("priority is required for a ticket priority change")
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


def _problem(status: int, error: str, **details: object) -> JSONResponse:
    return JSONResponse({"error": error, **details}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it grows past `limit` (without reading the rest into memory)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/generic", status_code=202)
async def generic_webhook(request: Request) -> JSONResponse:
    context: AppContext = request.app.state.context
    settings = context.settings
    secret = settings.secret("whoelse_webhook_secret")
    if not settings.webhooks_enabled or secret is None:
        return _problem(503, "webhooks are not configured on this whoelse: set WHOELSE_WEBHOOK_SECRET")

    body = await _read_limited(request, settings.webhook_max_body_bytes)
    if body is None:
        return _problem(413, f"body is larger than {settings.webhook_max_body_bytes} bytes")
    try:
        verify(
            body=body,
            signature=request.headers.get("x-whoelse-signature"),
            timestamp=request.headers.get("x-whoelse-timestamp"),
            secret=secret,
            now=time.time(),
            max_age_seconds=settings.webhook_max_age_seconds,
        )
    except SignatureRejected as rejected:
        logger.warning("webhook rejected: %s", rejected)
        return _problem(401, str(rejected))

    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return _problem(400, f"body is not valid JSON: {error}")
    if not isinstance(document, dict):
        return _problem(400, "body must be a JSON object")
    try:
        payload = WebhookEvent.model_validate(document)
    except ValidationError as error:
        fields = [
            {"field": ".".join(str(part) for part in issue["loc"]) or "body", "problem": issue["msg"]}
            for issue in error.errors()
        ]
        summary = "; ".join(f"{field['field']}: {field['problem']}" for field in fields)
        return _problem(400, f"invalid event: {summary}", fields=fields)

    workspace_id = payload.workspace or context.default_workspace_id
    try:
        async with session_scope(context.sessions) as session:
            result = await receive_event(
                session,
                workspace_id=workspace_id,
                event=payload.to_event(),
                now=context.clock(),
                default_timezone=settings.default_timezone,
            )
    except Exception:
        logger.exception("could not store webhook event %s", payload.id)
        return _problem(503, "the event could not be stored; please retry", retry=True)

    context.delivery.wake()
    status = 200 if result.outcome == "duplicate_event" else 202
    return JSONResponse(
        {"status": result.outcome, "event_id": result.event_id, "nudge_id": result.nudge_id},
        status_code=status,
    )

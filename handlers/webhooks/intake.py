"""The steps every webhook route shares once its request is trusted: store the event, then answer the sender."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.context import AppContext
from habits.events import BusinessEvent
from habits.nudging import OUTCOME_DETAILS
from handlers.request_body import read_limited
from handlers.webhooks.signature import SignatureRejected

logger = logging.getLogger(__name__)

# A database outage is usually over within moments; senders that honour Retry-After come back soon after.
STORE_RETRY_AFTER_SECONDS = 5
# Deliveries answered "ignored" since start-up, per source: logged with each one so a dashboard can chart them.
IGNORED: Counter[str] = Counter()


def problem(status: int, error: str, **details: object) -> JSONResponse:
    return JSONResponse({"error": error, **details}, status_code=status)


PER_WORKSPACE_CONNECTIONS = (
    "this whoelse serves many Slack workspaces, so a webhook set up for the whole server would not know which "
    "workspace it is for: each workspace connects its own webhooks with `/whoelse connect`"
)


def no_single_workspace(context: AppContext) -> JSONResponse | None:
    """Serving many Slack workspaces, the server-wide webhooks are off (503 with why), whatever secret is set."""
    if context.settings.slack_multi_workspace:
        return problem(503, PER_WORKSPACE_CONNECTIONS)
    return None


async def capped_body(request: Request, context: AppContext, *, limit: int | None = None) -> bytes | JSONResponse:
    """The body, or 413 once it is past the size limit (counted as it arrives, before anything parses it);
    WEBHOOK_MAX_BODY_BYTES unless the sender needs its own."""
    limit = limit or context.settings.webhook_max_body_bytes
    body = await read_limited(request, limit)
    if body is None:
        return problem(413, f"body is larger than {limit} bytes")
    return body


def refused_signature(body: bytes, *, sender: str, check: Callable[[bytes], None]) -> JSONResponse | None:
    """401 with the reason when `check` finds the body not signed as `sender` signs; None when it is."""
    try:
        check(body)
    except SignatureRejected as rejected:
        logger.warning("%s rejected: %s", sender, rejected)
        return problem(401, str(rejected))
    return None


def json_document(body: bytes) -> Any | JSONResponse:
    """The body read as JSON, of whatever shape, or a 400 saying why it cannot be read."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return problem(400, f"body is not valid JSON: {error}")
    except RecursionError:
        # Python's JSON reader recurses once per level of nesting; no event needs more than a few.
        return problem(400, "body is not valid JSON: nested too deeply")


def json_object(body: bytes) -> dict[str, Any] | JSONResponse:
    """The body as a JSON object, or a 400 saying why it is not one."""
    document = json_document(body)
    if isinstance(document, JSONResponse):
        return document
    if not isinstance(document, dict):
        return problem(400, "body must be a JSON object")
    return document


def count_ignored(source: str, reason: str) -> None:
    """Counts and logs a trusted delivery (or one notification of a batch) about nothing the rules care about."""
    IGNORED[source] += 1
    logger.info(
        "%s webhook ignored: %s",
        source,
        reason,
        extra={"source": source, "ignored_reason": reason, "ignored_total": IGNORED[source]},
    )


def ignored(source: str, reason: str) -> JSONResponse:
    """A trusted delivery about nothing the nudge rules care about: acknowledged so the sender stops, not stored."""
    count_ignored(source, reason)
    return JSONResponse({"status": "ignored", "detail": reason}, status_code=200)


async def store_and_answer(context: AppContext, event: BusinessEvent, *, workspace_id: str) -> JSONResponse:
    """Stores the event in `workspace_id` (within the store deadline) and answers: 202 accepted, 200 for a repeat,
    503 to retry."""
    assert context.intake is not None
    try:
        event_id = await context.intake.accept(workspace_id=workspace_id, event=event)
        first_id = (
            None if event_id else await context.intake.existing_event_id(workspace_id=workspace_id, event=event)
        )
    except (SQLAlchemyError, OSError):  # OSError includes TimeoutError: the database did not answer in time.
        logger.exception("could not store %s webhook event %s", event.source, event.external_id)
        refused = problem(503, "the event could not be stored; please retry", retry=True)
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


async def store_all(
    context: AppContext, events: Sequence[BusinessEvent], *, workspace_id: str
) -> list[int | None] | JSONResponse:
    """Stores every event of a batch in `workspace_id`: each one's id (None for one stored before), or 503 to retry
    the whole batch (what was stored this time is recognised as a repeat then)."""
    assert context.intake is not None
    intake = context.intake
    try:
        # Side by side, so the batch shares the database's group commits instead of waiting one by one.
        return list(
            await asyncio.gather(*(intake.accept(workspace_id=workspace_id, event=event) for event in events))
        )
    except (SQLAlchemyError, OSError):  # OSError includes TimeoutError: the database did not answer in time.
        logger.exception("could not store a batch of %d events", len(events))
        refused = problem(503, "the events could not be stored; please send them again", retry=True)
        refused.headers["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)
        return refused

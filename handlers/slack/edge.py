"""`POST /slack/events` up to Bolt: a bounded body, Slack's signature, a body Bolt can read; else a short refusal.

Left to itself, Bolt reads any body whole before checking its signature, logs the body of a request whose signature
is wrong, and answers a body it cannot parse with a 500 and a traceback. Here each of those is refused first (413,
401, 400) with one short log line that holds no byte of the body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.request.internals import build_normalized_headers, extract_content_type, parse_body

from handlers.request_body import read_limited
from handlers.slack.payload_shape import shape_problem
from handlers.slack.signature import SlackSignatureRejected, verify

logger = logging.getLogger(__name__)


class Unreadable(Exception):
    """A signed body Bolt could not read; the reason is safe to show and to log (it quotes nothing of the body)."""


def readable_text(body: bytes, request: Request) -> str:
    """The body as text, once it is known that Bolt will read it into an object the way it reads every request."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("body is not UTF-8") from None
    # Bolt's own reading (JSON, a form, or a form whose `payload` field holds JSON), with Bolt's idea of the type.
    content_type = extract_content_type(build_normalized_headers(request.headers))  # type: ignore[arg-type]
    try:
        document = parse_body(text, content_type)
    except RecursionError:
        # Python's JSON reader recurses once per level of nesting; Slack's payloads have a dozen at most.
        raise Unreadable("body is nested too deeply") from None
    except ValueError:
        raise Unreadable("body is not valid JSON") from None
    if not isinstance(document, dict):
        raise Unreadable("body must be a JSON object")
    problem = shape_problem(document)
    if problem is not None:
        raise Unreadable(problem)
    return text


def _refused(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


class SlackEdge:
    """Hands Bolt only what Slack signed and Bolt can read. Bolt's own signature check is off: this one replaces it."""

    def __init__(
        self, bolt: AsyncApp, *, signing_secret: str, max_body_bytes: int, now: Callable[[], float] = time.time
    ) -> None:
        self.bolt = bolt
        self.signing_secret = signing_secret
        self.max_body_bytes = max_body_bytes
        # Wall-clock time, not the app's clock: Slack stamps its requests with the real time.
        self.now = now

    async def handle(self, request: Request) -> Response:
        body = await read_limited(request, self.max_body_bytes)
        if body is None:
            logger.warning("Slack request refused: body larger than SLACK_MAX_BODY_BYTES=%d", self.max_body_bytes)
            return _refused(413, f"body is larger than {self.max_body_bytes} bytes")
        try:
            verify(
                body=body,
                signature=request.headers.get("x-slack-signature"),
                timestamp=request.headers.get("x-slack-request-timestamp"),
                secret=self.signing_secret,
                now=self.now(),
            )
        except SlackSignatureRejected as rejected:
            logger.warning("Slack request refused: %s; %s", rejected.reason, rejected.likely_cause)
            return _refused(401, rejected.reason)
        try:
            text = readable_text(body, request)
        except Unreadable as unreadable:
            logger.warning("Slack request refused: %s", unreadable)
            return _refused(400, str(unreadable))
        bolt_request = AsyncBoltRequest(
            body=text,
            query=request.query_params,  # type: ignore[arg-type]
            headers=request.headers,  # type: ignore[arg-type]
        )
        return to_starlette_response(await self.bolt.async_dispatch(bolt_request))

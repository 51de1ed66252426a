"""Signs requests the way Slack and whoelse's webhook senders do, so tests exercise the real verification."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "test-signing-secret-0123456789"
WEBHOOK_SECRET = "test-webhook-secret-0123456789"
BOT_TOKEN = "xoxb-test-token"


def slack_headers(body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = b"v0:" + str(timestamp).encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


def slack_form(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A slash command as Slack posts it: form-encoded fields."""
    body = urlencode(payload).encode()
    return body, {"Content-Type": "application/x-www-form-urlencoded", **slack_headers(body)}


def slack_interaction(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A click or modal submission: a form field `payload` holding JSON."""
    return slack_form({"payload": json.dumps(payload)})


def slack_event(payload: dict[str, Any], *, retry_num: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **slack_headers(body)}
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return body, headers


def webhook_headers(body: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Whoelse-Timestamp": str(timestamp),
        "X-Whoelse-Signature": f"sha256={digest}",
    }

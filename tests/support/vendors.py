"""Vendors' documented sample payloads (tests/fixtures/vendors/), and their signing schemes, for webhook tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
JIRA_SECRET = "test-jira-secret-0123456789"
ZENDESK_SECRET = "test-zendesk-secret-0123456789"


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def sample_list(name: str) -> list[dict[str, Any]]:
    """A sample whose body is a batch (HubSpot sends its notifications as a JSON array)."""
    loaded: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text())
    return loaded


def jira_headers(body: bytes, *, delivery_id: str | None, secret: str = JIRA_SECRET) -> dict[str, str]:
    """What Jira Cloud sends with an admin webhook that has a secret."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature": f"sha256={digest}"}
    if delivery_id is not None:
        headers["X-Atlassian-Webhook-Identifier"] = delivery_id
    return headers


def zendesk_signature(body: bytes, *, timestamp: str, secret: str = ZENDESK_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()).decode()


def zendesk_headers(body: bytes, *, timestamp: str, secret: str = ZENDESK_SECRET) -> dict[str, str]:
    """What Zendesk sends with every webhook request: the signature over timestamp + body, and the timestamp."""
    return {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature": zendesk_signature(body, timestamp=timestamp, secret=secret),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
    }


HUBSPOT_SECRET = "test-hubspot-client-secret-0123456789"
HUBSPOT_TOKEN = "pat-na1-test-0123456789"


def hubspot_headers(
    body: bytes, *, uri: str, timestamp_ms: int | None = None, secret: str = HUBSPOT_SECRET, method: str = "POST"
) -> dict[str, str]:
    """What HubSpot sends with a webhook batch: the v3 signature over method, the URI it called, body and time."""
    timestamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    signed = method.encode() + uri.encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": timestamp,
    }

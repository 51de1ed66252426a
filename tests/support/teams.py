"""Teams requests as the Bot Framework sends them: an activity, and a bearer token from the fake Microsoft login."""

from __future__ import annotations

import json
from typing import Any

APP_ID = "8e3a0d43-61f6-4a5c-9a3e-2c0b6a1f7d21"
TENANT_ID = "5b1c7a62-0f0e-4f4c-a6f2-94d1f1e1c3b9"
OTHER_TENANT_ID = "0d4f5e6a-7b8c-4d9e-8f0a-1b2c3d4e5f60"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
SERVICE_URL = "https://smba.trafficmanager.net/amer/"


def activity(**fields: Any) -> dict[str, Any]:
    """A message in a Teams channel, addressed to the bot; `fields` override or add (camelCase, as on the wire)."""
    return {
        "type": "message",
        "id": "1700000000000",
        "channelId": "msteams",
        "serviceUrl": SERVICE_URL,
        "from": {"id": "29:1user-aad-id", "name": "Ada Lovelace"},
        "conversation": {"id": "19:general@thread.tacv2", "conversationType": "channel", "tenantId": TENANT_ID},
        "recipient": {"id": f"28:{APP_ID}", "name": "whoelse"},
        "text": "<at>whoelse</at> help",
        **fields,
    }


def channel_claims(**claims: Any) -> dict[str, Any]:
    """The claims of a Bot Framework channel token for this bot and this service URL."""
    return {"iss": BOT_FRAMEWORK_ISSUER, "aud": APP_ID, "serviceurl": SERVICE_URL, **claims}


def teams_request(body: dict[str, Any] | bytes, token: str | None) -> tuple[bytes, dict[str, str]]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return content, headers

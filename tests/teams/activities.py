"""Teams activities as Teams sends them, for tests: installs, messages to the bot, uninstalls."""

from __future__ import annotations

import itertools
from typing import Any

from microsoft_agents.activity import Activity

TENANT = "6f1c5a52-8d4e-4a8b-9c1e-2f6a7d3b9e10"
OTHER_TENANT = "0b7e2c91-3a5f-4d6e-8f10-9a2b3c4d5e6f"
BOT = "28:00000000-0000-0000-0000-00000000b07"
TEAM = "19:team-general@thread.tacv2"
CHANNEL = "19:deals-channel@thread.tacv2"
JANE = "29:1jane-aad-object"

_ids = itertools.count(1000)


def _base(kind: str, service_url: str, conversation: dict[str, Any], tenant: str, **fields: Any) -> Activity:
    return Activity.model_validate(
        {
            "type": kind,
            "id": f"{next(_ids)}",
            "channelId": "msteams",
            "serviceUrl": service_url,
            "from": {"id": JANE, "name": "Jane Doe", "aadObjectId": "jane-aad-object"},
            "recipient": {"id": BOT, "name": "whoelse"},
            "conversation": {**conversation, "tenantId": tenant},
            "channelData": {"tenant": {"id": tenant}, "team": {"id": TEAM}},
            **fields,
        }
    )


def channel(conversation_id: str = CHANNEL) -> dict[str, Any]:
    return {"id": conversation_id, "conversationType": "channel", "isGroup": True}


def bot_added(service_url: str, *, tenant: str = TENANT, conversation_id: str = CHANNEL) -> Activity:
    return _base("conversationUpdate", service_url, channel(conversation_id), tenant, membersAdded=[{"id": BOT}])


def uninstalled(service_url: str, *, tenant: str = TENANT, conversation_id: str = CHANNEL) -> Activity:
    return _base("installationUpdate", service_url, channel(conversation_id), tenant, action="remove")


def message_to_bot(
    text: str, service_url: str, *, tenant: str = TENANT, conversation_id: str = CHANNEL
) -> Activity:
    return _base(
        "message",
        service_url,
        channel(conversation_id),
        tenant,
        text=f"<at>whoelse</at> {text}",
        entities=[{"type": "mention", "mentioned": {"id": BOT, "name": "whoelse"}, "text": "<at>whoelse</at>"}],
    )

"""Teams activities as Teams sends them (JSON, camelCase), for tests: installs, messages to the bot, uninstalls."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.teams import APP_ID

TENANT = "6f1c5a52-8d4e-4a8b-9c1e-2f6a7d3b9e10"
OTHER_TENANT = "0b7e2c91-3a5f-4d6e-8f10-9a2b3c4d5e6f"
BOT = f"28:{APP_ID}"
TEAM = "19:team-general@thread.tacv2"
CHANNEL = "19:deals-channel@thread.tacv2"
# People are known by their Entra object id; the Bot Framework's own id for them is "29:…".
JANE = "3f2a9c1e-5d4b-4e8a-9b7c-6a5d4c3b2a10"
JANE_BOT_FRAMEWORK_ID = "29:1jane"

_ids = itertools.count(1000)


def _base(kind: str, service_url: str, conversation: dict[str, Any], tenant: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "id": f"{next(_ids)}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": JANE_BOT_FRAMEWORK_ID, "name": "Jane Doe", "aadObjectId": JANE},
        "recipient": {"id": BOT, "name": "whoelse"},
        "conversation": {**conversation, "tenantId": tenant},
        "channelData": {"tenant": {"id": tenant}, "team": {"id": TEAM}},
        **fields,
    }


def channel(conversation_id: str = CHANNEL) -> dict[str, Any]:
    return {"id": conversation_id, "conversationType": "channel", "isGroup": True}


def bot_added(service_url: str, *, tenant: str = TENANT, conversation_id: str = CHANNEL) -> dict[str, Any]:
    return _base("conversationUpdate", service_url, channel(conversation_id), tenant, membersAdded=[{"id": BOT}])


def uninstalled(service_url: str, *, tenant: str = TENANT, conversation_id: str = CHANNEL) -> dict[str, Any]:
    return _base("installationUpdate", service_url, channel(conversation_id), tenant, action="remove")


def message_to_bot(
    text: str, service_url: str, *, tenant: str = TENANT, conversation_id: str = CHANNEL
) -> dict[str, Any]:
    return _base(
        "message",
        service_url,
        channel(conversation_id),
        tenant,
        text=f"<at>whoelse</at> {text}",
        entities=[{"type": "mention", "mentioned": {"id": BOT, "name": "whoelse"}, "text": "<at>whoelse</at>"}],
    )


def personal_chat(text: str, service_url: str, *, tenant: str = TENANT) -> dict[str, Any]:
    """A message in the person's one-to-one chat with whoelse (no @mention needed there)."""
    return _base(
        "message",
        service_url,
        {"id": f"a:1personal-{JANE_BOT_FRAMEWORK_ID}", "conversationType": "personal"},
        tenant,
        text=text,
    )


def card_action(verb: str, data: dict[str, Any], service_url: str, *, tenant: str = TENANT) -> dict[str, Any]:
    """A Universal Action (`Action.Execute`) clicked on a card in the channel."""
    return _base(
        "invoke",
        service_url,
        channel(),
        tenant,
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
    )


def dialog_fetch(verb: str, data: dict[str, Any], service_url: str, *, tenant: str = TENANT) -> dict[str, Any]:
    """A button that opens a dialog (`Action.Submit` marked task/fetch) clicked on a card in the channel."""
    return _base(
        "invoke",
        service_url,
        channel(),
        tenant,
        name="task/fetch",
        value={"data": {"msteams": {"type": "task/fetch"}, "verb": verb, **data}},
    )


def dialog_submit(data: dict[str, Any], service_url: str, *, tenant: str = TENANT) -> dict[str, Any]:
    """A dialog sent: its inputs and its own data (`dialog`, `context`)."""
    return _base("invoke", service_url, channel(), tenant, name="task/submit", value={"data": data})

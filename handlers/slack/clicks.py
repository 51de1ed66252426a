"""Where a Slack button click or form submission came from: its workspace and the channel of the message clicked."""

from __future__ import annotations

from typing import Any


def team_of(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or body["user"]["team_id"])


def channel_of(body: dict[str, Any]) -> str:
    """The channel of the message clicked, or "" when the payload names none."""
    return str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")

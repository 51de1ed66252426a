"""What a posted Slack message would ping: the mentions Slack reads in its text and blocks."""

from __future__ import annotations

import json
import re
from typing import Any

# <@U123>, <@U123|name>, <!subteam^S1>, <!channel>, <!here>, <!everyone>: what Slack turns into notifications.
SLACK_PING = re.compile(r"<[@!][^<>]*>")


def pings_in(message: dict[str, Any]) -> list[str]:
    """Every mention in a message as Slack stored it (its notification text and every block)."""
    shown = message.get("text", "") + json.dumps(message.get("blocks") or [], ensure_ascii=False)
    return SLACK_PING.findall(shown)

"""What whoelse does with an authenticated Teams activity.

Every activity is acknowledged: the route answers 200 with an empty body, which tells Teams it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import Activity

from bot.context import AppContext


@dataclass(frozen=True)
class InvokeResponse:
    """The HTTP answer to an invoke activity (a card action, a dialog fetch), which Teams shows to the user."""

    status: int
    body: dict[str, Any] | None


async def dispatch(activity: Activity, context: AppContext) -> InvokeResponse | None:
    """Acknowledges the activity; None means "answer 200 with an empty body"."""
    return None

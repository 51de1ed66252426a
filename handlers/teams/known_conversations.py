"""What whoelse last stored about each Teams conversation, so a message from a conversation it already knows, unchanged,
writes nothing before its command is answered.

Every Teams message carries its conversation reference, and almost always the same one as the last message there.
Entries age out, so a change made elsewhere (another replica recording an uninstall) is written over again within
`max_age`, and the store is bounded, so a bot in many conversations keeps only the busiest ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.bounded import keep_newest


@dataclass(frozen=True)
class StoredReference:
    service_url: str
    conversation_type: str
    team_id: str | None
    user_id: str | None


class KnownConversations:
    def __init__(
        self, *, max_age_seconds: float = 600.0, limit: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_age = max_age_seconds
        self._limit = limit
        self._clock = clock
        self._stored: dict[tuple[str, str], tuple[StoredReference, float]] = {}
        # Tenants whose workspace is on Teams: a workspace never changes platform, so this never ages.
        self._teams_tenants: set[str] = set()

    def has_tenant(self, workspace_id: str) -> bool:
        return workspace_id in self._teams_tenants

    def add_tenant(self, workspace_id: str) -> None:
        """A workspace read from the database and found to be on Teams."""
        self._teams_tenants.add(workspace_id)

    def unchanged(self, workspace_id: str, conversation_id: str, reference: StoredReference) -> bool:
        """True when this very reference was stored for this conversation of a Teams tenant a moment ago."""
        entry = self._stored.get((workspace_id, conversation_id))
        if entry is None:
            return False
        stored, at = entry
        if self._clock() - at > self._max_age:
            del self._stored[(workspace_id, conversation_id)]
            return False
        return stored == reference

    def remember(self, workspace_id: str, conversation_id: str, reference: StoredReference) -> None:
        """Called once the reference is committed (never before: a rolled-back write must be written again)."""
        self._teams_tenants.add(workspace_id)
        keep_newest(self._stored, (workspace_id, conversation_id), (reference, self._clock()), limit=self._limit)

    def forget(self, workspace_id: str) -> None:
        """whoelse was removed somewhere in the tenant: its next message there is written (marked installed) again."""
        for key in [key for key in self._stored if key[0] == workspace_id]:
            del self._stored[key]

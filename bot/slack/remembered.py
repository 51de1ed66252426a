"""Each installed Slack workspace's stored bot (its token opened), remembered for a few seconds.

Every request from a workspace asks whether it has installed whoelse and with which token. Read from the database each
time, that is one or two transactions per request, queued on SQLite's one connection: in a benchmark of Slack events
from 100 workspaces they, not the work itself, set the pace. What this process changes (an install, a rotation, an
uninstall) is forgotten here at once; what another replica changes is seen here within `ttl_seconds`. A workspace
found not installed is not remembered, so one that installs whoelse through another replica is served at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk.oauth.installation_store import Bot

from bot.single_flight import SingleFlight
from bot.slack.oauth.installation_store import SqlInstallationStore


@dataclass
class RememberedInstallations:
    store: SqlInstallationStore
    ttl_seconds: float = 10.0
    # Past this many workspaces, start over: memory stays bounded, answers stay right.
    max_entries: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, tuple[float, Bot]] = field(default_factory=dict)
    # One read per workspace at a time, when a burst of its requests finds the answer expired.
    _reading: SingleFlight[str, Bot | None] = field(
        default_factory=lambda: SingleFlight("slack-installation-read")
    )
    # Counts `forget` calls, so a read that began before a change is not remembered after it.
    _forgets: int = 0

    def __post_init__(self) -> None:
        self.store.on_change(self.forget)

    async def bot(self, workspace_id: str) -> Bot | None:
        """The workspace's stored bot (None: whoelse is not installed there)."""
        kept = self._entries.get(workspace_id)
        if kept is not None and self.clock() - kept[0] < self.ttl_seconds:
            return kept[1]
        return await self._reading.run(workspace_id, lambda: self._read(workspace_id))

    async def is_installed(self, workspace_id: str) -> bool:
        return await self.bot(workspace_id) is not None

    def forget(self, workspace_id: str) -> None:
        self._entries.pop(workspace_id, None)
        self._reading.drop(workspace_id)
        self._forgets += 1

    async def _read(self, workspace_id: str) -> Bot | None:
        started, forgets = self.clock(), self._forgets
        bot = await self.store.async_find_bot(enterprise_id=None, team_id=workspace_id)
        if bot is not None and forgets == self._forgets:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[workspace_id] = (started, bot)
        return bot

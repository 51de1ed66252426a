"""Completes stored HubSpot events from HubSpot's CRM API before the nudge rules decide on them.

Why here, and not while HubSpot waits for its answer: a notification is stored and acknowledged first, and the
deal's or ticket's name, amount, stage and owner are read afterwards, in the background step that decides. HubSpot
gives a webhook a few seconds and sends up to a hundred notifications a request; reading the CRM for each of them
before answering would make HubSpot time out and retry the whole batch whenever its own API is slow, and lose the
events outright when the API is down longer than HubSpot retries. Stored first, an event waits, undecided, while
the API refuses (429, 5xx, a timeout) and is completed when it answers; only if it stays unreachable for
`give_up_after` is the event decided with what the notification said ("Deal 1234").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.hubspot.crm import HubSpotCrm, HubSpotRefused, HubSpotUnavailable
from habits.events import BusinessEvent
from habits.nudging import payload_of, stored_event
from habits.vendor_events.hubspot import SOURCE, HubSpotRecord, Stage, completed_event, watched_values
from models.base import utcnow
from models.db import session_scope
from models.events import ReceivedEvent
from models.vendor_values import last_value, remember_value

logger = logging.getLogger(__name__)

# A change that reaches whoelse after a later one of the same property: not a moment any more.
SUPERSEDED = "superseded"
Lookup = tuple[HubSpotRecord | None, dict[str, Stage]]
# The private app token of each workspace, read once for one pass over stored events (None: it has none).
PassTokens = dict[str, str | None]


@dataclass
class HubSpotDetails:
    """Completes the intake's HubSpot events (bot/event_intake.py): `complete(event_id)` answers None once the event
    can be decided, or how many seconds to wait before asking again.

    A workspace's token is sealed in its connection: it is read from the database and opened once per pass over
    stored events (HubSpot sends up to a hundred notifications at a time), not once per event, and never kept past
    the pass, so a token replaced or disconnected is used, or not, from the next pass on.
    """

    sessions: async_sessionmaker[AsyncSession]
    crm: HubSpotCrm
    # The private app token of a workspace's HubSpot (None: not connected, events are decided as notified).
    token_for: Callable[[str], Awaitable[str | None]]
    clock: Callable[[], datetime] = utcnow
    give_up_after: timedelta = timedelta(hours=6)
    first_wait_seconds: float = 1.0
    longest_wait_seconds: float = 300.0
    # While a workspace's HubSpot is refusing, its events wait together rather than each trying (and timing out).
    _paused_until: dict[str, float] = field(default_factory=dict)
    _failures: dict[str, int] = field(default_factory=dict)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[Callable[[int], Awaitable[float | None]]]:
        """`complete` for the events of one pass, reading each workspace's token once for all of them."""
        tokens: PassTokens = {}
        try:
            yield lambda event_id: self.complete(event_id, tokens=tokens)
        finally:
            tokens.clear()

    async def complete(self, event_id: int, *, tokens: PassTokens | None = None) -> float | None:
        """Reads the event's deal or ticket from HubSpot and records the moment it is; with `tokens`, the
        workspace's token is read only if it is not among them yet (and then kept there)."""
        async with self.sessions() as session:
            record = await session.get(ReceivedEvent, event_id)
            if record is None or record.outcome is not None or not (record.payload or {}).get("pending"):
                return None
            event, workspace_id, received_at = stored_event(record), record.workspace_id, record.received_at
        waited_too_long = self.clock() - received_at > self.give_up_after
        lookup = await self._look_up(workspace_id, event, tokens={} if tokens is None else tokens)
        if isinstance(lookup, float):
            if not waited_too_long:
                return lookup
            logger.warning(
                "HubSpot has not answered about event %s for %s; deciding it with what the notification says",
                event_id,
                self.give_up_after,
            )
            lookup = (None, {})
        await self._finish(event_id, *lookup)
        return None

    async def _look_up(self, workspace_id: str, event: BusinessEvent, *, tokens: PassTokens) -> Lookup | float:
        loop = asyncio.get_running_loop()
        paused = self._paused_until.get(workspace_id, 0.0) - loop.time()
        if paused > 0:
            return paused
        if workspace_id not in tokens:
            tokens[workspace_id] = await self.token_for(workspace_id)
        token = tokens[workspace_id]
        if not token:
            return None, {}
        pending: dict[str, Any] = event.pending or {}
        try:
            found = await self.crm.record(
                token,
                workspace_id=workspace_id,
                kind=event.kind,
                object_id=str(pending["object_id"]),
                portal_id=pending.get("portal_id"),
                value_before=(str(pending["property"]), int(pending["occurred_at"]), str(pending["value"]))
                if pending.get("property")
                else None,
            )
            wanted = {str(value) for value in (pending.get("value"), found.stage) if value}
            stages = await self.crm.stages(token, workspace_id=workspace_id, kind=event.kind, wanted=wanted)
        except HubSpotUnavailable as unavailable:
            failures = self._failures.get(workspace_id, 0) + 1
            self._failures[workspace_id] = failures
            backoff = min(self.first_wait_seconds * 2 ** (failures - 1), self.longest_wait_seconds)
            wait = float(unavailable.retry_after if unavailable.retry_after is not None else backoff)
            self._paused_until[workspace_id] = loop.time() + wait
            logger.warning("%s; asking again in %.0f s", unavailable, wait, extra={"workspace": workspace_id})
            return wait
        except HubSpotRefused as refused:
            # Asking again would get the same answer: the event is decided with what the notification says.
            level = logging.ERROR if refused.status in (401, 403) else logging.WARNING
            logger.log(level, "%s; deciding with the ids HubSpot sent", refused, extra={"workspace": workspace_id})
            return None, {}
        self._failures.pop(workspace_id, None)
        return found, stages

    async def _finish(self, event_id: int, found: HubSpotRecord | None, stages: dict[str, Stage]) -> None:
        """Records the moment the event is, and the values it tells, in one transaction."""
        async with session_scope(self.sessions) as session:
            record = await session.scalar(
                select(ReceivedEvent).where(ReceivedEvent.id == event_id).with_for_update(of=ReceivedEvent)
            )
            if record is None or record.outcome is not None or not (record.payload or {}).get("pending"):
                return  # Another replica completed it meanwhile.
            event = stored_event(record)
            pending: dict[str, Any] = event.pending or {}
            object_key = f"{event.kind}:{pending['object_id']}"
            changed_at = int(pending["occurred_at"])
            previous: str | None = None
            superseded = False
            if pending.get("property"):
                known = await last_value(
                    session,
                    workspace_id=record.workspace_id,
                    source=SOURCE,
                    object_key=object_key,
                    prop=str(pending["property"]),
                )
                # What whoelse saw last; for a record it never saw change, HubSpot's own history of the property.
                previous = known.value if known is not None else found.previous if found is not None else None
                superseded = known is not None and known.changed_at_ms > changed_at
            finished = completed_event(event, record=found, previous=previous, stages=stages)
            if superseded:
                finished = finished.model_copy(update={"event": SUPERSEDED})
            for prop, value in watched_values(event, found).items():
                await remember_value(
                    session,
                    workspace_id=record.workspace_id,
                    source=SOURCE,
                    object_key=object_key,
                    prop=prop,
                    value=value,
                    changed_at_ms=changed_at,
                    now=self.clock(),
                )
            record.event = finished.event
            record.title = finished.title
            record.url = finished.url
            record.stage = finished.stage
            record.priority = finished.priority
            record.owner = finished.owner
            record.payload = payload_of(finished)

"""Events are stored before they are acknowledged, and decided on right after, off the request path.

A webhook is answered as soon as its event is durably stored (group-committed with its neighbours), so senders
get a fast, honest 202 under load. A worker then applies the habit rules to stored events in arrival order. An
event stored but not yet decided when the process dies is decided by the next worker: nothing is lost, and the
rules' own uniqueness (one nudge per deal per juncture) keeps two workers from nudging twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import Table, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery import DeliveryWorker
from bot.group_commit import GroupCommitter
from bot.metrics import Metrics
from bot.passes import Passes
from bot.people_by_email import PeopleByEmail
from bot.single_flight import SingleFlight
from habits.events import BusinessEvent, PersonRole
from habits.nudging import OUTCOME_DETAILS, MatchedPerson, decide_stored_event, event_row, stored_people
from models.base import utcnow
from models.db import session_scope
from models.events import SENDERS_EVENT_KEY, ReceivedEvent, stored_event_id
from models.workspaces import Workspace, get_or_create_workspace

logger = logging.getLogger(__name__)

Step = Literal["nudged", "decided", "retry_later"]
LULL_CHECK_SECONDS = 0.005
# Enough checks to span max_deferral_seconds at the shortest check interval.
MAX_LULL_CHECKS = 10_000


# Completes one stored event: None once it can be decided, otherwise the seconds to wait before asking again.
CompleteOne = Callable[[int], Awaitable[float | None]]


class EventCompleter(Protocol):
    """Completes stored events from their source before they are decided (HubSpot sends ids only)."""

    def batch(self) -> AbstractAsyncContextManager[CompleteOne]:
        """Completes the events of one pass: what is read once for all of them (a workspace's token) lasts as long
        as the pass, and is let go of with it."""


@dataclass
class EventIntake:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    delivery: DeliveryWorker
    default_timezone: str = "UTC"
    clock: Callable[[], datetime] = utcnow
    poll_seconds: float = 1.0
    batch_size: int = 100
    _committer: GroupCommitter | None = None
    _known_workspaces: set[str] = field(default_factory=set)
    # One check per workspace at a time: after a restart, a burst of Slack events would otherwise each open a
    # transaction to ask the same question, and on SQLite's single connection the last of them time out.
    _checking_workspaces: SingleFlight[str, None] = field(default_factory=lambda: SingleFlight("ensure-workspace"))
    _passes: Passes = field(default_factory=Passes)
    # While events are pouring in, acknowledging them comes first: deciding (tens of milliseconds of work each) waits
    # for a lull, no write queued and nothing accepted for `quiet_seconds`, but never longer than
    # `max_deferral_seconds` at a time, so decisions keep coming under sustained load.
    max_deferral_seconds: float = 1.0
    quiet_seconds: float = 0.02
    _last_accept: float = 0.0
    # A database error while deciding (a lost connection, a lock) is usually over by the next pass, so the event
    # stays undecided and is tried again; only an event that keeps failing is given up on, so it cannot block.
    max_database_attempts: int = 5
    _database_failures: dict[int, int] = field(default_factory=dict)
    # How long a sender waits for its event to be stored before it hears the database is unavailable (None: as long
    # as the database takes).
    store_timeout_seconds: float | None = None
    metrics: Metrics = field(default_factory=Metrics)
    # By source: events from it are completed (their details read from the sender's API) before they are decided.
    completers: dict[str, EventCompleter] = field(default_factory=dict)
    # Events waiting for their source to answer, and when (loop time) to ask again; they stay undecided meanwhile.
    _waiting: dict[int, float] = field(default_factory=dict)
    # Finds the chat users behind the emails an event names, so its nudge can mention them (None: nobody is looked up).
    people: PeopleByEmail | None = None

    async def accept(self, *, workspace_id: str, event: BusinessEvent) -> int | None:
        """Stores the event durably. Returns its id, or None when the sender already delivered it.

        Raises TimeoutError when the database has not stored it within `store_timeout_seconds`; the event may still
        be stored once the database answers, so the sender's retry is then a duplicate, stored once.
        """
        # Giving up is cheap and safe here: what is cancelled is only the wait for the group commit's answer (the
        # row is written, or not, either way) and for the shared workspace check (which runs on, shielded).
        deadline = asyncio.timeout(self.store_timeout_seconds)
        try:
            async with deadline:
                return await self._store(workspace_id=workspace_id, event=event)
        except TimeoutError:
            if deadline.expired():
                raise self._timed_out() from None
            raise

    async def _store(self, *, workspace_id: str, event: BusinessEvent) -> int | None:
        await self._ensure_workspace(workspace_id)
        if self._committer is None:
            events_table: Table = ReceivedEvent.__table__  # type: ignore[assignment]
            self._committer = GroupCommitter(self.engine, events_table, SENDERS_EVENT_KEY)
        event_id = await self._committer.insert(
            event_row(workspace_id=workspace_id, event=event, now=self.clock())
        )
        self._last_accept = asyncio.get_running_loop().time()
        self.metrics.events_received.labels(event.source, "duplicate" if event_id is None else "stored").inc()
        if event_id is not None:
            self._passes.wake()
        return event_id

    async def existing_event_id(self, *, workspace_id: str, event: BusinessEvent) -> int | None:
        """The id under which a repeated event was first stored (TimeoutError past `store_timeout_seconds`)."""
        # A query cancelled mid-flight is cleaned up with the database, which may be what has stalled: the lookup is
        # left to finish on its own, and only the waiting for it stops.
        lookup = asyncio.ensure_future(self._stored_id(workspace_id=workspace_id, event=event))
        try:
            return await asyncio.wait_for(asyncio.shield(lookup), timeout=self.store_timeout_seconds)
        except TimeoutError:
            if lookup.done():
                raise
            raise self._timed_out() from None

    async def _stored_id(self, *, workspace_id: str, event: BusinessEvent) -> int | None:
        async with self.sessions() as session:
            return await stored_event_id(
                session, workspace_id=workspace_id, source=event.source, external_id=event.external_id
            )

    def _timed_out(self) -> TimeoutError:
        return TimeoutError(f"the database did not answer within {self.store_timeout_seconds:g}s")

    async def _ensure_workspace(self, workspace_id: str) -> None:
        if workspace_id in self._known_workspaces:
            return
        await self._checking_workspaces.run(workspace_id, lambda: self._create_workspace(workspace_id))

    async def _create_workspace(self, workspace_id: str) -> None:
        async with session_scope(self.sessions) as session:
            await get_or_create_workspace(
                session, workspace_id=workspace_id, default_timezone=self.default_timezone
            )
        self._known_workspaces.add(workspace_id)

    async def close(self) -> None:
        """Answers the requests still waiting for their events to be stored, then lets go of the database."""
        if self._committer is not None:
            await self._committer.close()

    def stop(self) -> None:
        """Asks run_forever to return after the event in flight is decided."""
        self._passes.stop()

    async def run_forever(self) -> None:
        await self._passes.run(
            self.decide_pending,
            poll_seconds=self.poll_seconds,
            logger=logger,
            failure="deciding stored events failed; retrying at the next pass",
        )

    async def decide_pending(self) -> int:
        """Applies the rules to one batch of stored, undecided events. Returns how many were decided.

        An event whose deciding failed on a database error stays undecided and counts as not decided.
        """
        async with AsyncExitStack() as batches:
            return await self._decide_pass(batches)

    async def _decide_pass(self, batches: AsyncExitStack) -> int:
        """One pass over stored events: each source's completer opens its batch once, and `batches` closes it."""
        now = asyncio.get_running_loop().time()
        waiting = {event_id for event_id, due in self._waiting.items() if due > now}
        if len(self._waiting) > len(waiting) + self.batch_size:
            # Events decided by another replica meanwhile are never seen here again: let go of them.
            self._waiting = {event_id: self._waiting[event_id] for event_id in waiting}
        async with self.sessions() as session:
            pending = (
                await session.execute(
                    select(
                        ReceivedEvent.id, ReceivedEvent.source, ReceivedEvent.workspace_id, ReceivedEvent.payload
                    )
                    .where(ReceivedEvent.outcome.is_(None))
                    .order_by(ReceivedEvent.id)
                    # Events still waiting are passed over, not let fill the batch and hold back the rest.
                    .limit(self.batch_size + len(waiting))
                )
            ).all()
        nudged = False
        decided = 0
        completing: dict[str, CompleteOne] = {}
        for event_id, source, workspace_id, payload in pending:
            if self._passes.stopping:
                break
            if event_id in waiting:
                continue
            await self._let_waiting_senders_go_first()
            completer = self.completers.get(source)
            if completer is not None:
                complete = completing.get(source)
                if complete is None:
                    complete = await batches.enter_async_context(completer.batch())
                    completing[source] = complete
                if not await self._completed(complete, event_id):
                    continue
                # Completing may have named people the event as received did not (HubSpot's deal owner).
                payload = await self._stored_payload(event_id)
            # Asked of the chat platform before the transaction opens, so no write waits on it.
            people = await self._people(workspace_id, stored_people(payload))
            # One short transaction per event: SQLite has a single writer, and webhooks arriving meanwhile must
            # not wait behind a whole batch.
            step = await self._decide_one(event_id, people)
            if step == "retry_later":
                # The database is failing: the rest of the batch would too. The next pass starts over.
                break
            decided += 1
            nudged = nudged or step == "nudged"
        if nudged:
            self.delivery.wake()
        return decided

    async def _completed(self, complete: CompleteOne, event_id: int) -> bool:
        """Whether the event is ready to decide; if not, it waits as long as its completer asks."""
        try:
            wait = await complete(event_id)
        except SQLAlchemyError:
            logger.exception("could not complete event %s; trying again at the next pass", event_id)
            wait = self.poll_seconds
        except Exception:
            # A fault in completing must not keep the event from being decided with what it has.
            logger.exception("could not complete event %s; deciding it as it was received", event_id)
            wait = None
        if wait is None:
            self._waiting.pop(event_id, None)
            return True
        self._waiting[event_id] = asyncio.get_running_loop().time() + wait
        return False

    async def _stored_payload(self, event_id: int) -> dict[str, Any] | None:
        async with self.sessions() as session:
            payload: dict[str, Any] | None = await session.scalar(
                select(ReceivedEvent.payload).where(ReceivedEvent.id == event_id)
            )
        return payload

    async def _people(self, workspace_id: str, emails: dict[PersonRole, str]) -> dict[PersonRole, MatchedPerson]:
        if not emails or self.people is None:
            return {}
        return await self.people.match(workspace_id, emails)

    async def _let_waiting_senders_go_first(self) -> None:
        """Waits for a lull: no write queued and nothing accepted for `quiet_seconds`, or `max_deferral_seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_deferral_seconds
        for _ in range(MAX_LULL_CHECKS):
            now = loop.time()
            quiet_for = now - self._last_accept
            idle = self._committer is None or self._committer.idle
            if now >= deadline or (idle and quiet_for >= self.quiet_seconds):
                return
            await asyncio.sleep(max(self.quiet_seconds - quiet_for, LULL_CHECK_SECONDS))

    async def _decide_one(self, event_id: int, people: dict[PersonRole, MatchedPerson] | None = None) -> Step:
        try:
            nudged = await self._decide_in_transaction(event_id, people or {})
        except SQLAlchemyError:
            failures = self._database_failures.get(event_id, 0) + 1
            if failures < self.max_database_attempts:
                self._database_failures[event_id] = failures
                logger.exception("could not decide event %s (attempt %d); trying again", event_id, failures)
                return "retry_later"
            self._database_failures.pop(event_id, None)
            logger.exception("could not decide event %s after %d attempts; giving up on it", event_id, failures)
            await self._give_up(event_id)
            return "decided"
        return "nudged" if nudged else "decided"

    async def _give_up(self, event_id: int) -> None:
        async with session_scope(self.sessions) as session:
            record = await session.get(ReceivedEvent, event_id)
            if record is not None and record.outcome is None:
                record.outcome = "error"
                self.metrics.events_decided.labels("error").inc()

    async def _decide_in_transaction(self, event_id: int, people: dict[PersonRole, MatchedPerson]) -> bool:
        try:
            async with session_scope(self.sessions) as session:
                loaded = (
                    await session.execute(
                        # The workspace comes along, so the rules find it without another round trip.
                        select(ReceivedEvent, Workspace)
                        .join(Workspace, Workspace.id == ReceivedEvent.workspace_id)
                        .where(ReceivedEvent.id == event_id, ReceivedEvent.outcome.is_(None))
                        # Another replica deciding the same event holds its row; skip it (ignored by SQLite).
                        .with_for_update(skip_locked=True, of=ReceivedEvent)
                    )
                ).first()
                if loaded is None:
                    return False
                record = loaded[0]
                result = await decide_stored_event(
                    session,
                    record=record,
                    now=self.clock(),
                    default_timezone=self.default_timezone,
                    people=people,
                )
        except SQLAlchemyError:
            raise
        except Exception:
            # A malformed event would fail the same way every time, and must not hold back the ones behind it. What
            # its deciding wrote was rolled back with the transaction.
            logger.exception("could not decide event %s", event_id)
            await self._give_up(event_id)
            return False
        self._database_failures.pop(event_id, None)
        self.metrics.events_decided.labels(result.outcome).inc()
        # A sender misconfiguration (no channel to post in) deserves more attention than routine outcomes.
        logger.log(
            logging.WARNING if result.outcome == "no_channel" else logging.INFO,
            "event %s: %s",
            event_id,
            OUTCOME_DETAILS[result.outcome],
            extra={"event_id": event_id, "source": record.source, "outcome": result.outcome},
        )
        return result.nudge_id is not None

    async def drain(self, *, max_passes: int = 1000) -> None:
        for _ in range(max_passes):
            if not await self.decide_pending():
                return

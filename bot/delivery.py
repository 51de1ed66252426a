"""The one path every outbound message takes: paced per channel, retried with backoff, never sent twice.

Rows come from the outbox (models/outbox.py). A worker runs in every replica; claiming a row is a conditional
UPDATE, so two workers never send the same row at once. A row left "sending" by a worker that died is reclaimed
after its lease, and the channel is searched for its idempotency key before it is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway import ChatGateway, NotInChannel, PermanentError, RateLimited, TransientError
from bot.gateways import GatewayDirectory
from bot.metrics import Metrics
from bot.pacing import WorkspacePacer
from bot.passes import Passes
from models.base import utcnow
from models.outbox import FAILED, PENDING, SENDING, SENT, OutboxMessage
from models.workspace_removal import REMOVED_REASON
from models.workspaces import Workspace

logger = logging.getLogger(__name__)


@dataclass
class DeliveryPolicy:
    max_attempts: int = 12
    # Must outlast one platform call (slack_sdk times out after 30 s), or a slow send could be reclaimed mid-flight.
    lease: timedelta = timedelta(seconds=45)
    # Slack accepts about one message per second per channel.
    channel_interval: timedelta = timedelta(seconds=1)
    base_backoff_seconds: float = 2.0
    max_backoff_seconds: float = 300.0
    concurrency: int = 32
    batch_size: int = 500

    def backoff(self, attempts: int) -> timedelta:
        delay = min(self.max_backoff_seconds, self.base_backoff_seconds * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=delay * random.uniform(0.8, 1.2))


@dataclass
class _Claim:
    row: OutboxMessage
    in_doubt: bool
    lane: str


@dataclass
class DeliveryWorker:
    sessions: async_sessionmaker[AsyncSession]
    # The gateway every workspace's messages go through, unless `gateways` picks one per workspace's platform.
    gateway: ChatGateway | None = None
    gateways: GatewayDirectory | None = None
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    poll_seconds: float = 1.0
    clock: Callable[[], datetime] = utcnow
    metrics: Metrics = field(default_factory=Metrics)
    # A 429 may be the workspace's limit (Slack caps posts per workspace as well as per channel): until its
    # Retry-After has passed, none of the workspace's channels is tried, rather than each earning a 429 of its own,
    # and then its posts go out at a pace that starts slow and recovers, rather than all at once.
    pacer: WorkspacePacer = field(default_factory=WorkspacePacer)
    _lane_ready_at: dict[str, datetime] = field(default_factory=dict)
    # When a paced workspace may next post, so the worker wakes for it rather than at the next poll.
    _next_release: datetime | None = None
    _passes: Passes = field(default_factory=Passes)

    def wake(self) -> None:
        """Called after queueing, so a new message goes out now rather than at the next poll."""
        self._passes.wake()

    def stop(self) -> None:
        """Asks run_forever to return after the pass in flight, so a shutdown never leaves a send half-recorded."""
        self._passes.stop()

    async def run_forever(self) -> None:
        await self._passes.run(
            self.run_once,
            poll_seconds=self.poll_seconds,
            logger=logger,
            failure="delivery pass failed; retrying at the next pass",
            wait_at_most=self._seconds_to_next_release,
        )

    def _seconds_to_next_release(self) -> float | None:
        if self._next_release is None:
            return None
        return (self._next_release - self.clock()).total_seconds()

    async def run_once(self) -> int:
        """One pass: claims what is due (one message per channel) and sends it. Returns how many were handled."""
        now = self.clock()
        claims = await self._claim_due(now)
        if not claims:
            return 0
        limit = asyncio.Semaphore(self.policy.concurrency)

        async def send(claim: _Claim) -> None:
            async with limit:
                paused_until = self.pacer.held_until(claim.row.workspace_id, self.clock())
                if paused_until is not None and not claim.in_doubt:
                    # Rate limited while this claim waited its turn: handed back untried, nothing was sent.
                    await self._finish(claim.row, status=PENDING, not_before=paused_until, count=False)
                    return
                await self._deliver(claim)

        await asyncio.gather(*(send(claim) for claim in claims))
        return len(claims)

    async def drain(self, *, max_passes: int = 1000) -> None:
        """Delivers until nothing is due right now (for the CLI and for tests)."""
        for _ in range(max_passes):
            if not await self.run_once():
                return

    async def _claim_due(self, now: datetime) -> list[_Claim]:
        paced = self.pacer.paced(now)
        # Only paced workspaces free to post now are read; the others are woken for when they are.
        ready = [workspace for workspace in paced if self.pacer.next_release(workspace, now) <= now]
        async with self.sessions() as session:
            # Paced workspaces are read apart, a few rows each, so a long queue of theirs waiting for its pace never
            # fills the batch and holds back workspaces that were never told to slow down.
            unpaced = self._due(now) if not paced else self._due(now, OutboxMessage.workspace_id.not_in(paced))
            rows = list(await session.scalars(unpaced.order_by(OutboxMessage.id).limit(self.policy.batch_size)))
            if ready:
                rows += await self._due_in_paced(session, now, ready)
            parents = await self._parent_statuses(session, rows)
            removed = await self._removed_workspaces(session, rows)
            picked: list[_Claim] = []
            busy_lanes: set[str] = set()
            waiting: set[str] = set()
            for row in rows:
                if row.workspace_id in removed:
                    # Queued after (or while) the workspace removed whoelse, by a job or a request in flight then.
                    row.status, row.last_error, row.lease_until = FAILED, REMOVED_REASON, None
                    logger.info("giving up on outbox message %s: %s", row.idempotency_key, row.last_error)
                    continue
                lane = row.channel_id or f"dm:{row.dm_user_id}"
                # Keep each channel's messages in order: a blocked first message holds back the ones behind it.
                if lane in busy_lanes:
                    continue
                waiting_on = row.thread_parent_id or row.update_of_id
                if waiting_on is not None and parents.get(waiting_on) == FAILED and row.status == PENDING:
                    # A reply or edit of a message that never reached Slack can never be sent: recorded as failed
                    # (so `/whoelse status` shows it) rather than left waiting, holding back its whole channel.
                    row.status, row.last_error = FAILED, f"its parent message {waiting_on} could not be sent"
                    logger.error("giving up on outbox message %s: %s", row.idempotency_key, row.last_error)
                    continue
                busy_lanes.add(lane)
                if self._lane_ready_at.get(lane, now) > now:
                    continue
                if waiting_on is not None and parents.get(waiting_on) != SENT:
                    continue
                if not self.pacer.take(row.workspace_id, now):
                    waiting.add(row.workspace_id)
                    continue
                # A retry after an error may follow a post that did land (a reset connection, a 5xx after storing).
                # Decided before claiming: the claim itself marks the row as sending.
                in_doubt = row.status == SENDING or row.attempts > 0
                claim = await self._claim(session, row, now)
                if claim is not None:
                    picked.append(_Claim(row=claim, in_doubt=in_doubt, lane=lane))
            await session.commit()
        self._next_release = min(
            (
                self.pacer.next_release(workspace, now)
                for workspace in paced
                if workspace in waiting or workspace not in ready
            ),
            default=None,
        )
        return picked

    def _due(self, now: datetime, *criteria: ColumnElement[bool]) -> Select[OutboxMessage]:
        return select(OutboxMessage).where(
            or_(
                and_(OutboxMessage.status == PENDING, OutboxMessage.not_before <= now),
                and_(OutboxMessage.status == SENDING, OutboxMessage.lease_until < now),
            ),
            *criteria,
        )

    async def _due_in_paced(self, session: AsyncSession, now: datetime, paced: list[str]) -> list[OutboxMessage]:
        """The first due rows of each paced workspace, oldest first: enough for its pace and to know it is waiting."""
        per_workspace = max(20, self.policy.batch_size // len(paced))
        ranked = (
            self._due(now, OutboxMessage.workspace_id.in_(paced))
            .with_only_columns(
                OutboxMessage.id,
                func.row_number()
                .over(partition_by=OutboxMessage.workspace_id, order_by=OutboxMessage.id)
                .label("place"),
            )
            .subquery()
        )
        found = await session.scalars(
            select(OutboxMessage)
            .join(ranked, ranked.c.id == OutboxMessage.id)
            .where(ranked.c.place <= per_workspace)
            .order_by(OutboxMessage.id)
        )
        return list(found)

    async def _removed_workspaces(self, session: AsyncSession, rows: Sequence[OutboxMessage]) -> set[str]:
        workspaces = {row.workspace_id for row in rows}
        if not workspaces:
            return set()
        found = await session.scalars(
            select(Workspace.id).where(Workspace.id.in_(workspaces), Workspace.uninstalled_at.is_not(None))
        )
        return set(found)

    async def _parent_statuses(self, session: AsyncSession, rows: Sequence[OutboxMessage]) -> dict[int, str]:
        wanted = {row.thread_parent_id or row.update_of_id for row in rows} - {None}
        if not wanted:
            return {}
        found = await session.execute(
            select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.id.in_(wanted))
        )
        return {parent_id: status for parent_id, status in found.all()}

    async def _claim(self, session: AsyncSession, row: OutboxMessage, now: datetime) -> OutboxMessage | None:
        values: dict[str, object] = {
            "status": SENDING,
            "lease_until": now + self.policy.lease,
            # Rows an earlier release tried have no first attempt recorded: their latest attempt is the best bound.
            "first_attempt_at": row.first_attempt_at or row.attempt_started_at or now,
        }
        if row.status == PENDING:
            condition = OutboxMessage.status == PENDING
            values["attempt_started_at"] = now
        else:
            # In doubt: the attempt in flight when its worker died keeps its start.
            condition = and_(OutboxMessage.status == SENDING, OutboxMessage.lease_until < now)
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, condition)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        await session.refresh(row)
        return row

    async def _deliver(self, claim: _Claim) -> None:
        row = claim.row
        try:
            channel, ts = await self._send(claim)
        except RateLimited as limited:
            self.metrics.delivery_attempts.labels("rate_limited").inc()
            wait = timedelta(seconds=max(limited.retry_after, 1))
            self._lane_ready_at[claim.lane] = self.clock() + wait
            self.pacer.rate_limited(row.workspace_id, retry_after=wait, now=self.clock())
            logger.info("rate limited in %s; retrying in %ss", claim.lane, wait.total_seconds())
            await self._finish(
                row, status=PENDING, not_before=self.clock() + wait, error=str(limited), count=False
            )
        except PermanentError as failure:
            self.metrics.delivery_attempts.labels("failed").inc()
            logger.error("giving up on outbox message %s: %s", row.idempotency_key, failure.reason)
            await self._finish(row, status=FAILED, error=failure.reason)
        except Exception as failure:
            if not isinstance(failure, TransientError):
                logger.exception("unexpected failure sending outbox message %s", row.idempotency_key)
            attempts = row.attempts + 1
            self.metrics.delivery_attempts.labels(
                "failed" if attempts >= self.policy.max_attempts else "retrying"
            ).inc()
            if attempts >= self.policy.max_attempts:
                logger.error("giving up on outbox message %s after %s attempts", row.idempotency_key, attempts)
                await self._finish(row, status=FAILED, error=str(failure) or type(failure).__name__)
            else:
                retry_at = self.clock() + self.policy.backoff(attempts)
                await self._finish(row, status=PENDING, not_before=retry_at, error=str(failure) or repr(failure))
        else:
            self.metrics.delivered(row.idempotency_key)
            self._lane_ready_at[claim.lane] = self.clock() + self.policy.channel_interval
            self.pacer.sent(row.workspace_id, self.clock())
            await self._finish(row, status=SENT, sent=(channel, ts))

    async def _gateway_for(self, workspace_id: str) -> ChatGateway:
        if self.gateways is not None:
            return await self.gateways.for_workspace(workspace_id)
        if self.gateway is None:
            raise PermanentError("no chat platform is configured")
        return self.gateway

    async def _send(self, claim: _Claim) -> tuple[str, str | None]:
        row = claim.row
        message = row.neutral_message()
        gateway = await self._gateway_for(row.workspace_id)
        async with self.sessions() as session:
            parent = await session.get(OutboxMessage, row.thread_parent_id) if row.thread_parent_id else None
            target = await session.get(OutboxMessage, row.update_of_id) if row.update_of_id else None
        if target is not None:
            assert target.sent_channel_id and target.sent_ts
            await gateway.update(channel=target.sent_channel_id, ts=target.sent_ts, message=message)
            return target.sent_channel_id, target.sent_ts
        channel = row.sent_channel_id or row.channel_id
        if channel is None:
            assert row.dm_user_id is not None
            channel = await gateway.open_direct(user=row.dm_user_id)
        thread_ts = row.thread_ts or (parent.sent_ts if parent is not None else None)
        if row.ephemeral_user_id:
            await gateway.post_ephemeral(
                channel=channel, user=row.ephemeral_user_id, message=message, thread_ts=thread_ts
            )
            return channel, None
        if claim.in_doubt and row.first_attempt_at is not None:
            # Any earlier attempt may have landed (Slack sometimes stores a post and still answers 5xx), however long
            # ago backoff has put it: the search reaches back to the first one.
            landed = await gateway.find_posted(
                channel=channel,
                idempotency_key=row.idempotency_key,
                since=row.first_attempt_at,
                thread_ts=thread_ts,
            )
            if landed is not None:
                # Worth noticing: Slack reported a failure for a post it had stored (or we crashed before recording it).
                logger.warning(
                    "outbox message %s had already landed on an earlier attempt; not posting again",
                    row.idempotency_key,
                )
                return channel, landed
        try:
            posted = await gateway.post(
                channel=channel, message=message, idempotency_key=row.idempotency_key, thread_ts=thread_ts
            )
        except NotInChannel:
            # Public channels can be joined by the bot itself; private ones need an invitation (permanent).
            await gateway.join(channel=channel)
            posted = await gateway.post(
                channel=channel, message=message, idempotency_key=row.idempotency_key, thread_ts=thread_ts
            )
        return posted.channel, posted.ts

    async def _finish(
        self,
        row: OutboxMessage,
        *,
        status: str,
        not_before: datetime | None = None,
        error: str | None = None,
        sent: tuple[str, str | None] | None = None,
        count: bool = True,
    ) -> None:
        values: dict[str, object] = {"status": status, "lease_until": None}
        if count and status != SENT:
            values["attempts"] = row.attempts + 1
        if not_before is not None:
            values["not_before"] = not_before
        if error is not None:
            values["last_error"] = error[:2000]
        if sent is not None:
            values.update(sent_channel_id=sent[0], sent_ts=sent[1], sent_at=self.clock(), last_error=None)
        async with self.sessions() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.status == SENDING)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            await session.commit()

"""What whoelse counts for Prometheus (`GET /metrics`; each metric is described in README "Metrics").

Every app builds its own registry: nothing is registered at import, so several apps (tests, or a CLI beside a
server) never share or collide on counters. Counters move where the work happens (intake, delivery, the
scheduler's job events, each HTTP request); the outbox gauges are read from the database at scrape time.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from apscheduler.events import JobSubmissionEvent
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.http_exchange import Exchange
from models.base import utcnow
from models.outbox import PENDING, SENDING, OutboxMessage

logger = logging.getLogger(__name__)

# The outbox is read at scrape time; a scrape must not wait on a stalled database longer than this.
OUTBOX_QUERY_SECONDS = 1.0
# What an answer's message is keyed by in the outbox (habits/nudge_answers.py): one message per answer.
ANSWER_KEYS = {"loop-in:": "loop_in", "nobody:": "nobody_else", "help:": "help"}
NUDGE_KEY = "nudge:"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.events_received = Counter(
            "whoelse_events_received",
            "Business events received (webhooks, bots' posts in watched channels), by whether they were new",
            ["source", "result"],
            registry=registry,
        )
        self.events_decided = Counter(
            "whoelse_events_decided",
            "Stored events the nudge rules decided on, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.nudges_posted = Counter("whoelse_nudges_posted", "Nudges posted in a channel", registry=registry)
        self.answers = Counter(
            "whoelse_answers_recorded",
            "Answers to nudges (loop_in, nobody_else, help), counted when whoelse acknowledges them",
            ["kind"],
            registry=registry,
        )
        self.delivery_attempts = Counter(
            "whoelse_delivery_attempts",
            "Attempts to send an outbox message, by result (sent, rate_limited, retrying, failed)",
            ["result"],
            registry=registry,
        )
        self.outbox_pending = Gauge(
            "whoelse_outbox_pending_messages",
            "Outbox messages not sent yet (pending or being sent)",
            registry=registry,
        )
        self.outbox_oldest_age = Gauge(
            "whoelse_outbox_oldest_due_age_seconds",
            "How long the longest-waiting message that is due has waited to be sent (0 when none is due)",
            registry=registry,
        )
        self.scheduler_leader = Gauge(
            "whoelse_scheduler_leader", "1 while this replica runs the scheduled jobs, else 0", registry=registry
        )
        self.job_lag = Histogram(
            "whoelse_scheduler_job_lag_seconds",
            "How late a scheduled job started, after the moment it was scheduled for",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
            registry=registry,
        )
        self.requests = Histogram(
            "whoelse_http_request_duration_seconds",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=registry,
        )

    def delivered(self, idempotency_key: str) -> None:
        """A message went out: a nudge, or the acknowledgement of an answer, each counted once."""
        self.delivery_attempts.labels("sent").inc()
        if idempotency_key.startswith(NUDGE_KEY):
            self.nudges_posted.inc()
        for prefix, kind in ANSWER_KEYS.items():
            if idempotency_key.startswith(prefix):
                self.answers.labels(kind).inc()

    def job_submitted(self, event: JobSubmissionEvent) -> None:
        """APScheduler listener (its own thread; prometheus_client is thread-safe)."""
        if event.scheduled_run_times:
            late = (utcnow() - _aware(max(event.scheduled_run_times))).total_seconds()
            self.job_lag.observe(max(late, 0.0))

    async def read_outbox(self, sessions: async_sessionmaker[AsyncSession], now: datetime) -> None:
        """Sets the outbox gauges with one query; on a slow or failing database they keep their last values."""
        try:
            async with asyncio.timeout(OUTBOX_QUERY_SECONDS):
                async with sessions() as session:
                    pending, oldest_due = (
                        await session.execute(
                            select(
                                func.count(),
                                func.min(case((OutboxMessage.not_before <= now, OutboxMessage.not_before))),
                            ).where(OutboxMessage.status.in_((PENDING, SENDING)))
                        )
                    ).one()
        except TimeoutError:
            logger.warning(
                "metrics: the outbox was not read within %ss; its gauges keep their last values",
                OUTBOX_QUERY_SECONDS,
            )
            return
        except Exception:
            logger.exception("metrics: could not read the outbox; its gauges keep their last values")
            return
        self.outbox_pending.set(pending)
        self.outbox_oldest_age.set((now - _aware(oldest_due)).total_seconds() if oldest_due is not None else 0)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back stored times without their zone; every time whoelse stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class RequestMetrics:
    """Times each HTTP request under its route template (`/webhooks/{source}`, not the path asked for), so the
    number of series stays bounded whatever paths clients try."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = Exchange()
        try:
            await exchange.run(self.app, scope, receive, send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(template, scope["method"], str(exchange.status)).observe(exchange.seconds)

"""Leader election among replicas sharing one PostgreSQL database: whoever holds the advisory lock leads.

The lock is a session-level `pg_try_advisory_lock`, held on a dedicated connection for as long as this replica
leads. PostgreSQL frees it when that connection ends for any reason (a clean stop, a crash, a dropped network), so
a standby replica acquires it at its next try. The leader watches its connection continuously and steps down the
moment it breaks: without the lock, another replica may already be running the jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable

import psycopg
from psycopg.rows import TupleRow
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

# One 64-bit key for "the whoelse scheduler", derived from a name so it cannot collide with other apps' small keys.
SCHEDULER_LOCK_KEY = int.from_bytes(hashlib.sha256(b"whoelse:scheduler-leader").digest()[:8], "big", signed=True)

# Ask the server to notice a vanished leader within ~25 s (keepalive probes), so the lock does not outlive it.
_KEEPALIVE_OPTIONS = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
_CONNECT_TIMEOUT_SECONDS = 10

Callback = Callable[[], Awaitable[None]]


def libpq_conninfo(database_url: str) -> str:
    """The libpq form of a SQLAlchemy URL (`postgresql+psycopg://…` or `postgresql+asyncpg://…`)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"leader election needs PostgreSQL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class LeaderElection:
    """Tries for the lock every `retry_seconds`; calls `on_elected` on winning it and `on_deposed` on losing it.

    `on_deposed` runs before the lock is released on a clean stop, so two leaders never overlap.
    """

    def __init__(
        self,
        database_url: str,
        *,
        on_elected: Callback,
        on_deposed: Callback,
        retry_seconds: float = 5.0,
        lock_key: int = SCHEDULER_LOCK_KEY,
    ) -> None:
        self.conninfo = libpq_conninfo(database_url)
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.retry_seconds = retry_seconds
        self.lock_key = lock_key
        self._connection: psycopg.AsyncConnection[TupleRow] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        return self._connection is not None

    async def start(self) -> None:
        """Makes a first attempt right away (a lone replica leads from its first request on), then keeps trying."""
        await self._try_to_lead()
        self._task = asyncio.create_task(self._run(), name="scheduler-leader-election")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()

    async def _run(self) -> None:
        while True:
            if self.is_leader:
                await self._watch_connection()
                await self._step_down()
            await asyncio.sleep(self.retry_seconds)
            await self._try_to_lead()

    async def _try_to_lead(self) -> None:
        try:
            connection = await psycopg.AsyncConnection.connect(
                self.conninfo,
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT_SECONDS,
                options=_KEEPALIVE_OPTIONS,
                application_name="whoelse scheduler leader",
            )
        except psycopg.OperationalError as error:
            logger.warning("cannot reach the database to elect a scheduler leader (%s); retrying", error)
            return
        try:
            cursor = await connection.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,))
            row = await cursor.fetchone()
        except psycopg.Error as error:
            logger.warning("asking for the scheduler leader lock failed (%s); retrying", error)
            await connection.close()
            return
        if row is None or row[0] is not True:
            await connection.close()
            return
        self._connection = connection
        logger.info("this replica is now the scheduler leader")
        try:
            await self.on_elected()
        except Exception:
            # Let another replica try: a leader that cannot run jobs must not keep the lock.
            logger.exception("the scheduler could not start on this replica; giving up leadership")
            await self._step_down()

    async def _watch_connection(self) -> None:
        """Returns when the lock's connection is gone: the server notifies a dropped session at once."""
        connection = self._connection
        assert connection is not None
        try:
            while True:
                # Waiting for notifications keeps reading the socket, so a terminated session raises immediately.
                async for _notification in connection.notifies(timeout=self.retry_seconds):
                    pass
                # A round trip also catches a silently dead network, which a quiet socket would not show.
                async with asyncio.timeout(self.retry_seconds):
                    await connection.execute("SELECT 1")
        except (psycopg.Error, TimeoutError) as error:
            logger.error("lost the database connection that holds the scheduler leader lock: %s", error)

    async def _step_down(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await self.on_deposed()
        except Exception:
            logger.exception("stopping the scheduler failed while stepping down")
        # Only now, with the jobs stopped, close the session: that releases the lock to the next replica.
        await connection.close()
        logger.info("this replica is no longer the scheduler leader")

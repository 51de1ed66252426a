"""Engine and session factory: one session per request or job."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import URL, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


class UnsupportedDatabaseURL(ValueError):
    """DATABASE_URL names a database or driver whoelse cannot use; the message lists the forms it accepts."""


ACCEPTED_DATABASE_URLS = (
    "sqlite:///path/to/whoelse.db or postgresql://user:password@host:5432/dbname "
    "(also sqlite+aiosqlite://, postgres://, postgresql+psycopg://, and postgresql+asyncpg:// with asyncpg installed)"
)
# What people write (and hosting platforms hand out) -> the async driver the app runs on. psycopg 3 serves both
# the app (async) and Alembic and the job store (sync) under one name.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def async_url(database_url: str) -> str:
    """DATABASE_URL in the form the app's async engine needs, whichever accepted form it was written in.

    Everything that opens the database goes through here (settings, engines, Alembic, the scheduler's job store),
    so a URL that starts the app also migrates it, and one that does not fails the same way everywhere.
    """
    scheme, separator, rest = database_url.strip().partition("://")
    driver = _ASYNC_DRIVERS.get(scheme.lower()) if separator else None
    if driver is None:
        # Only the scheme is repeated: the rest may hold a password.
        named = f"starts with {scheme + separator!r}" if separator else "is not a URL"
        raise UnsupportedDatabaseURL(f"DATABASE_URL {named}; use {ACCEPTED_DATABASE_URLS}")
    if driver == "postgresql+asyncpg" and importlib.util.find_spec("asyncpg") is None:
        raise UnsupportedDatabaseURL(
            f"DATABASE_URL names the asyncpg driver, which is not installed; use {ACCEPTED_DATABASE_URLS}"
        )
    return f"{driver}://{rest}"


def create_engine_for(
    database_url: str,
    *,
    connect_timeout_seconds: float | None = None,
    statement_timeout_seconds: float | None = None,
    **options: Any,
) -> AsyncEngine:
    """The engine; on PostgreSQL, connecting and each statement are bounded when timeouts are given."""
    database_url = async_url(database_url)
    if database_url.startswith("sqlite"):
        # Webhooks, Slack listeners and the delivery worker write concurrently; SQLite serialises writers, so
        # wait for the lock instead of failing with "database is locked".
        # One connection, shared in turn: SQLite has a single writer, and queueing for the connection here (a cheap
        # asyncio wait) beats several connections queueing on SQLite's lock (a sleeping busy handler). Nothing may
        # hold a session while waiting for another one; the pool timeout turns such a bug into an error.
        if make_url(database_url).database not in (None, "", ":memory:"):
            options = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 15, **options}
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, **options)
        _tune_sqlite(engine.sync_engine)
        return engine
    connect_args = _postgres_timeouts(make_url(database_url), connect_timeout_seconds, statement_timeout_seconds)
    return create_async_engine(database_url, pool_pre_ping=True, connect_args=connect_args, **options)


def _postgres_timeouts(url: URL, connect_seconds: float | None, statement_seconds: float | None) -> dict[str, Any]:
    """A stalled server must fail calls rather than hold them: the driver gives up connecting, and the server
    cancels a statement that runs too long (waiting on a lock, say). A server that answers nothing at all is bounded
    by the callers' own deadlines (the health probe, the webhook store)."""
    arguments: dict[str, Any] = {}
    # psycopg is the driver whoelse documents and ships with.
    if url.get_driver_name() == "psycopg":
        if connect_seconds is not None:
            # libpq counts whole seconds.
            arguments["connect_timeout"] = max(1, math.ceil(connect_seconds))
        if statement_seconds is not None:
            arguments["options"] = f"-c statement_timeout={math.ceil(statement_seconds * 1000)}"
    return arguments


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL survives a crash of the process (what the outbox and intake rely on) and only a
            # power cut can lose the last commits; FULL would cost an fsync per commit. PostgreSQL is for production.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # The sqlite3 driver opens transactions lazily (at the first write), which breaks savepoints and, worse, lets a
    # transaction read, then fail at once with "database is locked" when it tries to write after another
    # connection committed (its snapshot is stale, so SQLite will not wait). Every transaction here starts with
    # BEGIN IMMEDIATE instead: it takes the write lock up front, and writers queue on the busy timeout in their
    # own threads rather than failing. SQLite has a single writer anyway.
    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work: commits when the block succeeds, rolls back when it raises."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def insert_skipping_duplicates(session: AsyncSession, entity: type[Any]) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that can skip (ON CONFLICT DO NOTHING) a row a unique key already holds, without failing the
    transaction the way a plain INSERT and its IntegrityError would."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert(entity) if dialect == "postgresql" else sqlite.insert(entity)


def sync_url(database_url: str) -> str:
    """The same database for synchronous tools (Alembic, APScheduler's job store)."""
    url = async_url(database_url)
    for async_driver, sync_driver in (
        ("sqlite+aiosqlite://", "sqlite://"),
        ("postgresql+asyncpg://", "postgresql+psycopg://"),
    ):
        if url.startswith(async_driver):
            return sync_driver + url.removeprefix(async_driver)
    return url

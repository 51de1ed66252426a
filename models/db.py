"""Engine and session factory: one session per request or job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def create_engine_for(database_url: str, **options: Any) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        # Webhooks, Slack listeners and the delivery worker write concurrently; SQLite serialises writers, so
        # wait for the lock instead of failing with "database is locked".
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, **options)
        _tune_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(database_url, pool_pre_ping=True, **options)


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

    @event.listens_for(engine, "savepoint")
    def _begin_before_savepoint(connection: Any, _name: str | None) -> None:
        # The sqlite3 driver only opens a transaction at the first write. A SAVEPOINT issued before any write would
        # open it instead, and releasing that savepoint would commit everything so far, even if the unit of work
        # later rolls back.
        driver = connection.connection.dbapi_connection
        sqlite = getattr(driver, "_connection", driver)  # SQLAlchemy's aiosqlite adapter wraps the connection
        if not sqlite.in_transaction:
            connection.exec_driver_sql("BEGIN")


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


def sync_url(database_url: str) -> str:
    """The same database for synchronous tools (Alembic, APScheduler's job store)."""
    return database_url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")

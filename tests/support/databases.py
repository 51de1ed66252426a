"""Test databases: a migrated SQLite file per test, and a migrated PostgreSQL database emptied between tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import upgrade_database

POSTGRES_ADMIN_URL = os.environ.get("WHOELSE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def migrated_sqlite_template(directory: Path) -> Path:
    template = directory / "template.db"
    upgrade_database(f"sqlite+aiosqlite:///{template}")
    return template


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


def create_postgres_database() -> str:
    """A fresh, migrated database for this test session; returns its async URL."""
    name = f"whoelse_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    upgrade_database(url)
    return url


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_postgres_database(url: str) -> None:
    engine = create_engine(url.replace("+psycopg", "+psycopg"))
    with engine.begin() as connection:
        tables = [
            row[0]
            for row in connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@contextlib.asynccontextmanager
async def table_offline(engine: AsyncEngine, table: str) -> AsyncIterator[None]:
    """Takes a table away for a while, as a failing disk or a broken connection would for every write to it."""

    async def rename(old: str, new: str) -> None:
        async with engine.begin() as connection:
            await connection.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))

    await rename(table, f"{table}_offline")
    try:
        yield
    finally:
        await rename(f"{table}_offline", table)

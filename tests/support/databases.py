"""Test databases: a migrated SQLite file per test, and a migrated PostgreSQL database emptied between tests."""

from __future__ import annotations

import contextlib
import graphlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import text
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
    """Every table as the freshly migrated database had it: no rows, no pages, every sequence restarted.

    TRUNCATE of every table gives each table and index new files, a few hundred milliseconds a test. A test writes
    to a few tables: their rows are deleted (children before parents) and VACUUM hands their emptied pages back, so
    the next test writes into empty files as it would after TRUNCATE (a test of where rows are stored can tell).
    """
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        references = connection.execute(
            "SELECT child.relname, parent.relname FROM pg_constraint AS reference"
            " JOIN pg_class AS child ON child.oid = reference.conrelid"
            " JOIN pg_class AS parent ON parent.oid = reference.confrelid"
            " JOIN pg_namespace AS schema ON schema.oid = child.relnamespace"
            " WHERE reference.contype = 'f' AND schema.nspname = 'public'"
        ).fetchall()
        sequences = [
            row[0]
            for row in connection.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
        ]
        # A table is emptied after every table that refers to it (a reference to itself is checked per statement).
        referred_by: dict[str, set[str]] = {table: set() for table in tables}
        for child, parent in references:
            if child != parent and parent in referred_by:
                referred_by[parent].add(child)
        statements = [
            *(
                sql.SQL("DELETE FROM {}").format(sql.Identifier(table))
                for table in graphlib.TopologicalSorter(referred_by).static_order()
            ),
            *(sql.SQL("ALTER SEQUENCE {} RESTART").format(sql.Identifier(sequence)) for sequence in sequences),
        ]
        # One round trip, one transaction: statements without parameters may go together.
        connection.execute(sql.SQL("; ").join(statements))
        written = _tables_with_pages(connection)
        if written:
            connection.execute(sql.SQL("VACUUM {}").format(sql.SQL(", ").join(map(sql.Identifier, written))))
        # VACUUM keeps pages a transaction elsewhere might still read; TRUNCATE does not ask.
        kept = _tables_with_pages(connection)
        if kept:
            connection.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(map(sql.Identifier, kept))
                )
            )


def _tables_with_pages(connection: psycopg.Connection[tuple[Any, ...]]) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            " AND pg_relation_size(format('%I.%I', schemaname, tablename)) > 0"
        )
    ]


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

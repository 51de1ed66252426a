"""Group commit: concurrent requests that each need one row stored share one INSERT and one COMMIT.

Acknowledging a webhook only after its event is durably stored costs a database round trip and a commit per
request; under load that, not the work, caps throughput. Requests queue their row here; while one batch is being
written the next one collects, so a busy server writes in large batches and an idle one writes at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

Key = tuple[Any, ...]


@dataclass
class GroupCommitter:
    engine: AsyncEngine
    table: Table
    # The unique constraint that makes a repeated row a duplicate instead of an error.
    conflict_columns: Sequence[str]
    max_batch: int = 500
    _pending: list[tuple[dict[str, Any], asyncio.Future[int | None]]] = field(default_factory=list)
    _writer: asyncio.Task[None] | None = None
    # Writes (one transaction each) so far: far fewer than rows under load, which is the point.
    writes: int = 0

    @property
    def idle(self) -> bool:
        """No row is queued or being written: nobody is waiting for an answer."""
        return not self._pending and (self._writer is None or self._writer.done())

    async def insert(self, values: dict[str, Any]) -> int | None:
        """Stores the row; returns its id, or None when a row with the same key already existed."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._pending.append((values, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches(), name="group-commit")
        return await future

    async def _write_batches(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                ids = await self._write([values for values, _ in batch])
                self.writes += 1
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for values, future in batch:
                # The first request for a key gets the id; repeats of it, even in the same batch, are duplicates.
                if not future.done():
                    future.set_result(ids.pop(self._key(values), None))

    def _key(self, values: dict[str, Any]) -> Key:
        return tuple(values[column] for column in self.conflict_columns)

    async def _write(self, rows: list[dict[str, Any]]) -> dict[Key, int]:
        if self.engine.dialect.name == "sqlite":
            return await self._write_sqlite(rows)
        statement = (
            postgresql.insert(self.table)
            .on_conflict_do_nothing(index_elements=list(self.conflict_columns))
            .returning(self.table.c.id, *(self.table.c[column] for column in self.conflict_columns))
        )
        async with self.engine.begin() as connection:
            result = await connection.execute(statement, rows)
            return {tuple(row[1:]): int(row[0]) for row in result.all()}

    async def _write_sqlite(self, rows: list[dict[str, Any]]) -> dict[Key, int]:
        """SQLite: the batch as one multi-row INSERT, in one call to the driver's thread.

        Through the ORM layer a batch costs about ten hops between the event loop and aiosqlite's thread (begin,
        cursor, execute, fetch, close, commit), each waiting for a turn of a loop busy with requests; under load
        those hops, not SQLite, made batches slow. One statement is one implicit transaction (the driver runs in
        autocommit mode, see models/db.py), so the batch is still all or nothing.
        """
        columns = [column for column in self.table.columns if column.name in rows[0]]
        processors = [column.type.bind_processor(self.engine.dialect) for column in columns]
        parameters: list[Any] = []
        for row in rows:
            for column, process in zip(columns, processors, strict=True):
                value = row[column.name]
                parameters.append(process(value) if process is not None and value is not None else value)
        placeholders = "(" + ", ".join("?" for _ in columns) + ")"
        sql = (
            f"INSERT INTO {self.table.name} ({', '.join(column.name for column in columns)}) "
            f"VALUES {', '.join(placeholders for _ in rows)} "
            f"ON CONFLICT ({', '.join(self.conflict_columns)}) DO NOTHING "
            f"RETURNING id, {', '.join(self.conflict_columns)}"
        )
        # The app's one pooled connection, so this write queues with every other one instead of racing it.
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            try:
                returned = await driver.execute_fetchall(sql, parameters)
            except sqlite3.Error as error:
                # Callers handle database failures as SQLAlchemy reports them, whichever path wrote.
                raise DBAPIError.instance(sql, None, error, sqlite3.Error) from error
        return {tuple(row[1:]): int(row[0]) for row in returned}

"""Group commit: concurrent requests that each need one row stored share one INSERT and one COMMIT.

Acknowledging a webhook only after its event is durably stored costs a database round trip and a commit per
request; under load that, not the work, caps throughput. Requests queue their row here; while one batch is being
written the next one collects, so a busy server writes in large batches and an idle one writes at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
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
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(self.table)
            .on_conflict_do_nothing(index_elements=list(self.conflict_columns))
            .returning(self.table.c.id, *(self.table.c[column] for column in self.conflict_columns))
        )
        async with self.engine.begin() as connection:
            result = await connection.execute(statement, rows)
            return {tuple(row[1:]): int(row[0]) for row in result.all()}

"""Group commit: concurrent requests that each need one row stored share one INSERT and one COMMIT.

Acknowledging a webhook only after its event is durably stored costs a database round trip and a commit per
request; under load that, not the work, caps throughput. Requests queue their row here; while one batch is being
written the next one collects, so a busy server writes in large batches and an idle one writes at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.expression import Executable, TextClause

Key = tuple[Any, ...]
# Statement texts are kept for batches up to this many rows; the text grows with the batch, and huge ones are rare.
SQL_CACHED_UP_TO_ROWS = 64
# A row's column names in table order, how to read its values in that order, and the conversions some of them need
# for the driver (by position).
Columns = tuple[
    tuple[str, ...], Callable[[dict[str, Any]], tuple[Any, ...]], tuple[tuple[int, Callable[[Any], Any]], ...]
]


class BatchWriter(Protocol):
    async def write(self, rows: list[dict[str, Any]]) -> dict[Key, int]:
        """Inserts the rows in one transaction, skipping duplicates; returns the new rows' ids by key."""
        ...

    async def release(self) -> None:
        """Called when the queue is empty: gives back what is only worth holding while batches keep coming."""
        ...

    async def close(self) -> None:
        """Lets go of the database for good."""
        ...


@dataclass
class GroupCommitter:
    engine: AsyncEngine
    table: Table
    # The unique constraint that makes a repeated row a duplicate instead of an error.
    conflict_columns: Sequence[str]
    max_batch: int = 500
    _pending: list[tuple[dict[str, Any], asyncio.Future[int | None]]] = field(default_factory=list)
    _writer: asyncio.Task[None] | None = None
    _batches: BatchWriter | None = None
    _key: Callable[[dict[str, Any]], Key] = field(init=False)
    # Writes (one transaction each) so far: far fewer than rows under load, which is the point.
    writes: int = 0

    def __post_init__(self) -> None:
        key = itemgetter(*self.conflict_columns)
        # itemgetter answers a bare value, not a tuple, for a single column.
        self._key = key if len(self.conflict_columns) > 1 else lambda values: (key(values),)

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

    async def close(self) -> None:
        """Waits for the rows already queued, then lets go of the database."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if self._batches is not None:
            await self._batches.close()

    async def _write_batches(self) -> None:
        if self._batches is None:
            self._batches = batch_writer_for(self.engine, self.table, self.conflict_columns)
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                try:
                    ids = await self._batches.write([values for values, _ in batch])
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
        finally:
            await self._batches.release()


def batch_writer_for(engine: AsyncEngine, table: Table, conflict_columns: Sequence[str]) -> BatchWriter:
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") and not url.query:
        return SQLiteFileWriter(engine, table, conflict_columns)
    if url.get_backend_name() == "postgresql":
        return PostgresArrayWriter(engine, table, conflict_columns)
    return EngineWriter(engine, table, conflict_columns)


@dataclass
class EngineWriter:
    """Through the app's engine: any database, and SQLite in memory (which only the engine's connection can see).

    One pooled connection serves a whole run of back-to-back batches, so a burst pays for the checkout (and its
    liveness ping) once rather than once per batch.
    """

    engine: AsyncEngine
    table: Table
    conflict_columns: Sequence[str]
    _connection: AsyncConnection | None = None
    # The same statement for every batch: built once, as SQLite's writer keeps its text.
    _statement: Executable = field(init=False)

    def __post_init__(self) -> None:
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        self._statement = (
            insert(self.table)
            .on_conflict_do_nothing(index_elements=list(self.conflict_columns))
            .returning(self.table.c.id, *(self.table.c[column] for column in self.conflict_columns))
        )

    async def write(self, rows: list[dict[str, Any]]) -> dict[Key, int]:
        statement, parameters = self._statement_for(rows)
        if self._connection is None:
            self._connection = await self.engine.connect()
        try:
            async with self._connection.begin():
                result = await self._connection.execute(statement, parameters)
                return {tuple(row[1:]): int(row[0]) for row in result.all()}
        except BaseException:
            # The connection may be what failed: the next batch starts on a fresh one.
            await self.release()
            raise

    def _statement_for(self, rows: list[dict[str, Any]]) -> tuple[Executable, Any]:
        return self._statement, rows

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def close(self) -> None:
        await self.release()


@dataclass
class PostgresArrayWriter(EngineWriter):
    """PostgreSQL: each batch as one `INSERT ... SELECT FROM unnest(<one array per column>)`.

    The statement's text is the same whatever the batch's size. A multi-row VALUES list is a new, longer text for
    every size, and the driver parsed each one again to find its parameters (it keeps only short texts): that parsing
    was about half of what writing a batch cost.
    """

    _texts: dict[frozenset[str], tuple[tuple[str, ...], TextClause]] = field(default_factory=dict)

    def _statement_for(self, rows: list[dict[str, Any]]) -> tuple[Executable, Any]:
        names, statement = self._text_for(frozenset(rows[0]))
        return statement, {name: [row[name] for row in rows] for name in names}

    def _text_for(self, given: frozenset[str]) -> tuple[tuple[str, ...], TextClause]:
        if given not in self._texts:
            columns = [column for column in self.table.columns if column.name in given]
            dialect = self.engine.dialect
            arrays = ", ".join(
                f"CAST(:{column.name} AS {column.type.compile(dialect=dialect)}[])" for column in columns
            )
            names = ", ".join(column.name for column in columns)
            conflict = ", ".join(self.conflict_columns)
            statement = text(
                f"INSERT INTO {self.table.name} ({names}) SELECT * FROM unnest({arrays}) "
                f"ON CONFLICT ({conflict}) DO NOTHING RETURNING id, {conflict}"
            ).bindparams(
                # Each parameter is a list of the column's values, converted as the ORM converts them.
                *(bindparam(column.name, type_=ARRAY(column.type)) for column in columns)
            )
            self._texts[given] = (tuple(column.name for column in columns), statement)
        return self._texts[given]


@dataclass
class SQLiteFileWriter:
    """SQLite: each batch as one multi-row INSERT on a connection of the writer's own, run on the event loop itself.

    Writing a batch to SQLite in WAL mode without an fsync takes tens of microseconds; handing it to a driver thread
    and back, and checking a connection out of the pool and in again, took ten times that in CPU alone, and under
    load those hops, not SQLite, made batches slow. So the statement runs right here, and never blocks: the
    connection does not wait for SQLite's write lock (busy timeout 0); when another connection holds it the batch is
    retried after a short asynchronous sleep. One statement is one implicit transaction (autocommit mode), so a batch
    is still all or nothing.
    """

    engine: AsyncEngine
    table: Table
    conflict_columns: Sequence[str]
    # How long a batch may wait for SQLite's write lock before its requests hear the database is unavailable.
    lock_wait_seconds: float = 15.0
    _connection: sqlite3.Connection | None = None
    _column_cache: dict[frozenset[str], Columns] = field(default_factory=dict)
    _sql_cache: dict[tuple[tuple[str, ...], int], str] = field(default_factory=dict)

    async def write(self, rows: list[dict[str, Any]]) -> dict[Key, int]:
        sql, parameters = self._statement(rows)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_wait_seconds
        pause = 0.0005
        while True:
            try:
                returned = self._open().execute(sql, parameters).fetchall()
                return {tuple(row[1:]): int(row[0]) for row in returned}
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or loop.time() >= deadline:
                    raise _as_sqlalchemy_error(sql, error) from error
            except sqlite3.Error as error:
                # Callers handle database failures as SQLAlchemy reports them, whichever path wrote.
                raise _as_sqlalchemy_error(sql, error) from error
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.01)

    async def release(self) -> None:
        """The connection is kept: opening one costs more than keeping it."""

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(str(self.engine.url.database), timeout=0, isolation_level=None)
            # The same settings as the app's connections (models/db.py), except two: this connection never waits
            # for the write lock (see above), and never checkpoints the write-ahead log, because a checkpoint
            # writes the database file and syncs it to disk, which would stall the event loop. The app's other
            # connections commit often and checkpoint in their driver threads.
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "wal_autocheckpoint=0"):
                connection.execute(f"PRAGMA {pragma}")
            self._connection = connection
        return self._connection

    def _statement(self, rows: list[dict[str, Any]]) -> tuple[str, list[Any]]:
        names, values_of, converted = self._columns(frozenset(rows[0]))
        parameters: list[Any] = []
        for row in rows:
            values = list(values_of(row))
            # Most columns go to the driver as they are; only the few with a conversion are touched.
            for index, process in converted:
                if values[index] is not None:
                    values[index] = process(values[index])
            parameters += values
        return self._sql(names, len(rows)), parameters

    def _columns(self, given: frozenset[str]) -> Columns:
        if given not in self._column_cache:
            names = tuple(column.name for column in self.table.columns if column.name in given)
            # The dialect's own form of each type, as the ORM writes it: SQLite stores datetimes as text, and a
            # different text form of the same instant would compare wrongly in queries.
            processors = (
                self.table.c[name].type.dialect_impl(self.engine.dialect).bind_processor(self.engine.dialect)
                for name in names
            )
            self._column_cache[given] = (
                names,
                _values_in_order(names),
                tuple((index, process) for index, process in enumerate(processors) if process is not None),
            )
        return self._column_cache[given]

    def _sql(self, names: tuple[str, ...], rows: int) -> str:
        cached = self._sql_cache.get((names, rows))
        if cached is not None:
            return cached
        placeholders = "(" + ", ".join("?" for _ in names) + ")"
        sql = (
            f"INSERT INTO {self.table.name} ({', '.join(names)}) "
            f"VALUES {', '.join(placeholders for _ in range(rows))} "
            f"ON CONFLICT ({', '.join(self.conflict_columns)}) DO NOTHING "
            f"RETURNING id, {', '.join(self.conflict_columns)}"
        )
        if rows <= SQL_CACHED_UP_TO_ROWS:
            self._sql_cache[names, rows] = sql
        return sql


def _values_in_order(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    pick = itemgetter(*names)
    # itemgetter answers a bare value, not a tuple, for a single name.
    return pick if len(names) > 1 else lambda row: (pick(row),)


def _as_sqlalchemy_error(sql: str, error: sqlite3.Error) -> StatementError:
    return DBAPIError.instance(sql, None, error, sqlite3.Error)

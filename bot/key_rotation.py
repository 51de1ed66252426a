"""`whoelse keys rotate`: every stored secret sealed again with the newest key, so older keys can be dropped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from bot.secret_box import SecretBox


@dataclass(frozen=True)
class RotationReport:
    resealed: int
    already_current: int


async def reseal_stored_secrets(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    columns: Sequence[InstrumentedAttribute[Any]],
) -> RotationReport:
    """Reseals every non-empty value of `columns` that is not sealed with the newest key yet.

    One transaction per column: a failure (a value no key opens) leaves that column as it was and stops, so the
    operator keeps the old key until every value is current.
    """
    resealed = current = 0
    for column in columns:
        model = column.class_
        keys = inspect(model).primary_key
        async with sessions() as session, session.begin():
            rows = (await session.execute(select(*keys, column).where(column.is_not(None)))).all()
            for row in rows:
                *key_values, sealed = row
                if box.is_sealed_with_newest_key(sealed):
                    current += 1
                    continue
                condition = [key == value for key, value in zip(keys, key_values, strict=True)]
                await session.execute(update(model).where(*condition).values({column.key: box.reseal(sealed)}))
                resealed += 1
    return RotationReport(resealed=resealed, already_current=current)

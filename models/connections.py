"""A workspace's connections to its CRM or helpdesk: where each one's webhooks come in, and what they are signed with.

Each connection has its own unguessable URL key, so a delivery names the workspace it belongs to by the address it
is sent to; the vendor's secrets are kept sealed (bot/secret_box.py) and only opened to check a delivery. Every
read other than by key is scoped by workspace.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.secret_box import SecretBox
from models.base import PLATFORM_ID_LENGTH, Base

SOURCE_LENGTH = 32
KEY_LENGTH = 64
# Bytes of randomness in a URL key (43 characters of URL-safe base64).
KEY_BYTES = 32
ERROR_LENGTH = 500


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def seal_secrets(box: SecretBox, values: Mapping[str, str]) -> str | None:
    """The vendor's secrets as one sealed value (None when there are none yet)."""
    return box.seal(json.dumps(dict(values), sort_keys=True)) if values else None


def open_secrets(box: SecretBox, sealed: str | None) -> dict[str, str]:
    """Raises SecretUnreadable when no configured key opens them."""
    if sealed is None:
        return {}
    values = json.loads(box.open(sealed))
    return {str(name): str(value) for name, value in values.items()} if isinstance(values, dict) else {}


class SourceConnection(Base):
    __tablename__ = "source_connections"
    __table_args__ = (UniqueConstraint("workspace_id", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The last part of the webhook URL; unique across every workspace.
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    source: Mapped[str] = mapped_column(String(SOURCE_LENGTH))
    # The vendor's secrets as one JSON object, sealed; None while a connection waits for the secret its vendor
    # reveals only once the webhook exists.
    sealed_secrets: Mapped[str | None] = mapped_column(Text)
    # What is not secret and the admin gave (a Salesforce Organization ID).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    connected_by: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    connected_at: Mapped[datetime]
    last_event_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    last_error_at: Mapped[datetime | None]


async def connection_by_key(session: AsyncSession, key: str) -> SourceConnection | None:
    if not key or len(key) > KEY_LENGTH:
        return None
    return await session.scalar(select(SourceConnection).where(SourceConnection.key == key))


async def find_connection(session: AsyncSession, *, workspace_id: str, source: str) -> SourceConnection | None:
    return await session.scalar(
        select(SourceConnection).where(
            SourceConnection.workspace_id == workspace_id, SourceConnection.source == source
        )
    )


async def workspace_connections(session: AsyncSession, *, workspace_id: str) -> list[SourceConnection]:
    rows = await session.scalars(
        select(SourceConnection)
        .where(SourceConnection.workspace_id == workspace_id)
        .order_by(SourceConnection.source)
    )
    return list(rows)


async def save_connection(
    session: AsyncSession,
    *,
    workspace_id: str,
    source: str,
    sealed_secrets: str | None,
    details: dict[str, Any],
    connected_by: str,
    now: datetime,
) -> SourceConnection:
    """Connects the source, or connects it again with new secrets: the URL stays the same, the old error goes."""
    connection = await find_connection(session, workspace_id=workspace_id, source=source)
    if connection is None:
        connection = SourceConnection(
            workspace_id=workspace_id,
            source=source,
            key=new_key(),
            sealed_secrets=sealed_secrets,
            details=details,
            connected_by=connected_by,
            connected_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(connection)
            return connection
        except IntegrityError:
            # Another admin connected the same source a moment before: theirs is connected again with these secrets.
            connection = await find_connection(session, workspace_id=workspace_id, source=source)
            if connection is None:
                raise
    connection.sealed_secrets = sealed_secrets
    connection.details = details
    connection.connected_by = connected_by
    connection.connected_at = now
    connection.last_error = connection.last_error_at = None
    await session.flush()
    return connection


async def remove_connection(session: AsyncSession, *, workspace_id: str, source: str) -> bool:
    result = await session.execute(
        delete(SourceConnection).where(
            SourceConnection.workspace_id == workspace_id, SourceConnection.source == source
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_delivery(session: AsyncSession, *, connection_id: int, now: datetime) -> None:
    await session.execute(
        update(SourceConnection).where(SourceConnection.id == connection_id).values(last_event_at=now)
    )


async def record_error(session: AsyncSession, *, connection_id: int, error: str, now: datetime) -> None:
    await session.execute(
        update(SourceConnection)
        .where(SourceConnection.id == connection_id)
        .values(last_error=error[:ERROR_LENGTH], last_error_at=now)
    )

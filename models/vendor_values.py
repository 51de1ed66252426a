"""The last value whoelse saw of a vendor record's property, for senders whose change notifications carry only the
new value (HubSpot): what the value was before tells a raised priority or a reopening from any other change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class VendorLastValue(Base):
    __tablename__ = "vendor_last_values"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The record within its source, such as "ticket:5123".
    object_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    property: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000))
    # When the value was set at the source (its milliseconds), so a change that arrives late does not overwrite a
    # newer one.
    changed_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


async def last_value(
    session: AsyncSession, *, workspace_id: str, source: str, object_key: str, prop: str
) -> VendorLastValue | None:
    return await session.get(VendorLastValue, (workspace_id, source, object_key, prop))


async def remember_value(
    session: AsyncSession,
    *,
    workspace_id: str,
    source: str,
    object_key: str,
    prop: str,
    value: str,
    changed_at_ms: int,
    now: datetime,
) -> None:
    """Keeps `value` as the property's last, unless whoelse already knows a later one."""
    known = await last_value(session, workspace_id=workspace_id, source=source, object_key=object_key, prop=prop)
    if known is None:
        session.add(
            VendorLastValue(
                workspace_id=workspace_id,
                source=source,
                object_key=object_key,
                property=prop,
                value=value[:1000],
                changed_at_ms=changed_at_ms,
                updated_at=now,
            )
        )
    elif changed_at_ms >= known.changed_at_ms:
        known.value, known.changed_at_ms, known.updated_at = value[:1000], changed_at_ms, now
    await session.flush()

"""Everything a request or a job needs, built once by the app factory and passed down explicitly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery import DeliveryWorker
from bot.event_intake import EventIntake
from bot.gateway import ChatGateway
from bot.gateways import GatewayDirectory
from bot.settings import Settings
from bot.watch_cache import WatchedChannels
from models.base import utcnow
from scheduler.roles import SchedulerRole


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    gateway: ChatGateway
    delivery: DeliveryWorker
    # The Slack team the bot token belongs to: where signed webhooks land.
    default_workspace_id: str
    clock: Callable[[], datetime] = field(default=utcnow)
    # Stores incoming events before they are acknowledged and decides on them in the background.
    intake: EventIntake | None = None
    # Set by features after they add, change or cancel a schedule; the scheduler leader reconciles its jobs then
    # (and periodically, for changes made on other replicas).
    schedule_changes: asyncio.Event = field(default_factory=asyncio.Event)
    # Which channels watch deals or tickets, for the bot posts that arrive in every channel.
    watched: WatchedChannels | None = None
    # What signed webhooks must be signed with; None when webhooks are not configured (they are refused with a 503).
    webhook_secret: str | None = None
    # Picks each workspace's platform gateway (Slack's or a Teams tenant's); `gateway` is Slack's.
    gateways: GatewayDirectory | None = None
    # Kept current by the scheduler service; `/whoelse status` shows it.
    scheduler_role: SchedulerRole = "off"

    async def gateway_for(self, workspace_id: str) -> ChatGateway:
        """The gateway of the platform this workspace is on."""
        if self.gateways is None:
            return self.gateway
        return await self.gateways.for_workspace(workspace_id)

"""Owns time: runs APScheduler in this process while it is the scheduler leader."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.context import AppContext

logger = logging.getLogger(__name__)


class SchedulerService:
    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.scheduler: AsyncIOScheduler | None = None

    async def start(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.scheduler = None

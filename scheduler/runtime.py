"""The app context for job functions, which APScheduler calls with their pickled keyword arguments only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppContext
from models.db import session_scope

_context: AppContext | None = None


class SchedulerNotRunning(RuntimeError):
    """A job function ran without a scheduler service around it (e.g. called by hand outside the app)."""


def set_job_context(context: AppContext) -> None:
    global _context
    _context = context


def clear_job_context(context: AppContext) -> None:
    """Forgets `context`, unless another app in this process has set its own since (as tests do)."""
    global _context
    if _context is context:
        _context = None


def job_context() -> AppContext:
    if _context is None:
        raise SchedulerNotRunning(
            "job_context() is only available while the scheduler service runs; "
            "call the job's domain function directly, or start the app"
        )
    return _context


@asynccontextmanager
async def job_session() -> AsyncIterator[AsyncSession]:
    """One unit of work for one job run: commits when the block succeeds, rolls back when it raises."""
    async with session_scope(job_context().sessions) as session:
        yield session

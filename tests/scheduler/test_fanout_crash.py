"""A weekly poll due in sixty channels, and the bot killed halfway through posting them: after a restart every
channel has its poll exactly once, none twice and none missing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.db import session_scope
from models.elephants import ElephantPoll, ElephantSchedule
from models.outbox import SENT, OutboxMessage
from models.workspaces import get_or_create_workspace
from scheduler.elephant_jobs import MISSED_AFTER
from tests.conftest import TEAM_ID, eventually
from tests.fakes.slack_api import FakeSlack
from tests.support.signing import BOT_TOKEN, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = [f"CFAN{number:03d}" for number in range(60)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def whoelse_serve(database_url: str, fake_slack: FakeSlack, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m bot serve` as a real process, talking to the fake Slack."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.base_url,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "SCHEDULER": "auto",
        "SCHEDULER_LEADER_RETRY_SECONDS": "0.5",
        "DELIVERY_POLL_SECONDS": "0.1",
        # A post claimed by the killed process is looked for (and sent if missing) two seconds later.
        "DELIVERY_LEASE_SECONDS": "2",
        "LOG_FORMAT": "text",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


async def schedule_a_poll_due_now_in_every_channel(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()
    # A weekly moment that passed while whoelse was not running, long enough ago that no weekly job will open it:
    # the scheduler's sweep opens it at once.
    moment = (now - MISSED_AFTER - timedelta(minutes=1)).astimezone(UTC).replace(second=0, microsecond=0)
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=TEAM_ID)
        for channel in CHANNELS:
            session.add(
                ElephantSchedule(
                    workspace_id=TEAM_ID,
                    channel_id=channel,
                    weekday=moment.weekday(),
                    time_of_day=moment.time(),
                    timezone="UTC",
                    open_minutes=2 * 24 * 60,
                    active=True,
                    effective_from=now - timedelta(hours=1),
                    created_at=now - timedelta(hours=1),
                )
            )


async def all_polls_sent(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        polls = await session.scalar(select(func.count()).select_from(ElephantPoll))
        sent = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.idempotency_key.endswith(":open"), OutboxMessage.status == SENT)
        )
    return polls == sent == len(CHANNELS)


def posts_received(fake_slack: FakeSlack) -> int:
    return len(fake_slack.calls_to("chat.postMessage"))


async def test_a_crash_mid_fan_out_neither_duplicates_nor_drops_a_poll(
    database_url: str, sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    await schedule_a_poll_due_now_in_every_channel(sessions)
    # Slack answers slowly: posts land, but the bot is killed before it hears back about many of them.
    fake_slack.set_delay("chat.postMessage", 0.3)

    with whoelse_serve(database_url, fake_slack, tmp_path / "first.log") as first:
        await eventually(lambda: posts_received(fake_slack) >= 5 or first.poll() is not None, within=60)
        assert first.poll() is None, (tmp_path / "first.log").read_text()
        first.send_signal(signal.SIGKILL)
        first.wait()
    landed_before_the_crash = posts_received(fake_slack)
    assert landed_before_the_crash < len(CHANNELS), "the kill should land in the middle of the fan-out"

    with whoelse_serve(database_url, fake_slack, tmp_path / "second.log") as second:

        async def resumed_and_done() -> bool:
            return second.poll() is None and await all_polls_sent(sessions)

        try:
            await eventually(resumed_and_done, within=90, interval=0.2)
        except AssertionError:
            raise AssertionError((tmp_path / "second.log").read_text()) from None

    assert fake_slack.duplicates_by_metadata_key() == {}
    assert {channel: len(fake_slack.messages(channel)) for channel in CHANNELS} == dict.fromkeys(CHANNELS, 1)

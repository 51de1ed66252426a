"""A weekly elephant poll due at the same minute in many channels: how long until every channel has it?

Seeds 2,000 channels across 20 workspaces (by default) with a weekly poll due at the next whole minute, starts
`whoelse serve` against a fake Slack that, like Slack, accepts one message per second per channel and answers 429
beyond that, and waits until every poll is posted. Prints the time to deliver all of them after the due minute,
posts lost (must be 0), duplicate posts (must be 0), 429s received, and whoelse's peak RSS, next to the ideal time
the rate limits allow. Run: `.venv/bin/python bench/fanout.py` (about three minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    BOT_TOKEN,
    PYTHON,
    SIGNING_SECRET,
    TEAM_ID,
    WEBHOOK_SECRET,
    free_port,
    peak_rss_mib,
    server,
)
from bot.cli import upgrade_database
from habits.elephant_schedule import WeeklyPlan, set_weekly
from models.db import create_engine_for, create_session_factory
from tests.fakes.slack_api import FakeSlack


def channel_ids(workspaces: int, channels: int) -> list[tuple[str, str]]:
    return [(f"T{w:04d}", f"C{w:03d}X{c:04d}") for w in range(workspaces) for c in range(channels)]


async def seed(database_url: str, targets: list[tuple[str, str]], due: datetime) -> None:
    engine = create_engine_for(database_url)
    sessions = create_session_factory(engine)
    plan = WeeklyPlan(weekday=due.weekday(), at=due.time(), timezone="UTC", open_for=timedelta(days=2))
    async with sessions() as session:
        for workspace_id, channel_id in targets:
            await set_weekly(
                session,
                workspace_id=workspace_id,
                channel_id=channel_id,
                plan=plan,
                now=due - timedelta(minutes=5),
            )
        await session.commit()
    await engine.dispose()


def poll_posts(fake: FakeSlack) -> dict[str, int]:
    """Poll-opening posts per channel (each channel should end with exactly one)."""
    per_channel: dict[str, int] = {}
    for message in fake.messages():
        key = ((message.get("metadata") or {}).get("event_payload") or {}).get("idempotency_key", "")
        if key.startswith("elephant:") and key.endswith(":open"):
            per_channel[message["channel"]] = per_channel.get(message["channel"], 0) + 1
    return per_channel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspaces", type=int, default=20)
    parser.add_argument("--channels", type=int, default=100, help="channels per workspace")
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds past due")
    parser.add_argument("--database-url", help="a fresh, empty database to use instead of a SQLite file")
    args = parser.parse_args()
    targets = channel_ids(args.workspaces, args.channels)

    with (
        tempfile.TemporaryDirectory() as scratch,
        FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM_ID, channel_rate_limit_per_second=1.0) as fake,
    ):
        workdir = Path(scratch)
        database = args.database_url or f"sqlite+aiosqlite:///{workdir / 'fanout.db'}"
        upgrade_database(database)
        now = datetime.now(UTC)
        # The next whole minute at least 45 s away leaves time to start the server before the polls are due.
        due = (now + timedelta(seconds=45 + 60)).replace(second=0, microsecond=0)
        asyncio.run(seed(database, targets, due))

        port = free_port()
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.base_url,
            "WHOELSE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": database,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
        }
        with server([PYTHON, "-m", "bot", "serve"], env=env, port=port, log=workdir / "whoelse.log") as process:
            print(f"{len(targets)} channels in {args.workspaces} workspaces; polls due at {due:%H:%M:%S} UTC")
            while datetime.now(UTC) < due:
                time.sleep(0.2)
            started = time.monotonic()
            deadline = started + args.timeout
            delivered_at = None
            while time.monotonic() < deadline:
                if len(poll_posts(fake)) >= len(targets):
                    delivered_at = time.monotonic()
                    break
                time.sleep(0.1)
            # Let anything still queued land, so late duplicates would be counted too.
            time.sleep(3)
            rss = peak_rss_mib(process.pid)
            log = (workdir / "whoelse.log").read_text()

        per_channel = poll_posts(fake)
        rate_limited = sum(1 for method, _ in fake.calls if method == "chat.postMessage") - len(fake.messages())
        lost = sum(1 for _, channel in targets if per_channel.get(channel, 0) == 0)
        duplicates = sum(count - 1 for count in per_channel.values() if count > 1)
        duplicates += sum(count - 1 for count in fake.duplicates_by_metadata_key().values())
        ideal = math.ceil(max(per_channel.values(), default=1) / 1.0)

    took = f"{delivered_at - started:.1f} s" if delivered_at else f"not all within {args.timeout:g} s"
    print(f"time to deliver all:        {took} after the due minute")
    print(f"ideal time (1 msg/s/channel, one poll per channel): {ideal:.1f} s")
    print(f"posts lost:                 {lost} (must be 0)")
    print(f"duplicate posts:            {duplicates} (must be 0)")
    print(f"429 answers honoured:       {rate_limited}")
    print(f"peak RSS of whoelse:        {rss:.1f} MiB")
    if "Traceback" in log:
        print("whoelse logged errors; see its log:\n" + log[-3000:])


if __name__ == "__main__":
    main()

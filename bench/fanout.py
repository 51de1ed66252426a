"""A weekly elephant poll due at the same minute in many channels: how long until every channel has it?

Seeds 2,000 channels across 20 workspaces (by default) with a weekly poll due at the next whole minute, starts
`whoelse serve` against a fake Slack that, like Slack, accepts one message per second per channel and answers 429
beyond that, and waits until every poll is posted. Prints the time to deliver all of them after the due minute,
posts lost (must be 0), duplicate posts (must be 0), 429s received, and whoelse's peak RSS, next to the ideal time
the rate limits allow. Run: `.venv/bin/python bench/fanout.py` (about three minutes).

`--platform teams` does the same for Teams: 500 channel conversations across 5 tenants (by default) whose
conversation references whoelse already holds, delivered proactively to a fake Bot Connector that throttles as
Microsoft documents (7 sends per second per conversation, 50 requests per second per app per tenant, here applied
to the whole bot because the fake cannot tell tenants apart).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from habits.elephants.schedule import WeeklyPlan, set_weekly
from models.db import create_engine_for, create_session_factory
from models.teams import CHANNEL, remember_conversation
from models.workspaces import get_or_create_workspace
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.fakes.slack_api import FakeSlack

TEAMS_APP_ID = "8e3a0d43-61f6-4a5c-9a3e-2c0b6a1f7d21"
# Microsoft's documented throttling: per bot per conversation, and per app per tenant.
TEAMS_CONVERSATION_LIMIT = 7.0
TEAMS_BOT_LIMIT = 50.0


def channel_ids(workspaces: int, channels: int) -> list[tuple[str, str]]:
    return [(f"T{w:04d}", f"C{w:03d}X{c:04d}") for w in range(workspaces) for c in range(channels)]


def teams_conversation_ids(tenants: int, channels: int) -> list[tuple[str, str]]:
    return [
        (f"00000000-0000-4000-8000-{t:012d}", f"19:t{t}c{c:04d}@thread.tacv2")
        for t in range(tenants)
        for c in range(channels)
    ]


async def seed(
    database_url: str, targets: list[tuple[str, str]], due: datetime, *, service_url: str | None = None
) -> None:
    """Weekly polls due at `due`; with a `service_url`, in Teams tenants whose channels whoelse was added to."""
    engine = create_engine_for(database_url)
    sessions = create_session_factory(engine)
    plan = WeeklyPlan(weekday=due.weekday(), at=due.time(), timezone="UTC", open_for=timedelta(days=2))
    async with sessions() as session:
        for workspace_id, channel_id in targets:
            if service_url is not None:
                await get_or_create_workspace(session, workspace_id=workspace_id, platform="teams")
                await remember_conversation(
                    session,
                    workspace_id=workspace_id,
                    conversation_id=channel_id,
                    service_url=service_url,
                    conversation_type=CHANNEL,
                    team_id=f"19:team-{workspace_id}@thread.tacv2",
                )
            await set_weekly(
                session,
                workspace_id=workspace_id,
                channel_id=channel_id,
                plan=plan,
                now=due - timedelta(minutes=5),
                set_by="UBENCH",
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


def teams_poll_posts(connector: FakeBotConnector, channels: set[str]) -> dict[str, int]:
    """Posts to each channel itself (not a reply in a thread): the poll opening is the only one whoelse makes."""
    per_channel: dict[str, int] = {}
    for sent in connector.activities():
        if sent.method == "POST" and sent.conversation_id in channels:
            per_channel[sent.conversation_id] = per_channel.get(sent.conversation_id, 0) + 1
    return per_channel


@dataclass
class Outcome:
    delivered_after: float | None
    per_channel: dict[str, int]
    lost: int
    duplicates: int
    rate_limited: int
    ideal_seconds: float
    ideal_words: str
    rss: float
    log: str


def wait_for_delivery(
    env: dict[str, str], workdir: Path, due: datetime, timeout: float, delivered: Callable[[], int], expected: int
) -> tuple[float | None, float, str]:
    """Serves whoelse until every poll is out (or the timeout): seconds after the due minute, peak RSS, the log."""
    port = free_port()
    env = {**env, "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    with server([PYTHON, "-m", "bot", "serve"], env=env, port=port, log=workdir / "whoelse.log") as process:
        while datetime.now(UTC) < due:
            time.sleep(0.2)
        started = time.monotonic()
        deadline = started + timeout
        delivered_at = None
        while time.monotonic() < deadline:
            if delivered() >= expected:
                delivered_at = time.monotonic()
                break
            time.sleep(0.1)
        # Let anything still queued land, so late duplicates would be counted too.
        time.sleep(3)
        rss = peak_rss_mib(process.pid)
    log = (workdir / "whoelse.log").read_text()
    return (delivered_at - started if delivered_at else None), rss, log


def next_due_minute() -> datetime:
    # The next whole minute at least 45 s away leaves time to start the server before the polls are due.
    return (datetime.now(UTC) + timedelta(seconds=45 + 60)).replace(second=0, microsecond=0)


def run_slack(args: argparse.Namespace, workdir: Path, database: str) -> Outcome:
    targets = channel_ids(args.workspaces, args.channels)
    with FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM_ID, channel_rate_limit_per_second=1.0) as fake:
        due = next_due_minute()
        asyncio.run(seed(database, targets, due))
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.base_url,
            "WHOELSE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": database,
        }
        print(f"{len(targets)} channels in {args.workspaces} workspaces; polls due at {due:%H:%M:%S} UTC")
        took, rss, log = wait_for_delivery(
            env, workdir, due, args.timeout, lambda: len(poll_posts(fake)), len(targets)
        )
        per_channel = poll_posts(fake)
        rate_limited = sum(1 for method, _ in fake.calls if method == "chat.postMessage") - len(fake.messages())
        duplicates = sum(count - 1 for count in per_channel.values() if count > 1)
        duplicates += sum(count - 1 for count in fake.duplicates_by_metadata_key().values())
    lost = sum(1 for _, channel in targets if per_channel.get(channel, 0) == 0)
    ideal = math.ceil(max(per_channel.values(), default=1) / 1.0)
    return Outcome(
        took, per_channel, lost, duplicates, rate_limited, ideal, "1 msg/s/channel, one poll per channel", rss, log
    )


def run_teams(args: argparse.Namespace, workdir: Path, database: str) -> Outcome:
    targets = teams_conversation_ids(args.workspaces, args.channels)
    channels = {channel for _, channel in targets}
    connector = FakeBotConnector(
        app_id=TEAMS_APP_ID,
        conversation_limit_per_second=TEAMS_CONVERSATION_LIMIT,
        bot_limit_per_second=TEAMS_BOT_LIMIT,
    )
    connector.start()
    try:
        with FakeMicrosoftLogin() as login:
            due = next_due_minute()
            asyncio.run(seed(database, targets, due, service_url=connector.service_url))
            env = {
                "TEAMS_APP_ID": TEAMS_APP_ID,
                "TEAMS_APP_PASSWORD": connector.app_password,
                "TEAMS_OPENID_METADATA_URL": login.metadata_url,
                "TEAMS_TOKEN_URL": connector.token_url,
                "DATABASE_URL": database,
            }
            print(
                f"{len(targets)} Teams channel conversations in {args.workspaces} tenants; polls due at {due:%H:%M:%S} UTC"
            )
            took, rss, log = wait_for_delivery(
                env, workdir, due, args.timeout, lambda: len(teams_poll_posts(connector, channels)), len(targets)
            )
        per_channel = teams_poll_posts(connector, channels)
    finally:
        connector.stop()
    lost = sum(1 for channel in channels if per_channel.get(channel, 0) == 0)
    duplicates = sum(count - 1 for count in per_channel.values() if count > 1)
    # Every request counts against the bot-wide limit, so the polls cannot all be out sooner than this.
    ideal = max(len(targets) / TEAMS_BOT_LIMIT, max(per_channel.values(), default=1) / TEAMS_CONVERSATION_LIMIT)
    words = f"{TEAMS_BOT_LIMIT:g} req/s bot-wide, {TEAMS_CONVERSATION_LIMIT:g}/s per conversation"
    return Outcome(took, per_channel, lost, duplicates, connector.throttled, ideal, words, rss, log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--platform", choices=["slack", "teams"], default="slack")
    parser.add_argument(
        "--workspaces", type=int, help="workspaces (Teams tenants); default 20 on Slack, 5 on Teams"
    )
    parser.add_argument("--channels", type=int, default=100, help="channels per workspace")
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds past due")
    parser.add_argument("--database-url", help="a fresh, empty database to use instead of a SQLite file")
    parser.add_argument("--log-file", type=Path, help="keep whoelse's log here")
    args = parser.parse_args()
    if args.workspaces is None:
        args.workspaces = 5 if args.platform == "teams" else 20

    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        database = args.database_url or f"sqlite+aiosqlite:///{workdir / 'fanout.db'}"
        upgrade_database(database)
        run = run_teams if args.platform == "teams" else run_slack
        outcome = run(args, workdir, database)
        if args.log_file:
            args.log_file.write_text(outcome.log)

    took = (
        f"{outcome.delivered_after:.1f} s"
        if outcome.delivered_after is not None
        else f"not all within {args.timeout:g} s"
    )
    print(f"time to deliver all:        {took} after the due minute")
    print(f"ideal time ({outcome.ideal_words}): {outcome.ideal_seconds:.1f} s")
    print(f"posts lost:                 {outcome.lost} (must be 0)")
    print(f"duplicate posts:            {outcome.duplicates} (must be 0)")
    print(f"429 answers honoured:       {outcome.rate_limited}")
    print(f"peak RSS of whoelse:        {outcome.rss:.1f} MiB")
    if "Traceback" in outcome.log:
        print("whoelse logged errors; see its log:\n" + outcome.log[-3000:])


if __name__ == "__main__":
    main()

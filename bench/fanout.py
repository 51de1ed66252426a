"""A weekly elephant poll due at the same minute in many channels: how long until every channel has it?

Seeds 2,000 channels across 20 workspaces (by default) with a weekly poll due at the next whole minute, starts
`whoelse serve` with one bot token against a fake Slack that, like Slack, accepts one message per second per channel
and a few hundred a minute per workspace (answering 429 beyond that), and waits until every poll is posted. Prints
the time to deliver all of them after the due minute, posts lost (must be 0), duplicate posts (must be 0), 429s
received, and whoelse's peak RSS, next to the ideal time the rate limits allow. Run: `.venv/bin/python
bench/fanout.py` (about five minutes).

`--installed 1000` first does the same with whoelse installed in 1,000 Slack workspaces (2 channels each by default):
each installation saved through the installation store (its token sealed with a fresh WHOELSE_ENCRYPTION_KEYS key),
`whoelse serve` serving many workspaces, and a fake Slack that knows every workspace's token and refuses a post to a
channel with another workspace's token. It then runs the single-token baseline above in the same invocation and
prints both side by side, with ratios, and posts made with the wrong workspace's token (must be 0).

`--platform teams` does the same for Teams: 500 channel conversations across 5 tenants (by default) whose
conversation references whoelse already holds, delivered proactively to a fake Bot Connector that throttles as
Microsoft documents (7 sends per second per conversation, 50 requests per second per app per tenant, here applied
to the whole bot because the fake cannot tell tenants apart).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_sdk.oauth.installation_store import Bot
from sqlalchemy import func, select

from bench.harness import (
    BOT_TOKEN,
    PUBLIC_BASE_URL,
    PYTHON,
    SIGNING_SECRET,
    TEAM_ID,
    WEBHOOK_SECRET,
    free_port,
    peak_rss_mib,
    server,
)
from bot.cli import upgrade_database
from bot.secret_box import SecretBox, generate_key
from bot.slack.oauth.installation_store import SqlInstallationStore
from habits.elephants.schedule import WeeklyPlan, set_weekly
from models.db import create_engine_for, create_session_factory
from models.outbox import OutboxMessage
from models.teams import CHANNEL, remember_conversation
from models.workspaces import get_or_create_workspace
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.fakes.slack_api import FakeSlack

TEAMS_APP_ID = "8e3a0d43-61f6-4a5c-9a3e-2c0b6a1f7d21"
# Microsoft's documented throttling: per bot per conversation, and per app per tenant.
TEAMS_CONVERSATION_LIMIT = 7.0
TEAMS_BOT_LIMIT = 50.0
# Slack's documented limits for chat.postMessage: about one message per second per channel, and a workspace-wide
# cap of "several hundred messages per minute", with generous bursts (here: a minute's worth at once).
SLACK_CHANNEL_LIMIT = 1.0
SLACK_WORKSPACE_POSTS_PER_MINUTE = 600


def channel_ids(workspaces: int, channels: int) -> list[tuple[str, str]]:
    return [(f"T{w:04d}", f"C{w:03d}X{c:04d}") for w in range(workspaces) for c in range(channels)]


def installed_channel_ids(workspaces: int, channels: int) -> list[tuple[str, str]]:
    return [(f"TI{w:05d}", f"CI{w:05d}X{c:02d}") for w in range(workspaces) for c in range(channels)]


def installed_token(workspace_id: str) -> str:
    return f"xoxb-{workspace_id}-bench"


async def seed_installations(database_url: str, key: str, workspace_ids: list[str]) -> None:
    """Installs whoelse in each workspace as the install flow would store it: through the installation store, the
    workspace's own bot token sealed."""
    engine = create_engine_for(database_url)
    store = SqlInstallationStore(create_session_factory(engine), SecretBox([key]))
    for workspace_id in workspace_ids:
        await store.async_save_bot(
            Bot(
                app_id="AWHOELSE",
                team_id=workspace_id,
                team_name=f"Team {workspace_id}",
                bot_token=installed_token(workspace_id),
                bot_id="BBOT",
                bot_user_id="UBOT",
                bot_scopes="commands,chat:write",
                installed_at=time.time(),
            ),
            installer_user_id="UBENCH",
        )
    await engine.dispose()


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
    for channel, key, _team in fake.posted_keys():
        if key is not None and key.startswith("elephant:") and key.endswith(":open"):
            per_channel[channel] = per_channel.get(channel, 0) + 1
    return per_channel


def slack_ideal_seconds(posts: list[tuple[str, str]]) -> float:
    """The soonest the fake's limits let these (Slack workspace, channel) posts all land, the burst spent first."""
    per_channel = Counter(channel for _, channel in posts)
    per_workspace = Counter(workspace for workspace, _ in posts)
    channel_bound = (max(per_channel.values(), default=1) - 1) / SLACK_CHANNEL_LIMIT
    burst = SLACK_WORKSPACE_POSTS_PER_MINUTE
    workspace_bound = max(0, max(per_workspace.values(), default=0) - burst) / (
        SLACK_WORKSPACE_POSTS_PER_MINUTE / 60
    )
    return max(channel_bound, workspace_bound)


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
    wrong_token: int
    # When the scheduler had queued the last opening (seconds after the due minute): the rest is delivery.
    queued_after: float | None
    other_calls: dict[str, int]
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


def slack_limited() -> FakeSlack:
    return FakeSlack(
        bot_token=BOT_TOKEN,
        team_id=TEAM_ID,
        channel_rate_limit_per_second=SLACK_CHANNEL_LIMIT,
        workspace_posts_per_minute=SLACK_WORKSPACE_POSTS_PER_MINUTE,
    )


SLACK_LIMITS_IN_WORDS = f"{SLACK_CHANNEL_LIMIT:g} msg/s/channel, {SLACK_WORKSPACE_POSTS_PER_MINUTE}/min/workspace after a burst of as many"


def run_slack(args: argparse.Namespace, workdir: Path, database: str) -> Outcome:
    """whoelse with one bot token: every channel, whichever workspace it was seeded in, is in that token's workspace."""
    targets = channel_ids(args.workspaces, args.channels)
    with slack_limited() as fake:
        due = next_due_minute()
        asyncio.run(seed(database, targets, due))
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.base_url,
            "WHOELSE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": database,
        }
        print(
            f"one bot token: {len(targets)} channels in {args.workspaces} workspaces; polls due at {due:%H:%M:%S} UTC",
            flush=True,
        )
        took, rss, log = wait_for_delivery(
            env, workdir, due, args.timeout, lambda: len(poll_posts(fake)), len(targets)
        )
        queued = asyncio.run(last_opening_queued(database, due))
        return slack_outcome(fake, [(TEAM_ID, channel) for _, channel in targets], took, rss, log, queued)


def run_installed(args: argparse.Namespace, workdir: Path, database: str) -> Outcome:
    """whoelse installed in many Slack workspaces, each channel in its own workspace, posted to with its token."""
    targets = installed_channel_ids(args.installed, args.installed_channels)
    workspace_ids = sorted({workspace for workspace, _ in targets})
    key = generate_key()
    with slack_limited() as fake:
        for workspace_id in workspace_ids:
            channels = [channel for workspace, channel in targets if workspace == workspace_id]
            fake.add_workspace(workspace_id, token=installed_token(workspace_id), channels=channels)
        started = time.monotonic()
        asyncio.run(seed_installations(database, key, workspace_ids))
        print(f"{len(workspace_ids)} installations saved in {time.monotonic() - started:.1f} s", flush=True)
        due = next_due_minute()
        asyncio.run(seed(database, targets, due))
        env = {
            "SLACK_CLIENT_ID": fake.client_id,
            "SLACK_CLIENT_SECRET": fake.client_secret,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.base_url,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "WHOELSE_ENCRYPTION_KEYS": key,
            "WHOELSE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": database,
        }
        print(
            f"installed in {len(workspace_ids)} workspaces: {len(targets)} channels; polls due at {due:%H:%M:%S} UTC",
            flush=True,
        )
        took, rss, log = wait_for_delivery(
            env, workdir, due, args.timeout, lambda: len(poll_posts(fake)), len(targets)
        )
        queued = asyncio.run(last_opening_queued(database, due))
        return slack_outcome(fake, targets, took, rss, log, queued)


async def last_opening_queued(database_url: str, due: datetime) -> float | None:
    engine = create_engine_for(database_url)
    async with create_session_factory(engine)() as session:
        last = await session.scalar(
            select(func.max(OutboxMessage.created_at)).where(OutboxMessage.idempotency_key.like("elephant:%:open"))
        )
    await engine.dispose()
    return None if last is None else (last.replace(tzinfo=UTC) - due).total_seconds()


def slack_outcome(
    fake: FakeSlack,
    targets: list[tuple[str, str]],
    took: float | None,
    rss: float,
    log: str,
    queued_after: float | None,
) -> Outcome:
    """What the fake saw, against `targets`: the (Slack workspace, channel) pairs that should each get one poll."""
    per_channel = poll_posts(fake)
    duplicates = sum(count - 1 for count in per_channel.values() if count > 1)
    duplicates += sum(count - 1 for count in fake.duplicates_by_metadata_key().values())
    workspace_of = dict((channel, workspace) for workspace, channel in targets)
    # Refused by the fake (another workspace's channel), or stored with a token that is not the channel's workspace's.
    wrong_token = len(fake.foreign_token_posts) + sum(
        1 for channel, _, team in fake.posted_keys() if channel in workspace_of and team != workspace_of[channel]
    )
    other_calls = Counter(call.method for call in fake.calls if call.method != "chat.postMessage")
    lost = sum(1 for _, channel in targets if per_channel.get(channel, 0) == 0)
    return Outcome(
        took,
        per_channel,
        lost,
        duplicates,
        fake.rate_limited("chat.postMessage"),
        wrong_token,
        queued_after,
        dict(other_calls),
        slack_ideal_seconds(targets),
        SLACK_LIMITS_IN_WORDS,
        rss,
        log,
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
        queued = asyncio.run(last_opening_queued(database, due))
    finally:
        connector.stop()
    lost = sum(1 for channel in channels if per_channel.get(channel, 0) == 0)
    duplicates = sum(count - 1 for count in per_channel.values() if count > 1)
    # Every request counts against the bot-wide limit, so the polls cannot all be out sooner than this.
    ideal = max(len(targets) / TEAMS_BOT_LIMIT, max(per_channel.values(), default=1) / TEAMS_CONVERSATION_LIMIT)
    words = f"{TEAMS_BOT_LIMIT:g} req/s bot-wide, {TEAMS_CONVERSATION_LIMIT:g}/s per conversation"
    return Outcome(took, per_channel, lost, duplicates, connector.throttled, 0, queued, {}, ideal, words, rss, log)


def logged_errors(log: str) -> list[str]:
    """Errors whoelse logged, but not a job cut short because the benchmark stopped the server."""
    return [
        line
        for line in log.splitlines()
        if ("Traceback" in line or '"level": "error"' in line) and "CancelledError" not in line
    ]


def took_words(outcome: Outcome, timeout: float) -> str:
    if outcome.delivered_after is None:
        return f"not all within {timeout:g} s"
    return f"{outcome.delivered_after:.1f} s"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def ratio(installed: float | None, baseline: float | None) -> str:
    if installed is None or baseline is None or baseline == 0:
        return "-"
    return f"{installed / baseline:.2f}x"


def print_comparison(args: argparse.Namespace, installed: Outcome, baseline: Outcome) -> None:
    """Both Slack runs side by side: many installations against the one-token baseline."""
    print(f"limits: {installed.ideal_words}")
    rows = [
        ("", f"installed in {args.installed}", "one bot token", "ratio"),
        ("channels", str(len(installed.per_channel)), str(len(baseline.per_channel)), ""),
        (
            "time to deliver all after due",
            took_words(installed, args.timeout),
            took_words(baseline, args.timeout),
            ratio(installed.delivered_after, baseline.delivered_after),
        ),
        (
            "last poll queued by the scheduler",
            seconds(installed.queued_after),
            seconds(baseline.queued_after),
            ratio(installed.queued_after, baseline.queued_after),
        ),
        (
            "ideal the limits allow",
            f"{installed.ideal_seconds:.1f} s",
            f"{baseline.ideal_seconds:.1f} s",
            ratio(installed.ideal_seconds, baseline.ideal_seconds),
        ),
        ("posts lost (must be 0)", str(installed.lost), str(baseline.lost), ""),
        ("duplicated (must be 0)", str(installed.duplicates), str(baseline.duplicates), ""),
        ("wrong workspace's token (must be 0)", str(installed.wrong_token), str(baseline.wrong_token), ""),
        (
            "429s received",
            str(installed.rate_limited),
            str(baseline.rate_limited),
            ratio(installed.rate_limited, baseline.rate_limited),
        ),
        (
            "peak RSS of whoelse",
            f"{installed.rss:.1f} MiB",
            f"{baseline.rss:.1f} MiB",
            ratio(installed.rss, baseline.rss),
        ),
    ]
    for name, left, right, both in rows:
        print(f"{name:<38}{left:>22}{right:>22}{both:>10}")
    per_workspace = (installed.rss - baseline.rss) / args.installed * 1024
    print(f"memory beyond the baseline per installed workspace: {per_workspace:.0f} KiB")
    for label, outcome in (("installed", installed), ("one token", baseline)):
        calls = ", ".join(f"{method} {count}" for method, count in sorted(outcome.other_calls.items())) or "none"
        print(f"Slack calls besides chat.postMessage ({label}): {calls}")
        errors = logged_errors(outcome.log)
        if errors:
            print(f"whoelse ({label}) logged {len(errors)} errors; the last:\n" + errors[-1][:3000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--platform", choices=["slack", "teams"], default="slack")
    parser.add_argument(
        "--workspaces", type=int, help="workspaces (Teams tenants); default 20 on Slack, 5 on Teams"
    )
    parser.add_argument("--channels", type=int, default=100, help="channels per workspace")
    parser.add_argument(
        "--installed",
        type=int,
        help="first run with whoelse installed in this many Slack workspaces, then the one-token baseline",
    )
    parser.add_argument(
        "--installed-channels", type=int, default=2, help="channels per installed workspace (with --installed)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds past due")
    parser.add_argument("--database-url", help="a fresh, empty database to use instead of a SQLite file")
    parser.add_argument("--log-file", type=Path, help="keep whoelse's log here")
    args = parser.parse_args()
    if args.workspaces is None:
        args.workspaces = 5 if args.platform == "teams" else 20
    if args.installed is not None:
        if args.platform != "slack" or args.database_url:
            parser.error(
                "--installed runs on Slack, on SQLite files of its own (no --platform teams, --database-url)"
            )
        compare_installed(args)
        return

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
    print(f"last poll queued:           {seconds(outcome.queued_after)} after the due minute")
    if args.platform == "slack":
        print(f"posts with wrong token:     {outcome.wrong_token} (must be 0)")
    print(f"ideal time ({outcome.ideal_words}): {outcome.ideal_seconds:.1f} s")
    print(f"posts lost:                 {outcome.lost} (must be 0)")
    print(f"duplicate posts:            {outcome.duplicates} (must be 0)")
    print(f"429 answers honoured:       {outcome.rate_limited}")
    print(f"peak RSS of whoelse:        {outcome.rss:.1f} MiB")
    if logged_errors(outcome.log):
        print("whoelse logged errors; see its log:\n" + outcome.log[-3000:])


def compare_installed(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        outcomes = []
        for name, run in (("installed", run_installed), ("baseline", run_slack)):
            database = f"sqlite+aiosqlite:///{workdir / f'{name}.db'}"
            upgrade_database(database)
            outcomes.append(run(args, workdir, database))
            if args.log_file:
                args.log_file.with_suffix(f".{name}.log").write_text(outcomes[-1].log)
    print_comparison(args, *outcomes)


if __name__ == "__main__":
    main()

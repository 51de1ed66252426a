"""One elephant-poll reminder pass over many open polls with nothing to remind: how long it takes, and how many Slack
requests it makes.

Seeds whoelse with one open poll in each of N workspaces (1,000 by default), on SQLite; each poll's channel has two
people (in UTC) and the bot. Runs the reminder pass (`remind_open_polls`, what the scheduler runs every ten minutes)
against a fake Slack in the same process that records every request, at two moments:

- outside the polls' reminder window: an hour after they opened;
- inside it, once every member has been reminded and the reminders sent: the pass after the one that reminded
  them (once), and the passes after that.

Each pass is timed three times (the median is printed; the pass after the reminders once) next to a bare baseline measured in the same run on the same
database: one SELECT of every open poll's id, the least a pass that looks at each poll must read. Prints seconds,
the ratio to the baseline, and the Slack requests per pass. Run: `.venv/bin/python bench/reminders.py` (about a
minute). For the figures before a change, run this same file in a checkout of the commit before it: it uses only
what both have.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench.harness import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, WEBHOOK_SECRET
from bot.app import create_app
from bot.cli import upgrade_database
from bot.context import AppContext
from bot.settings import Settings
from habits.elephants.polls import start_poll_now
from models.db import create_engine_for, create_session_factory, session_scope
from models.elephants import CLOSED, ElephantPoll
from models.outbox import SENT, OutboxMessage
from scheduler.elephant_jobs import remind_open_polls
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

# A Monday 10:00 UTC: the polls are open for two days, so reminders may go from 22:00 until Wednesday 04:00.
OPENED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
OPEN_FOR = timedelta(days=2)
# Tuesday 10:00 UTC: working hours for everyone in the channels.
REMINDING = OPENED + timedelta(days=1)
ROUNDS = 3
PEOPLE_READS = ("conversations.members", "users.info")


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def targets(workspaces: int) -> list[tuple[str, str, list[str]]]:
    """(workspace, channel, people) of each poll."""
    return [(f"TR{w:05d}", f"CR{w:05d}", [f"UR{w:05d}A", f"UR{w:05d}B"]) for w in range(workspaces)]


async def seed(database_url: str, polls: list[tuple[str, str, list[str]]]) -> None:
    """One open poll per workspace, its opening post marked sent (it is not what is measured)."""
    engine = create_engine_for(database_url)
    sessions = create_session_factory(engine)
    async with session_scope(sessions) as session:
        for workspace_id, channel_id, _people in polls:
            outcome, _poll = await start_poll_now(
                session,
                workspace_id=workspace_id,
                channel_id=channel_id,
                now=OPENED,
                started_by="UBENCH",
                open_for=OPEN_FOR,
            )
            assert outcome == "started", outcome
        for row in await session.scalars(select(OutboxMessage)):
            row.status = SENT
    await engine.dispose()


async def bare_pass(context: AppContext) -> None:
    async with context.sessions() as session:
        await session.scalars(select(ElephantPoll.id).where(ElephantPoll.phase != CLOSED))


async def timed(action: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def measure(
    context: AppContext, fake: FakeSlack, label: str, rounds: int = ROUNDS
) -> dict[str, float | int | str]:
    """The median of `rounds` timed passes at the context's clock, the bare baseline's alongside, alternating."""
    job: list[float] = []
    bare: list[float] = []
    before = Counter(call.method for call in fake.calls)
    for _ in range(rounds):
        bare.append(await timed(lambda: bare_pass(context)))
        job.append(await timed(lambda: remind_open_polls(context)))
    after = Counter(call.method for call in fake.calls)
    requests = {method: (after[method] - before[method]) / rounds for method in after}
    return {
        "moment": label,
        "job": statistics.median(job),
        "bare": statistics.median(bare),
        "requests": sum(requests.values()),
        "people": sum(requests.get(method, 0) for method in PEOPLE_READS),
    }


async def all_sent(context: AppContext, reminders: int, within: float = 300) -> None:
    """Waits until the delivery worker has sent every reminder (it may still be sending when a drain finds none due)."""
    deadline = time.monotonic() + within
    while True:
        async with context.sessions() as session:
            sent = await session.scalar(select(func.count()).where(OutboxMessage.status == SENT)) or 0
            unsent = await session.scalar(select(func.count()).where(OutboxMessage.status != SENT)) or 0
        if unsent == 0 and sent >= reminders:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sent} messages sent and {unsent} not, expected {reminders} reminders")
        await context.delivery.drain()
        await asyncio.sleep(0.1)


def show(row: dict[str, float | int | str]) -> None:
    job, bare = float(row["job"]), float(row["bare"])
    print(
        f"{row['moment']!s:<40} {job:>9.4f} {bare:>9.4f} {job / bare:>7.1f}x "
        f"{float(row['requests']):>9.0f} {float(row['people']):>7.0f}",
        flush=True,
    )


async def run(args: argparse.Namespace, workdir: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{workdir / 'reminders.db'}"
    upgrade_database(database_url)
    polls = targets(args.workspaces)
    await seed(database_url, polls)

    fake = FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM_ID)
    fake.start()
    try:
        for _workspace, channel, people in polls:
            for person in people:
                fake.add_user(person, tz="UTC")
            fake.add_channel(channel, members=[*people, BOT_USER_ID])
        settings = Settings(
            _env_file=None,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake.base_url,
            database_url=database_url,
            whoelse_webhook_secret=WEBHOOK_SECRET,
            delivery_poll_seconds=0.05,
        )
        clock = Clock(OPENED + timedelta(hours=1))
        app = create_app(settings, clock=clock, job_sources=[])
        async with app.router.lifespan_context(app):
            context: AppContext = app.state.context
            show(await measure(context, fake, "outside the reminder window"))

            clock.moment = REMINDING
            await remind_open_polls(context)
            await all_sent(context, 2 * args.workspaces)
            clock.moment = REMINDING + timedelta(minutes=10)
            show(await measure(context, fake, "everyone reminded, the pass after", rounds=1))
            clock.moment = REMINDING + timedelta(minutes=20)
            show(await measure(context, fake, "everyone reminded, later passes"))
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspaces", type=int, default=1000, help="workspaces, each with one open poll")
    args = parser.parse_args()
    print(f"{args.workspaces} open polls in {args.workspaces} workspaces, SQLite; median of {ROUNDS} passes each")
    print("(the pass after the reminders: one pass; requests and people reads are per pass)")
    print(f"{'moment':<40} {'pass s':>9} {'bare s':>9} {'ratio':>8} {'requests':>9} {'people':>7}", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()

"""How fast whoelse takes in events, next to a bare FastAPI + Bolt app measured in the same run.

Sends signed webhooks and Slack message events (bot posts in a watched channel) at rising open-loop rates, then
as fast as a fixed number of concurrent senders can, and prints acknowledgement latency percentiles, throughput
and peak RSS for both apps with the whoelse/bare ratio. Run: `.venv/bin/python bench/ingest.py` (about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    BOT_TOKEN,
    PYTHON,
    SIGNING_SECRET,
    TEAM_ID,
    WEBHOOK_SECRET,
    cpu_seconds,
    fake_slack,
    free_port,
    peak_rss_mib,
    percentile,
    server,
)

WATCHED_CHANNEL = "CDEALS"
_sequence = itertools.count()


def _slack_signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = (
        "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    )
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def webhook_request() -> tuple[str, bytes, dict[str, str]]:
    n = next(_sequence)
    body = json.dumps(
        {
            "id": f"evt-{n}",
            "type": "deal",
            "event": "stage_changed" if n % 2 else "created",
            "title": f"Deal {n}",
            "url": f"https://crm.example.com/deals/{n}",
            "account": f"Account {n % 50}",
            "stage": "Negotiation",
            "owner": "U0OWNER",
        }
    ).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Whoelse-Timestamp": str(int(time.time())),
        "X-Whoelse-Signature": f"sha256={digest}",
    }
    return "/webhooks/generic", body, headers


def slack_message_request() -> tuple[str, bytes, dict[str, str]]:
    n = next(_sequence)
    ts = f"{1_700_000_000 + n}.000100"
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": TEAM_ID,
            "api_app_id": "A1",
            "event_id": f"Ev{n}",
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "subtype": "bot_message",
                "bot_id": "BCRM",
                "channel": WATCHED_CHANNEL,
                "ts": ts,
                "text": f"Deal stage changed to Negotiation: Deal {n} https://crm.example.com/d/{n}",
            },
        }
    ).encode()
    return "/slack/events", body, _slack_signed(body)


MIX = {
    "both": (webhook_request, slack_message_request),
    "webhooks": (webhook_request,),
    "slack": (slack_message_request,),
}
_chosen_mix = MIX["both"]


def next_request(n: int) -> tuple[str, bytes, dict[str, str]]:
    return _chosen_mix[n % len(_chosen_mix)]()


@dataclass
class Step:
    label: str
    sent: int
    ok: int
    seconds: float
    latencies_ms: list[float]
    # The server's CPU time (every thread) spent during the step: steadier than throughput on a shared machine.
    cpu_seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.ok if self.ok else float("nan")


async def _send(session: aiohttp.ClientSession, base: str, n: int) -> tuple[bool, float]:
    path, body, headers = next_request(n)
    started = time.perf_counter()
    async with session.post(base + path, data=body, headers=headers) as response:
        await response.read()
        return response.status < 300, (time.perf_counter() - started) * 1000


async def open_loop(base: str, rate: float, seconds: float) -> Step:
    """Sends on a fixed schedule whatever the server does, so a slow server shows up as latency."""
    latencies: list[float] = []
    ok = 0
    count = int(rate * seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        start = time.perf_counter()

        async def one(i: int) -> None:
            nonlocal ok
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            scheduled = due
            success, _ = await _send(session, base, i)
            latencies.append((time.perf_counter() - scheduled) * 1000)
            ok += success

        await asyncio.gather(*(one(i) for i in range(count)))
        elapsed = time.perf_counter() - start
    return Step(f"{rate:g}/s", count, ok, elapsed, latencies)


async def closed_loop(base: str, concurrency: int, seconds: float) -> Step:
    latencies: list[float] = []
    ok = sent = 0
    counter = itertools.count()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        start = time.perf_counter()
        deadline = start + seconds

        async def sender() -> None:
            nonlocal ok, sent
            while time.perf_counter() < deadline:
                success, latency = await _send(session, base, next(counter))
                sent += 1
                ok += success
                latencies.append(latency)

        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return Step(f"max ({concurrency} senders)", sent, ok, elapsed, latencies)


def prepare_whoelse_database(url: str) -> None:
    """Migrates a fresh database and watches one channel for deals, as `/whoelse watch deals` would."""
    import subprocess

    env = {"DATABASE_URL": url, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    script = (
        "import asyncio\n"
        "from bot.cli import upgrade_database\n"
        "from models.db import create_engine_for, create_session_factory\n"
        "from models.watches import watch_channel\n"
        "from models.workspaces import get_or_create_workspace\n"
        f"url = {url!r}\n"
        "upgrade_database(url)\n"
        "async def main():\n"
        "    engine = create_engine_for(url)\n"
        "    async with create_session_factory(engine)() as s:\n"
        f"        w = await get_or_create_workspace(s, workspace_id={TEAM_ID!r})\n"
        "        w.quiet_start = None; w.quiet_end = None\n"
        f"        await watch_channel(s, workspace_id={TEAM_ID!r}, channel_id={WATCHED_CHANNEL!r}, kind='deals', user_id='U0ADMIN')\n"
        "        await s.commit()\n"
        "    await engine.dispose()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([PYTHON, "-c", script], check=True, env={**__import__("os").environ, **env})


async def measure(base: str, pid: int, rates: list[float], step_seconds: float, concurrency: int) -> list[Step]:
    steps: list[Step] = []
    for rate in [*rates, None]:
        before = cpu_seconds(pid)
        if rate is None:
            step = await closed_loop(base, concurrency, step_seconds)
        else:
            step = await open_loop(base, rate, step_seconds)
        step.cpu_seconds = cpu_seconds(pid) - before
        steps.append(step)
    return steps


@dataclass
class Stored:
    """Whether every acknowledged event made it into whoelse's database, and how long after the last request."""

    expected: int
    stored: int
    seconds_after_last_request: float


def count_stored_events(database_url: str) -> int:
    from sqlalchemy import create_engine, func, select

    from models.db import sync_url
    from models.events import ReceivedEvent

    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(ReceivedEvent)) or 0)
    finally:
        engine.dispose()


def wait_until_stored(database_url: str, expected: int, timeout: float = 120.0) -> Stored:
    """Slack events are acknowledged before they are stored: a backlog shows up here as time, a loss as a shortfall."""
    started = time.monotonic()
    stored = count_stored_events(database_url)
    while stored < expected and time.monotonic() - started < timeout:
        time.sleep(0.25)
        stored = count_stored_events(database_url)
    return Stored(expected, stored, time.monotonic() - started)


def run_app(
    kind: str, args: argparse.Namespace, slack_url: str, workdir: Path
) -> tuple[list[Step], float, Stored | None]:
    port = free_port()
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "WHOELSE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    database = ""
    if kind == "whoelse":
        database = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        prepare_whoelse_database(database)
        env["DATABASE_URL"] = database
        argv = [PYTHON, "-m", "bot", "serve"]
    else:
        argv = [
            PYTHON,
            "-m",
            "uvicorn",
            "bench.bare_app:create_bare_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
    with server(argv, env=env, port=port, log=workdir / f"{kind}.log") as process:
        steps = asyncio.run(
            measure(f"http://127.0.0.1:{port}", process.pid, args.rates, args.seconds, args.concurrency)
        )
        stored = wait_until_stored(database, sum(step.ok for step in steps)) if database else None
        rss = peak_rss_mib(process.pid)
    return steps, rss, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", type=float, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each step")
    parser.add_argument("--concurrency", type=int, default=32, help="senders in the max-throughput step")
    parser.add_argument("--mix", choices=sorted(MIX), default="both", help="which kinds of events to send")
    parser.add_argument("--database-url", help="measure whoelse on this database instead of a SQLite file")
    args = parser.parse_args()
    global _chosen_mix
    _chosen_mix = MIX[args.mix]

    with tempfile.TemporaryDirectory() as scratch, fake_slack() as (slack_url, _):
        workdir = Path(scratch)
        bare, bare_rss, _ = run_app("bare", args, slack_url, workdir)
        whoelse, whoelse_rss, stored = run_app("whoelse", args, slack_url, workdir)

    print(f"ingest benchmark: {args.mix} (signed webhooks / Slack message events); {args.seconds:g}s per step")
    print(f"{'step':<18}{'app':<9}{'sent':>6}{'ok':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}")
    for ours, base in zip(whoelse, bare, strict=True):
        for name, step in (("bare", base), ("whoelse", ours)):
            print(
                f"{step.label:<18}{name:<9}{step.sent:>6}{step.ok:>6}{step.throughput:>9.1f}"
                f"{percentile(step.latencies_ms, 0.5):>9.1f}{percentile(step.latencies_ms, 0.99):>9.1f}"
                f"{step.cpu_ms_per_request:>12.2f}"
            )
    ratio = whoelse[-1].throughput / bare[-1].throughput if bare[-1].throughput else float("nan")
    print(f"max throughput ratio whoelse/bare: {ratio:.2f}x (target >= 0.7x)")
    at_100 = next((step for step in whoelse if step.label == "100/s"), None)
    if at_100:
        print(f"whoelse p99 at 100 events/s: {percentile(at_100.latencies_ms, 0.99):.1f} ms (target < 300 ms)")
    cpu_ratio = whoelse[-1].cpu_ms_per_request / bare[-1].cpu_ms_per_request
    print(f"server CPU per request at max throughput, whoelse/bare: {cpu_ratio:.2f}x")
    if stored is not None:
        lost = stored.expected - stored.stored
        print(
            f"events stored by whoelse: {stored.stored} of {stored.expected} acknowledged ({lost} missing), "
            f"all stored {stored.seconds_after_last_request:.1f}s after the last request"
            if not lost
            else f"events stored by whoelse: {stored.stored} of {stored.expected} acknowledged: {lost} LOST"
        )
    print(f"peak RSS: bare {bare_rss:.1f} MiB, whoelse {whoelse_rss:.1f} MiB, ratio {whoelse_rss / bare_rss:.2f}x")


if __name__ == "__main__":
    main()

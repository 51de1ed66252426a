"""How fast whoelse takes in events, next to a bare FastAPI + Bolt app measured in the same run.

Sends signed webhooks and Slack message events (bot posts in a watched channel) at rising open-loop rates, then
as fast as a fixed number of concurrent senders can, in rounds that alternate between the two apps, and prints
acknowledgement latency percentiles, throughput, server CPU time per request and peak RSS for both apps, with the
whoelse/bare ratios, and checks that whoelse stored every event it acknowledged.
`--mix teams` sends Teams messages to the bot instead (`help` typed in one of 100 channel conversations across 5
tenants, with a Bot Framework token; whoelse queues a reply to each, and the run checks every one was queued); the
bare app's Teams endpoint only checks the token (bench/bare_teams.py). `--mix all` sends the three kinds in turn.
`--mix hubspot` sends HubSpot's own batches (ten deal notifications a request, v3-signed) to `/webhooks/hubspot`;
whoelse stores each notification before answering and reads each deal from a fake HubSpot CRM API afterwards, while
the bare app only checks the signature.
`--installed N` has whoelse serve N Slack workspaces through Slack's install flow instead of one bot token: each
installation saved through the installation store (its token sealed), each workspace watching the same channel, and
the Slack bot posts sent from the N workspaces in turn (server-wide webhooks are per workspace in that mode, so the
mix is Slack only). The run then prints the Slack Web API calls made while it ran, `auth.test` among them: what
answering a workspace's request costs in calls to Slack, beyond the request itself.
Teams is not in the default mix: a Teams message costs whoelse several times what a webhook does, so mixed in it
would hide a change in the Slack and webhook figures behind its own.
Run: `.venv/bin/python bench/ingest.py` (about two minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    BOT_TOKEN,
    HUBSPOT_SECRET,
    HUBSPOT_TOKEN,
    PUBLIC_BASE_URL,
    PYTHON,
    SIGNING_SECRET,
    TEAM_ID,
    TEAMS_APP_ID,
    TEAMS_APP_PASSWORD,
    WEBHOOK_SECRET,
    FakeSlackProcess,
    cpu_seconds,
    fake_bot_connector,
    fake_hubspot,
    fake_slack,
    free_port,
    peak_rss_mib,
    percentile,
    server,
)
from bot.secret_box import generate_key
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.support.teams import BOT_FRAMEWORK_ISSUER
from tests.teams.activities import message_to_bot

WATCHED_CHANNEL = "CDEALS"
TEAMS_PATH = "/api/messages"
TEAMS_CONVERSATIONS = [
    (f"00000000-0000-4000-8000-{t:012d}", f"19:t{t}c{c:02d}@thread.tacv2") for t in range(5) for c in range(20)
]
_sequence = itertools.count()


@dataclass
class TeamsTraffic:
    """Where the Teams activities say whoelse should answer, and a handful of tokens minted before the run."""

    service_url: str
    tokens: list[str]


_teams: TeamsTraffic | None = None
# The Slack workspaces the bot posts come from: the bench's one workspace, or (--installed) every installed one.
_slack_workspaces = [TEAM_ID]


def installed_workspaces(count: int) -> list[str]:
    return [f"TI{n:05d}" for n in range(count)]


def installed_token(workspace_id: str) -> str:
    return f"xoxb-{workspace_id}-bench"


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


HUBSPOT_PATH = "/webhooks/hubspot"
# Notifications per HubSpot request: HubSpot batches up to 100; a busy portal's batches hold a handful to dozens.
HUBSPOT_BATCH = 10


def hubspot_request() -> tuple[str, bytes, dict[str, str]]:
    """A batch as HubSpot sends it: deals moved to a stage and new deals, signed with the v3 signature."""
    n = next(_sequence)
    now_ms = int(time.time() * 1000)
    batch = [
        {
            "objectId": n * HUBSPOT_BATCH + i,
            "eventId": n * HUBSPOT_BATCH + i,
            "subscriptionId": 25 if i % 2 else 22,
            "portalId": 33,
            "appId": 1160452,
            "occurredAt": now_ms,
            "attemptNumber": 0,
            "changeSource": "CRM",
            **(
                {
                    "subscriptionType": "deal.propertyChange",
                    "propertyName": "dealstage",
                    "propertyValue": "contractsent",
                }
                if i % 2
                else {"subscriptionType": "deal.creation"}
            ),
        }
        for i in range(HUBSPOT_BATCH)
    ]
    body = json.dumps(batch).encode()
    timestamp = str(now_ms)
    signed = b"POST" + f"{PUBLIC_BASE_URL}{HUBSPOT_PATH}".encode() + body + timestamp.encode()
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": timestamp,
        "X-HubSpot-Signature-v3": base64.b64encode(
            hmac.new(HUBSPOT_SECRET.encode(), signed, hashlib.sha256).digest()
        ).decode(),
    }
    return HUBSPOT_PATH, body, headers


def slack_message_request() -> tuple[str, bytes, dict[str, str]]:
    n = next(_sequence)
    ts = f"{1_700_000_000 + n}.000100"
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": _slack_workspaces[n % len(_slack_workspaces)],
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


def teams_message_request() -> tuple[str, bytes, dict[str, str]]:
    assert _teams is not None, "the Teams traffic is set up in main()"
    n = next(_sequence)
    tenant, conversation = TEAMS_CONVERSATIONS[n % len(TEAMS_CONVERSATIONS)]
    activity = message_to_bot("help", _teams.service_url, tenant=tenant, conversation_id=conversation)
    activity["id"] = f"bench-{n}"
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {_teams.tokens[n % len(_teams.tokens)]}",
    }
    return TEAMS_PATH, json.dumps(activity).encode(), headers


MIX = {
    "all": (webhook_request, slack_message_request, teams_message_request),
    "both": (webhook_request, slack_message_request),
    "webhooks": (webhook_request,),
    "slack": (slack_message_request,),
    "teams": (teams_message_request,),
    "hubspot": (hubspot_request,),
}
# Events each acknowledged request carries (one, unless listed).
EVENTS_PER_REQUEST = {HUBSPOT_PATH: HUBSPOT_BATCH}
_chosen_mix = MIX["both"]
KINDS = {
    webhook_request: "signed webhooks",
    slack_message_request: "Slack message events",
    teams_message_request: "Teams messages to the bot",
    hubspot_request: f"HubSpot batches of {HUBSPOT_BATCH} deal notifications",
}


def next_request(n: int) -> tuple[str, bytes, dict[str, str]]:
    return _chosen_mix[n % len(_chosen_mix)]()


@dataclass
class Step:
    label: str
    sent: int
    ok: int
    seconds: float
    latencies_ms: list[float]
    # Acknowledged requests by path, so stored events and queued Teams replies can be checked against them (and
    # refused ones as "<path> answered <status>").
    ok_by_path: Counter[str] = field(default_factory=Counter)
    # The server's CPU time (every thread) spent during the step: steadier than throughput on a shared machine.
    cpu_seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.ok if self.ok else float("nan")


async def _send(session: aiohttp.ClientSession, base: str, n: int, ok_by_path: Counter[str]) -> tuple[bool, float]:
    path, body, headers = next_request(n)
    started = time.perf_counter()
    async with session.post(base + path, data=body, headers=headers) as response:
        await response.read()
        success = response.status < 300
    ok_by_path[path] += success
    if not success:
        ok_by_path[f"{path} answered {response.status}"] += 1
    return success, (time.perf_counter() - started) * 1000


async def open_loop(base: str, rate: float, seconds: float) -> Step:
    """Sends on a fixed schedule whatever the server does, so a slow server shows up as latency."""
    latencies: list[float] = []
    ok = 0
    ok_by_path: Counter[str] = Counter()
    count = int(rate * seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        start = time.perf_counter()

        async def one(i: int) -> None:
            nonlocal ok
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            scheduled = due
            success, _ = await _send(session, base, i, ok_by_path)
            latencies.append((time.perf_counter() - scheduled) * 1000)
            ok += success

        await asyncio.gather(*(one(i) for i in range(count)))
        elapsed = time.perf_counter() - start
    return Step(f"{rate:g}/s", count, ok, elapsed, latencies, ok_by_path)


async def closed_loop(base: str, concurrency: int, seconds: float) -> Step:
    latencies: list[float] = []
    ok = sent = 0
    ok_by_path: Counter[str] = Counter()
    counter = itertools.count()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        start = time.perf_counter()
        deadline = start + seconds

        async def sender() -> None:
            nonlocal ok, sent
            while time.perf_counter() < deadline:
                success, latency = await _send(session, base, next(counter), ok_by_path)
                sent += 1
                ok += success
                latencies.append(latency)

        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return Step(f"max ({concurrency} senders)", sent, ok, elapsed, latencies, ok_by_path)


def prepare_whoelse_database(url: str, *, workspaces: list[str], encryption_key: str | None = None) -> None:
    """Migrates a fresh database and watches one channel for deals in each workspace, as `/whoelse watch deals`
    would; with an encryption key, installs whoelse in each workspace as the install flow stores it."""
    import subprocess

    env = {"DATABASE_URL": url, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    script = (
        "import asyncio\n"
        "from bot.cli import upgrade_database\n"
        "from models.db import create_engine_for, create_session_factory\n"
        "from models.watches import watch_channel\n"
        "from models.workspaces import get_or_create_workspace\n"
        "from bench.fanout import seed_installations\n"
        f"url = {url!r}\n"
        "upgrade_database(url)\n"
        "async def main():\n"
        + (f"    await seed_installations(url, {encryption_key!r}, {workspaces!r})\n" if encryption_key else "")
        + "    engine = create_engine_for(url)\n"
        "    async with create_session_factory(engine)() as s:\n"
        f"        for workspace_id in {workspaces!r}:\n"
        "            w = await get_or_create_workspace(s, workspace_id=workspace_id)\n"
        "            w.quiet_start = None; w.quiet_end = None\n"
        f"            await watch_channel(s, workspace_id=workspace_id, channel_id={WATCHED_CHANNEL!r}, kind='deals', user_id='U0ADMIN')\n"
        "        await s.commit()\n"
        "    await engine.dispose()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([PYTHON, "-c", script], check=True, env={**__import__("os").environ, **env})


@dataclass
class Stored:
    """Whether every acknowledged event made it into whoelse's database, and how long after the last request."""

    expected: int
    stored: int
    seconds_after_last_request: float


def count_stored_events(database_url: str, *, decided: bool = False) -> int:
    from sqlalchemy import create_engine, func, select

    from models.db import sync_url
    from models.events import ReceivedEvent

    query = select(func.count()).select_from(ReceivedEvent)
    if decided:
        query = query.where(ReceivedEvent.outcome.is_not(None))
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return int(connection.scalar(query) or 0)
    finally:
        engine.dispose()


def count_teams_replies(database_url: str) -> tuple[int, int]:
    """Teams replies whoelse queued, and how many of them it has sent so far."""
    from sqlalchemy import create_engine, func, select

    from models.db import sync_url
    from models.outbox import SENT, OutboxMessage

    replies = (
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.idempotency_key.like("teams-reply:%"))
    )
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            queued = int(connection.scalar(replies) or 0)
            sent = int(connection.scalar(replies.where(OutboxMessage.status == SENT)) or 0)
            return queued, sent
    finally:
        engine.dispose()


def deciding_rate(database_url: str, seconds: float = 10.0) -> float:
    """Events decided per second once the senders stop: how fast whoelse works through what it acknowledged."""
    before = count_stored_events(database_url, decided=True)
    time.sleep(seconds)
    return (count_stored_events(database_url, decided=True) - before) / seconds


def wait_until_stored(database_url: str, expected: int, timeout: float = 120.0) -> Stored:
    """Every acknowledged event should already be stored: a shortfall is a loss, any wait a backlog of writes."""
    started = time.monotonic()
    stored = count_stored_events(database_url)
    while stored < expected and time.monotonic() - started < timeout:
        time.sleep(0.25)
        stored = count_stored_events(database_url)
    return Stored(expected, stored, time.monotonic() - started)


@dataclass
class App:
    name: str
    base: str
    pid: int


def app_command(kind: str, port: int) -> list[str]:
    if kind == "whoelse":
        return [PYTHON, "-m", "bot", "serve"]
    return [
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


@contextlib.contextmanager
def paused(apps: list[App]) -> Iterator[None]:
    """Freezes the apps not being measured (SIGSTOP), so none of their background work runs in another's time.

    whoelse decides on events after acknowledging them; left running, it would spend the bare app's rounds deciding
    the events of its own previous round.
    """
    for app in apps:
        os.kill(app.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for app in apps:
            os.kill(app.pid, signal.SIGCONT)


async def measured(app: App, others: list[App], run: Callable[[], Coroutine[Any, Any, Step]]) -> Step:
    with paused(others):
        before = cpu_seconds(app.pid)
        step = await run()
        step.cpu_seconds = cpu_seconds(app.pid) - before
    return step


async def warm_up_teams(apps: list[App]) -> None:
    """One authenticated activity that asks nothing of the bot (typing), so each app reads the signing keys before
    the run: whoelse answers 503 to requests that arrive while its very first key fetch is still under way."""
    assert _teams is not None
    _, conversation = TEAMS_CONVERSATIONS[0]
    typing = {**message_to_bot("", _teams.service_url, conversation_id=conversation), "type": "typing"}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {_teams.tokens[0]}"}
    async with aiohttp.ClientSession() as session:
        for app in apps:
            async with session.post(app.base + TEAMS_PATH, data=json.dumps(typing), headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"{app.name} refused an authenticated Teams activity: {response.status}")


async def measure(apps: list[App], args: argparse.Namespace) -> dict[str, list[Step]]:
    """Open-loop steps for each app in turn, then alternating max-throughput rounds.

    Both apps stay up for the whole run, the one not being measured frozen, and the rounds alternate (bare, whoelse,
    whoelse, bare, ...), so a machine that gets busier or quieter halfway through affects both alike instead of
    whichever ran second.
    """
    steps: dict[str, list[Step]] = {app.name: [] for app in apps}
    if teams_message_request in _chosen_mix:
        await warm_up_teams(apps)
    runs: list[tuple[App, Callable[[], Coroutine[Any, Any, Step]]]] = []
    for rate in args.rates:
        runs += [(app, functools.partial(open_loop, app.base, rate, args.seconds)) for app in apps]
    for round_number in range(args.rounds):
        in_turn = apps if round_number % 2 == 0 else apps[::-1]
        runs += [
            (app, functools.partial(closed_loop, app.base, args.concurrency, args.round_seconds))
            for app in in_turn
        ]
    for app, run in runs:
        steps[app.name].append(await measured(app, [other for other in apps if other is not app], run))
    return steps


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", type=float, nargs="*", default=[25, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each open-loop step")
    parser.add_argument("--concurrency", type=int, default=32, help="senders in the max-throughput rounds")
    parser.add_argument("--rounds", type=int, default=6, help="max-throughput rounds per app, alternating")
    parser.add_argument("--round-seconds", type=float, default=4.0, help="length of each max-throughput round")
    parser.add_argument(
        "--mix", choices=sorted(MIX), help="which kinds of events to send (default: both; slack with --installed)"
    )
    parser.add_argument("--database-url", help="measure whoelse on this database instead of a SQLite file")
    parser.add_argument(
        "--installed",
        type=int,
        metavar="N",
        help="whoelse installed in N Slack workspaces (tokens from its installation store), not one bot token",
    )
    args = parser.parse_args()
    if args.mix is None:
        args.mix = "slack" if args.installed else "both"
    if args.installed and args.mix != "slack":
        parser.error(
            "--installed sends Slack bot posts only (server-wide webhooks are per workspace in that mode)"
        )
    global _chosen_mix, _slack_workspaces
    _chosen_mix = MIX[args.mix]
    if args.installed:
        _slack_workspaces = installed_workspaces(args.installed)
    # Installed workspaces' tokens are sealed with this key (a fresh one each run).
    encryption_key = generate_key() if args.installed else None

    global _teams
    with (
        tempfile.TemporaryDirectory() as scratch,
        fake_slack(
            workspaces=[(workspace, installed_token(workspace)) for workspace in _slack_workspaces]
            if args.installed
            else ()
        ) as slack,
        fake_bot_connector() as connector,
        fake_hubspot() as hubspot_url,
        FakeMicrosoftLogin() as login,
        contextlib.ExitStack() as stack,
    ):
        # Minting is not what is measured: a few tokens, made before the run, are sent in turn.
        tokens = [
            login.token(aud=TEAMS_APP_ID, iss=BOT_FRAMEWORK_ISSUER, serviceurl=connector.service_url)
            for _ in range(8)
        ]
        _teams = TeamsTraffic(connector.service_url, tokens)
        workdir = Path(scratch)
        database = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        prepare_whoelse_database(database, workspaces=_slack_workspaces, encryption_key=encryption_key)
        apps: list[App] = []
        processes = {}
        for kind in ("bare", "whoelse"):
            port = free_port()
            env = {
                **slack_mode(kind, slack, encryption_key),
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.base_url,
                "WHOELSE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "PORT": str(port),
                "HOST": "127.0.0.1",
                "LOG_LEVEL": "WARNING",
                "DATABASE_URL": database,
                "TEAMS_APP_ID": TEAMS_APP_ID,
                "TEAMS_APP_PASSWORD": TEAMS_APP_PASSWORD,
                "TEAMS_OPENID_METADATA_URL": login.metadata_url,
                "TEAMS_TOKEN_URL": connector.token_url,
                "HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
                "HUBSPOT_PRIVATE_APP_TOKEN": HUBSPOT_TOKEN,
                "HUBSPOT_API_URL": hubspot_url,
                "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            }
            log = workdir / f"{kind}.log"
            processes[kind] = stack.enter_context(server(app_command(kind, port), env=env, port=port, log=log))
            apps.append(App(kind, f"http://127.0.0.1:{port}", processes[kind].pid))
        calls_before = slack.calls_by_method()
        steps = asyncio.run(measure(apps, args))
        slack_calls = slack.calls_by_method() - calls_before
        acknowledged: Counter[str] = sum((step.ok_by_path for step in steps["whoelse"]), Counter())
        teams_acknowledged = acknowledged.pop(TEAMS_PATH, 0)
        refused = {key: acknowledged.pop(key) for key in list(acknowledged) if " answered " in key}
        stored = wait_until_stored(
            database, sum(count * EVENTS_PER_REQUEST.get(path, 1) for path, count in acknowledged.items())
        )
        decided_per_second = deciding_rate(database)
        teams_queued, teams_sent = count_teams_replies(database)
        rss = {kind: peak_rss_mib(process.pid) for kind, process in processes.items()}

    report(args, steps["bare"], steps["whoelse"], stored, rss)
    slack_events = acknowledged.get("/slack/events", 0)
    if slack_events:
        others = ", ".join(
            f"{method} {count}" for method, count in sorted(slack_calls.items()) if method != "auth.test"
        )
        print(
            f"Slack Web API calls while the senders ran (both apps): auth.test {slack_calls['auth.test']} for "
            f"{slack_events} Slack events whoelse acknowledged"
            + (f" from {len(_slack_workspaces)} installed workspaces" if args.installed else "")
            + f"; others: {others or 'none'}"
        )
    if refused:
        print("whoelse refused: " + ", ".join(f"{count} x {key}" for key, count in sorted(refused.items())))
    if teams_acknowledged:
        print(
            f"Teams replies queued by whoelse: {teams_queued} of {teams_acknowledged} messages acknowledged "
            f"({teams_sent} sent to the Bot Connector by the end, at most one a second per conversation)"
        )
    if stored.expected:
        print(
            f"whoelse decides {decided_per_second:.0f} events/s once the senders stop: the sustained rate at which "
            "acknowledged events become nudges (a burst above it is nudged late, not lost)"
        )


def slack_mode(kind: str, slack: FakeSlackProcess, encryption_key: str | None) -> dict[str, str]:
    """The bare app always has the one bot token; whoelse serves many workspaces when they were installed."""
    if kind == "bare" or encryption_key is None:
        return {"SLACK_BOT_TOKEN": BOT_TOKEN}
    return {
        "SLACK_CLIENT_ID": slack.client_id,
        "SLACK_CLIENT_SECRET": slack.client_secret,
        "WHOELSE_ENCRYPTION_KEYS": encryption_key,
    }


def report(
    args: argparse.Namespace, bare: list[Step], whoelse: list[Step], stored: Stored, rss: dict[str, float]
) -> None:
    installed = f", whoelse installed in {args.installed} Slack workspaces" if args.installed else ""
    print(
        f"ingest benchmark: {args.mix} ({' / '.join(KINDS[kind] for kind in MIX[args.mix])}){installed}; "
        "open-loop steps of "
        f"{args.seconds:g}s, then {args.rounds} max-throughput rounds of {args.round_seconds:g}s per app, alternating"
    )
    print(f"{'step':<18}{'app':<9}{'sent':>6}{'ok':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}")
    for ours, base in zip(whoelse, bare, strict=True):
        for name, step in (("bare", base), ("whoelse", ours)):
            print(
                f"{step.label:<18}{name:<9}{step.sent:>6}{step.ok:>6}{step.throughput:>9.1f}"
                f"{percentile(step.latencies_ms, 0.5):>9.1f}{percentile(step.latencies_ms, 0.99):>9.1f}"
                f"{step.cpu_ms_per_request:>12.2f}"
            )
    rounds = len(args.rates)
    ratios = [
        ours.throughput / base.throughput for ours, base in zip(whoelse[rounds:], bare[rounds:], strict=True)
    ]
    print(
        f"max throughput, median of rounds: bare {median([step.throughput for step in bare[rounds:]]):.0f} req/s, "
        f"whoelse {median([step.throughput for step in whoelse[rounds:]]):.0f} req/s"
    )
    print(
        f"max throughput ratio whoelse/bare: {median(ratios):.2f}x, median of {len(ratios)} paired rounds "
        f"(range {min(ratios, default=float('nan')):.2f}-{max(ratios, default=float('nan')):.2f}; target >= 0.7x)"
    )
    cpu_ratios = [
        ours.cpu_ms_per_request / base.cpu_ms_per_request
        for ours, base in zip(whoelse[rounds:], bare[rounds:], strict=True)
    ]
    print(f"server CPU per request at max throughput, whoelse/bare: {median(cpu_ratios):.2f}x (median of rounds)")
    at_100 = next((step for step in whoelse if step.label == "100/s"), None)
    if at_100:
        print(f"whoelse p99 at 100 events/s: {percentile(at_100.latencies_ms, 0.99):.1f} ms (target < 300 ms)")
    lost = stored.expected - stored.stored
    print(
        f"events stored by whoelse: {stored.stored} of {stored.expected} acknowledged, "
        f"all stored {stored.seconds_after_last_request:.1f}s after the last request"
        if not lost
        else f"events stored by whoelse: {stored.stored} of {stored.expected} acknowledged: {lost} LOST"
    )
    print(
        f"peak RSS: bare {rss['bare']:.1f} MiB, whoelse {rss['whoelse']:.1f} MiB, "
        f"ratio {rss['whoelse'] / rss['bare']:.2f}x"
    )


if __name__ == "__main__":
    main()

"""Shared plumbing for the benchmarks: run servers as separate processes and measure them from outside."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BOT_TOKEN = "xoxb-bench-token"
SIGNING_SECRET = "bench-signing-secret-0123456789"
WEBHOOK_SECRET = "bench-webhook-secret-0123456789"
TEAM_ID = "T0001"
TEAMS_APP_ID = "8e3a0d43-61f6-4a5c-9a3e-2c0b6a1f7d21"
TEAMS_APP_PASSWORD = "bench-teams-app-password"
HUBSPOT_SECRET = "bench-hubspot-client-secret-0123456789"
HUBSPOT_TOKEN = "pat-na1-bench-0123456789"
# Where HubSpot is told whoelse (and the bare app) can be reached: the URI its signatures cover.
PUBLIC_BASE_URL = "https://whoelse.bench.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), read from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process (all its threads) has used so far, read from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime and stime are the 14th and 15th fields; the split starts at the 3rd.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy")


@contextmanager
def server(argv: list[str], *, env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_until_healthy(f"http://127.0.0.1:{port}/healthz", process)
            except RuntimeError as stopped:
                # The log is in a scratch directory the run deletes: its end says why the server stopped.
                output.flush()
                tail = log.read_text(errors="replace").splitlines()[-15:]
                raise RuntimeError(f"{stopped}; the end of its log:\n" + "\n".join(tail)) from None
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class FakeSlackProcess:
    """The fake Slack Web API running in a process of its own, and how to ask it what it was called for."""

    base_url: str
    client_id: str
    client_secret: str
    process: subprocess.Popen[bytes]

    def calls_by_method(self) -> Counter[str]:
        """How many times each Web API method was called so far."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(b"calls\n")
        self.process.stdin.flush()
        return Counter(json.loads(self.process.stdout.readline()))


@contextmanager
def fake_slack(
    *, channel_rate_limit_per_second: float | None = None, workspaces: Sequence[tuple[str, str]] = ()
) -> Iterator[FakeSlackProcess]:
    """The fake Slack Web API in its own process, so it does not share a GIL with what is measured; it knows the
    bench's bot token and, for `workspaces` ((team id, bot token) pairs), each installed workspace's own."""
    code = (
        "import collections, json, sys\n"
        "from tests.fakes.slack_api import FakeSlack\n"
        f"fake = FakeSlack(bot_token={BOT_TOKEN!r}, team_id={TEAM_ID!r}, "
        f"channel_rate_limit_per_second={channel_rate_limit_per_second!r})\n"
        f"for team_id, token in {list(workspaces)!r}:\n"
        "    fake.add_workspace(team_id, token=token)\n"
        "fake.start()\n"
        "print(fake.base_url, fake.client_id, fake.client_secret, flush=True)\n"
        "for _ in sys.stdin:\n"
        "    print(json.dumps(collections.Counter(call.method for call in fake.calls)), flush=True)\n"
    )
    process = subprocess.Popen(
        [PYTHON, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        base_url, client_id, client_secret = process.stdout.readline().decode().split()
        yield FakeSlackProcess(base_url, client_id, client_secret, process)
    finally:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class ConnectorUrls:
    service_url: str
    token_url: str


@contextmanager
def fake_bot_connector() -> Iterator[ConnectorUrls]:
    """The fake Bot Connector (and token endpoint) in its own process, for the same reason as `fake_slack`."""
    code = (
        "import sys\n"
        "from tests.fakes.bot_connector import FakeBotConnector\n"
        f"fake = FakeBotConnector(app_id={TEAMS_APP_ID!r}, app_password={TEAMS_APP_PASSWORD!r})\n"
        "fake.start()\n"
        "print(fake.service_url, fake.token_url, flush=True)\n"
        "sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [PYTHON, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        service_url, token_url = process.stdout.readline().decode().split()
        yield ConnectorUrls(service_url, token_url)
    finally:
        process.kill()
        process.wait()


@contextmanager
def fake_hubspot() -> Iterator[str]:
    """The fake HubSpot CRM API in its own process, for the same reason as `fake_slack`; it knows every deal."""
    code = (
        "import sys\n"
        "from tests.fakes.hubspot_api import FakeHubSpot\n"
        f"fake = FakeHubSpot(token={HUBSPOT_TOKEN!r}, invent_deals=True)\n"
        "fake.start()\n"
        "print(fake.base_url, flush=True)\n"
        "sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [PYTHON, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().decode().strip()
    finally:
        process.kill()
        process.wait()


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]

"""How long whoelse takes to start when it serves Slack only (no TEAMS_APP_ID), as `make run` does by default.

Prints two figures, each the median of several fresh processes (after one warm-up run of each, so the files are in
the page cache): the CPU time `import bot.app` takes, and the time from starting `whoelse serve` (SQLite, a fake
Slack Web API in its own process) until `/healthz` answers 200, with the CPU the server used by then. It also says
which optional SDKs such a start loaded: a Slack-only whoelse has no use for the Teams SDK.
Run: `.venv/bin/python bench/startup.py` (under a minute).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.harness import BOT_TOKEN, PYTHON, ROOT, SIGNING_SECRET, cpu_seconds, fake_slack, free_port

# Packages only an optional feature needs: Teams (the Microsoft 365 Agents SDK, JWT checks), Socket Mode, PostgreSQL.
OPTIONAL = ("microsoft_agents", "jwt", "slack_bolt.adapter.socket_mode", "psycopg")

IMPORT_CODE = (
    "import sys, time\n"
    "started = time.process_time()\n"
    "import bot.app\n"
    "print(time.process_time() - started)\n"
    f"print(','.join(name for name in {OPTIONAL!r} if name in sys.modules))\n"
)


def clean_environment() -> dict[str, str]:
    """This shell's environment without any whoelse setting, so only what the bench sets is configured."""
    prefixes = ("SLACK_", "TEAMS_", "HUBSPOT_", "WHOELSE_", "DATABASE_", "SCHEDULER")
    kept = {key: value for key, value in os.environ.items() if not key.upper().startswith(prefixes)}
    return {**kept, "PYTHONPATH": str(ROOT)}


def import_seconds() -> tuple[float, str]:
    """CPU seconds `import bot.app` took in a fresh interpreter, and which optional packages it loaded."""
    result = subprocess.run(
        [PYTHON, "-c", IMPORT_CODE], cwd=ROOT, env=clean_environment(), capture_output=True, text=True, check=True
    )
    seconds, loaded = result.stdout.splitlines()
    return float(seconds), loaded or "none"


def start_seconds(env: dict[str, str], scratch: Path) -> tuple[float, float]:
    """Wall-clock seconds from starting `whoelse serve` to `/healthz` answering 200, and the server's CPU by then."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    with (scratch / f"serve-{port}.log").open("wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            [PYTHON, "-m", "bot", "serve"],
            cwd=ROOT,
            env={**env, "PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"whoelse serve exited with {process.returncode}: see {log.name}")
                try:
                    with urllib.request.urlopen(url, timeout=1) as response:
                        if response.status == 200:
                            return time.monotonic() - started, cpu_seconds(process.pid)
                except OSError:
                    time.sleep(0.01)
        finally:
            process.terminate()
            process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure (default 5)")
    args = parser.parse_args()

    import_seconds()
    imports = [import_seconds() for _ in range(args.runs)]
    cpu = [seconds for seconds, _loaded in imports]
    print(
        f"import bot.app, CPU: median {statistics.median(cpu):.3f} s (runs: {', '.join(f'{s:.3f}' for s in cpu)})"
    )
    print(f"optional packages loaded by import bot.app: {imports[0][1]}")

    with tempfile.TemporaryDirectory() as directory, fake_slack() as slack:
        scratch = Path(directory)
        env = {
            **clean_environment(),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{scratch / 'startup.db'}",
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run([PYTHON, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        start_seconds(env, scratch)
        starts = [start_seconds(env, scratch) for _ in range(args.runs)]
    walls = [wall for wall, _cpu in starts]
    cpus = [cpu for _wall, cpu in starts]
    print(
        f"whoelse serve to /healthz 200 (Slack only, SQLite): median {statistics.median(walls):.3f} s "
        f"(runs: {', '.join(f'{s:.3f}' for s in walls)}); server CPU by then: median {statistics.median(cpus):.2f} s"
    )


if __name__ == "__main__":
    main()

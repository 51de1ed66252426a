"""The `whoelse` command: `whoelse serve`, `whoelse db upgrade`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.settings import ConfigurationError, Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Allocations between two passes of the garbage collector over young objects (Python's default is 700).
GC_YOUNG_GENERATION_THRESHOLD = 20_000


def alembic_config(database_url: str) -> object:
    from alembic.config import Config

    from models.db import sync_url

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade_database(database_url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), "heads")  # type: ignore[arg-type]


def _serve(settings: Settings, *, socket_mode: bool) -> None:
    import asyncio
    import gc

    import uvicorn

    from bot.app import bot_team, create_app
    from bot.logs import configure_logging
    from bot.preflight import check_database

    configure_logging(settings.log_level, settings.log_format)
    # The scheduler's thread does its database round trips while the event loop is busy; each reply waits for the
    # loop's thread to hand over the GIL, by default every 5 ms. Handing over every 1 ms made a weekly poll due in
    # 2,000 channels go out about 15% sooner in bench/fanout.py.
    sys.setswitchinterval(0.001)
    socket_mode = socket_mode or settings.slack_socket_mode
    settings.require_platforms(socket_mode=socket_mode)
    asyncio.run(check_database(settings))
    if settings.slack_enabled:
        asyncio.run(bot_team(settings))
    app = create_app(settings, socket_mode=socket_mode)
    # What is loaded by now (modules, ORM mappers, validation schemas) lives as long as the process: keeping it out
    # of the garbage collector's full passes makes them several times shorter, and under load each one stalls the
    # event loop (bench/ingest.py showed them in the latency tail).
    gc.collect()
    gc.freeze()
    # Each request allocates a few thousand short-lived objects, nearly all freed by reference counting alone; with
    # Python's default (a young-generation pass every 700 allocations) the collector ran several times per request
    # for little to collect. Every 20,000 keeps garbage cycles bounded to a few megabytes and served about 5% more
    # requests a second in bench/ingest.py.
    gc.set_threshold(GC_YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, proxy_headers=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="whoelse", description="The who-else collaboration bot.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the bot (HTTP events, webhooks, delivery and scheduler)")
    serve.add_argument("--socket-mode", action="store_true", help="receive Slack events over Socket Mode")
    database = commands.add_parser("db", help="database schema")
    database.add_argument("action", choices=["upgrade"])
    args = parser.parse_args(argv)

    try:
        settings = Settings()
        if args.command == "db":
            upgrade_database(settings.database_url)
            print("database schema is up to date")
            return 0
        _serve(settings, socket_mode=args.socket_mode)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors())
        print(f"whoelse cannot start: {problems}", file=sys.stderr)
        return 2
    except ConfigurationError as error:
        print(str(error), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

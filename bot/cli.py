"""The `whoelse` command: `whoelse serve`, `whoelse db upgrade|current|downgrade REV`, `whoelse teams package`,
`whoelse keys generate|rotate`, `whoelse --version`."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version
from pathlib import Path

from pydantic import ValidationError

from bot.schema import alembic_config as alembic_config
from bot.schema import upgrade_database as upgrade_database
from bot.settings import ConfigurationError, Settings, settings_problems

# Allocations between two passes of the garbage collector over young objects (Python's default is 700).
GC_YOUNG_GENERATION_THRESHOLD = 20_000


def _database(settings: Settings, action: str, revision: str | None) -> None:
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    from bot import schema
    from bot.preflight import cannot_open

    try:
        if action == "upgrade":
            schema.upgrade_database(settings.database_url)
        elif action == "downgrade":
            assert revision is not None  # argparse requires it
            schema.downgrade_database(settings.database_url, revision)
        applied = schema.database_revisions(settings.database_url)
    except DBAPIError as error:
        raise cannot_open(settings, error) from error
    except CommandError as error:
        raise ConfigurationError(f"whoelse db {action}: {error}") from error
    if action == "upgrade":
        print("database schema is up to date")
    else:
        problem = schema.schema_problem(applied)
        print(f"database schema is at {', '.join(sorted(applied)) or 'no revision'}: {problem or 'up to date'}")


def _serve(settings: Settings, *, socket_mode: bool) -> None:
    import asyncio
    import gc

    import uvicorn

    from bot.app import bot_team, check_app_token, create_app
    from bot.http_server import http_limits
    from bot.logs import configure_logging
    from bot.preflight import check_database, check_port
    from bot.slack.oauth.scopes import install_scopes

    socket_mode = socket_mode or settings.slack_socket_mode
    # Everything that can be wrong with the configuration is found before anything starts, and said in one line.
    settings.require_for_serving(socket_mode=socket_mode)
    check_port(settings)
    asyncio.run(check_database(settings))
    if settings.slack_bot_token_set:
        asyncio.run(bot_team(settings))
    if settings.slack_multi_workspace:
        # The bot scopes an install asks for come from manifest.yml: a release without it cannot offer installs.
        install_scopes()
    if socket_mode:
        asyncio.run(check_app_token(settings))
    configure_logging(settings.log_level, settings.log_format)
    # The scheduler's thread does its database round trips while the event loop is busy; each reply waits for the
    # loop's thread to hand over the GIL, by default every 5 ms. Handing over every 1 ms made a weekly poll due in
    # 2,000 channels go out about 15% sooner in bench/fanout.py.
    sys.setswitchinterval(0.001)
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
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_config=None, proxy_headers=True, **http_limits(settings)
    )


def _add_teams_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.teams.package import DEFAULT_WEBSITE

    teams = commands.add_parser("teams", help="Microsoft Teams")
    actions = teams.add_subparsers(dest="teams_command", required=True)
    package = actions.add_parser(
        "package", help="write the app package to upload to Teams (bot id from TEAMS_APP_ID)"
    )
    package.add_argument("--output", type=Path, default=Path("whoelse-teams.zip"), help="the zip to write")
    package.add_argument("--version", default="1.0.0", help="app version; raise it for every new upload")
    package.add_argument("--developer", default="whoelse", help="who publishes the app (up to 32 characters)")
    package.add_argument("--website", default=DEFAULT_WEBSITE, help="your https:// page about this bot")
    package.add_argument("--privacy", default="", help="privacy policy URL (default: <website>/privacy)")
    package.add_argument("--terms", default="", help="terms of use URL (default: <website>/terms)")
    package.add_argument(
        "--domain", action="append", default=[], help="a domain Teams may open from the app (repeatable)"
    )


def _teams_package(settings: Settings, args: argparse.Namespace) -> int:
    from bot.teams.package import DEFAULT_WEBSITE, AppInfo, PackageError, write_package

    if not settings.teams_app_id:
        print(
            "TEAMS_APP_ID is not set: copy the Microsoft App ID from your Azure Bot's Configuration page.",
            file=sys.stderr,
        )
        return 2
    app = AppInfo(
        bot_id=settings.teams_app_id.strip(),
        version=args.version,
        developer=args.developer,
        website=args.website,
        privacy=args.privacy,
        terms=args.terms,
        domains=tuple(args.domain),
    )
    try:
        path = write_package(app, args.output)
    except PackageError as error:
        print(str(error), file=sys.stderr)
        return 2
    if args.website == DEFAULT_WEBSITE:
        print(f"note: the developer links point at {DEFAULT_WEBSITE}; pass --website (and --privacy, --terms)")
    print(f"wrote {path}: upload it in Teams (Apps > Manage your apps > Upload an app)")
    return 0


def _keys(settings: Settings, action: str) -> int:
    import asyncio

    from bot.key_rotation import reseal_stored_secrets
    from bot.secret_box import generate_key
    from models.db import create_engine_for, create_session_factory
    from models.sealed_columns import sealed_columns

    if action == "generate":
        print(generate_key())
        return 0
    box = settings.secret_box()

    async def rotate() -> None:
        engine = create_engine_for(settings.database_url)
        try:
            report = await reseal_stored_secrets(create_session_factory(engine), box, sealed_columns())
        finally:
            await engine.dispose()
        print(
            f"{report.resealed} stored secrets sealed again with the first key, {report.already_current} already were;"
            " the other keys in WHOELSE_ENCRYPTION_KEYS can now be removed"
        )

    asyncio.run(rotate())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="whoelse", description="The who-else collaboration bot.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the bot (HTTP events, webhooks, delivery and scheduler)")
    serve.add_argument("--socket-mode", action="store_true", help="receive Slack events over Socket Mode")
    parser.add_argument("--version", action="version", version=f"whoelse {version('whoelse')}")
    database = commands.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    database.add_parser("upgrade", help="migrate the database to this version of whoelse")
    database.add_parser("current", help="show the revision the database is at, and whether it is up to date")
    downgrade = database.add_parser("downgrade", help="migrate the database back to an earlier revision")
    downgrade.add_argument("revision", help="a revision id (see migrations/versions), or -1 for one step back")
    keys = commands.add_parser("keys", help="keys that seal stored secrets").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("generate", help="print a new key for WHOELSE_ENCRYPTION_KEYS")
    keys.add_parser("rotate", help="seal every stored secret again with the first key of WHOELSE_ENCRYPTION_KEYS")
    _add_teams_command(commands)
    args = parser.parse_args(argv)

    try:
        settings = Settings()
        if args.command == "teams":
            return _teams_package(settings, args)
        if args.command == "keys":
            return _keys(settings, args.action)
        if args.command == "db":
            _database(settings, args.action, getattr(args, "revision", None))
            return 0
        _serve(settings, socket_mode=args.socket_mode)
    except ValidationError as error:
        print(f"whoelse cannot start: {settings_problems(error)}", file=sys.stderr)
        return 2
    except ConfigurationError as error:
        print(str(error), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

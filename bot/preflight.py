"""Checks before serving, so a wrong token or an unmigrated database is one clear line, not a traceback."""

from __future__ import annotations

import errno
import socket

from sqlalchemy.exc import DBAPIError

from bot.schema import applied_revisions, schema_problem
from bot.settings import ConfigurationError, Settings
from models.db import create_engine_for


def check_port(settings: Settings) -> None:
    """The address is free, tried before anything starts: uvicorn finds out only after the scheduler has."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by the last run is free, one another process listens on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, settings.port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigurationError(
                    f"whoelse cannot start: PORT {settings.port} is already in use on {settings.host}. Stop what "
                    "listens there, or set PORT to a free port."
                ) from error
            raise ConfigurationError(
                f"whoelse cannot start: cannot listen on HOST {settings.host} PORT {settings.port}: {error.strerror}"
            ) from error


async def check_database(settings: Settings) -> None:
    """The database opens and its schema is the one this version of whoelse was written for."""
    engine = create_engine_for(settings.database_url)
    try:
        async with engine.connect() as connection:
            applied = await connection.run_sync(applied_revisions)
    except Exception as error:
        raise cannot_open(settings, error) from error
    finally:
        await engine.dispose()
    problem = schema_problem(applied)
    if problem is not None:
        raise ConfigurationError(problem)


def cannot_open(settings: Settings, error: Exception) -> ConfigurationError:
    """One line for a database that cannot be reached: the driver's own reason, without SQLAlchemy's SQL and links."""
    reason = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return ConfigurationError(
        f"whoelse cannot open the database ({settings.database_label}) named by DATABASE_URL: "
        + " ".join(str(reason).split())
    )

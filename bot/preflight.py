"""Checks before serving, so a wrong token or an unmigrated database is one clear line, not a traceback."""

from __future__ import annotations

from sqlalchemy import inspect

from bot.settings import ConfigurationError, Settings
from models.db import create_engine_for


async def check_database(settings: Settings) -> None:
    engine = create_engine_for(settings.database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    except Exception as error:
        raise ConfigurationError(f"Cannot open the database at DATABASE_URL: {error}") from error
    finally:
        await engine.dispose()
    if "alembic_version" not in tables:
        raise ConfigurationError(
            "The database has no whoelse schema yet. Run `whoelse db upgrade` (make run does)."
        )

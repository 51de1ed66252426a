"""Alembic environment: migrates the database `whoelse db` names, or else DATABASE_URL read as the app reads it.

So plain `alembic upgrade head` (or `alembic revision --autogenerate`) works on the same database the app serves.
"""

from __future__ import annotations

from alembic import context
from pydantic import ValidationError
from sqlalchemy import create_engine, pool

import models.all  # noqa: F401  (registers every table on the metadata)
from bot.settings import Settings, settings_problems
from models.base import Base
from models.db import sync_url

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    named = config.get_main_option("sqlalchemy.url")
    if named:
        return named
    try:
        return sync_url(Settings().database_url)
    except ValidationError as error:
        raise SystemExit(f"alembic cannot run: {settings_problems(error)}") from None


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = create_engine(database_url(), poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

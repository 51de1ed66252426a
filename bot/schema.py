"""The database schema's version: the revisions Alembic's scripts define, and the one a database is at."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, create_engine

from models.db import sync_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade_database(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "heads")


def downgrade_database(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def applied_revisions(connection: Connection) -> set[str]:
    """The revisions the database was migrated to (none for a database whoelse never migrated)."""
    return set(MigrationContext.configure(connection).get_current_heads())


def database_revisions(database_url: str) -> set[str]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return applied_revisions(connection)
    finally:
        engine.dispose()


def head_revisions() -> set[str]:
    """The revisions this version of whoelse expects its database to be at."""
    return set(_scripts().get_heads())


def schema_problem(applied: set[str]) -> str | None:
    """Why a database at these revisions cannot be served by this version of whoelse, or None if it can."""
    heads = head_revisions()
    if applied == heads:
        return None
    if not applied:
        return "The database has no whoelse schema yet. Run `whoelse db upgrade` (make run does)."
    unknown = sorted(revision for revision in applied if not _known(revision))
    if unknown:
        return (
            f"The database schema is at {', '.join(unknown)}, which this version of whoelse does not know: a newer "
            "whoelse migrated it. Run that version (or downgrade the database with it)."
        )
    return (
        f"The database schema is behind this version of whoelse (at {', '.join(sorted(applied))}, needs "
        f"{', '.join(sorted(heads))}). Run `whoelse db upgrade`."
    )


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False

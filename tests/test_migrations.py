"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, select

import models
from bot.cli import alembic_config, upgrade_database
from models.base import Base
from models.db import sync_url
from models.nudges import Nudge
from models.workspaces import Workspace


def test_a_migrated_database_matches_the_models(database_url: str) -> None:
    for module in pkgutil.iter_modules(models.__path__):
        importlib.import_module(f"models.{module.name}")
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_a_moment_nudged_in_two_channels_before_one_per_workspace_was_enforced_keeps_both_nudges(
    database_url: str,
) -> None:
    command.downgrade(alembic_config(database_url), "0005_event_indexes")
    engine = create_engine(sync_url(database_url))
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    nudge = {"workspace_id": "T1", "subject_key": "deal:acme", "juncture": "deal.closed_won", "title": "Acme"}
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(Workspace).values(
                    id="T1", platform="slack", timezone="UTC", hourly_cap=6, junctures=[], created_at=now
                )
            )
            for channel in ("CDEALS", "CEMEA"):
                connection.execute(
                    insert(Nudge).values(
                        **nudge, channel_id=channel, status="scheduled", deliver_after=now, created_at=now
                    )
                )

        upgrade_database(database_url)

        with engine.connect() as connection:
            rows = connection.execute(select(Nudge.id, Nudge.channel_id, Nudge.juncture).order_by(Nudge.id)).all()
    finally:
        engine.dispose()
    (first_id, _, _), (second_id, _, _) = rows
    assert [tuple(row) for row in rows] == [
        (first_id, "CDEALS", "deal.closed_won"),
        (second_id, "CEMEA", f"deal.closed_won#{second_id}"),
    ]

"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import models
from models.base import Base
from models.db import sync_url


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

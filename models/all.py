"""Imports every table module, so the metadata (and Alembic) sees the whole schema."""

import importlib
import pkgutil

import models

for _module in pkgutil.iter_modules(models.__path__):
    if _module.name not in {"all", "base", "db"}:
        importlib.import_module(f"models.{_module.name}")

"""Every column that holds a secret sealed with bot.secret_box, so `whoelse keys rotate` can reseal them all.

A feature that stores a sealed secret lists its column here (text, in a table with a primary key).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

from models.connections import SourceConnection
from models.installations import SlackInstallation


def sealed_columns() -> list[InstrumentedAttribute[Any]]:
    return [
        SourceConnection.sealed_secrets,
        SlackInstallation.bot_token_sealed,
        SlackInstallation.bot_refresh_token_sealed,
    ]

"""Workspaces that removed whoelse: `uninstalled_at` records when (NULL for every workspace that still has it), so
nothing more is sent to them or scheduled for them, and their data is deleted once the grace period has passed

Revision ID: 0014_workspace_uninstalls
Revises: 0013_roundtable_outcomes
Create Date: 2026-12-02 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0014_workspace_uninstalls"
down_revision: str | Sequence[str] | None = "0013_roundtable_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("uninstalled_at", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("uninstalled_at")

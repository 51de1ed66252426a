"""source connections: a workspace connects its own CRM or helpdesk, each at its own webhook URL

Each connection has an unguessable URL key (so a delivery lands in the workspace whose URL it was sent to), the
vendor's secrets sealed with WHOELSE_ENCRYPTION_KEYS, and when it last received an event or refused one, and why.
One connection per workspace and source.

Revision ID: 0010_source_connections
Revises: 0009_slack_installations
Create Date: 2026-12-02 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0010_source_connections"
down_revision: str | Sequence[str] | None = "0009_slack_installations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKSPACE_ID = 64
PLATFORM_ID = 255


def upgrade() -> None:
    op.create_table(
        "source_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.String(WORKSPACE_ID), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("sealed_secrets", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("connected_by", sa.String(PLATFORM_ID), nullable=False),
        sa.Column("connected_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_event_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("last_error_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_source_connections_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_connections")),
        sa.UniqueConstraint("key", name=op.f("uq_source_connections_key")),
        sa.UniqueConstraint("workspace_id", "source", name=op.f("uq_source_connections_workspace_id_source")),
    )


def downgrade() -> None:
    op.drop_table("source_connections")

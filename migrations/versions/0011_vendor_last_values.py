"""The last value whoelse saw of a vendor record's property (HubSpot's change notifications carry only the new one)

Revision ID: 0011_vendor_last_values
Revises: 0010_source_connections
Create Date: 2026-12-02 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_vendor_last_values"
down_revision: str | Sequence[str] | None = "0010_source_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKSPACE_ID = 64


def upgrade() -> None:
    op.create_table(
        "vendor_last_values",
        sa.Column("workspace_id", sa.String(WORKSPACE_ID), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("object_key", sa.String(255), nullable=False),
        sa.Column("property", sa.String(128), nullable=False),
        sa.Column("value", sa.String(1000), nullable=False),
        sa.Column("changed_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_vendor_last_values_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("workspace_id", "source", "object_key", "property", name=op.f("pk_vendor_last_values")),
    )


def downgrade() -> None:
    op.drop_table("vendor_last_values")

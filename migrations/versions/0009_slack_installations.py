"""Slack installs: each workspace's own (sealed) bot token, and the install links under way

Revision ID: 0009_slack_installations
Revises: 0008_teams_conversations
Create Date: 2026-12-02 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_slack_installations"
down_revision: str | Sequence[str] | None = "0008_teams_conversations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKSPACE_ID = 64
PLATFORM_ID = 255
SEALED = 1024


def upgrade() -> None:
    op.create_table(
        "slack_installations",
        sa.Column("workspace_id", sa.String(WORKSPACE_ID), nullable=False),
        sa.Column("enterprise_id", sa.String(PLATFORM_ID), nullable=True),
        sa.Column("app_id", sa.String(PLATFORM_ID), nullable=True),
        sa.Column("team_name", sa.String(255), nullable=True),
        sa.Column("bot_id", sa.String(PLATFORM_ID), nullable=False),
        sa.Column("bot_user_id", sa.String(PLATFORM_ID), nullable=False),
        sa.Column("bot_scopes", sa.Text(), nullable=False),
        sa.Column("bot_token_sealed", sa.String(SEALED), nullable=False),
        sa.Column("bot_refresh_token_sealed", sa.String(SEALED), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("installer_user_id", sa.String(PLATFORM_ID), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_slack_installations_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_slack_installations")),
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_slack_oauth_states")),
    )
    op.create_index(op.f("ix_slack_oauth_states_expires_at"), "slack_oauth_states", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_slack_oauth_states_expires_at"), table_name="slack_oauth_states")
    op.drop_table("slack_oauth_states")
    op.drop_table("slack_installations")

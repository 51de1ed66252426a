"""elephant polls: weekly schedules, polls and anonymous submissions

Revision ID: 0004_elephant_polls
Revises: 0001_foundation
Create Date: 2026-11-23 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0004_elephant_polls"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "elephant_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("time_of_day", sa.Time(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("open_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("effective_from", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_elephant_schedules_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elephant_schedules")),
        sa.UniqueConstraint(
            "workspace_id", "channel_id", name=op.f("uq_elephant_schedules_workspace_id_channel_id")
        ),
    )
    op.create_table(
        "elephant_polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("opened_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("voting_opens_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closes_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("secret", sa.String(length=64), nullable=True),
        sa.Column("named_tokens", sa.JSON(), nullable=True),
        sa.Column("voted_tokens", sa.JSON(), nullable=True),
        sa.Column("reminded_tokens", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=True),
        sa.Column("poll_outbox_id", sa.Integer(), nullable=True),
        sa.Column("voting_outbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_elephant_polls_workspace_id_workspaces")
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["elephant_schedules.id"],
            name=op.f("fk_elephant_polls_schedule_id_elephant_schedules"),
        ),
        sa.ForeignKeyConstraint(
            ["poll_outbox_id"], ["outbox.id"], name=op.f("fk_elephant_polls_poll_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["voting_outbox_id"], ["outbox.id"], name=op.f("fk_elephant_polls_voting_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elephant_polls")),
        sa.UniqueConstraint("workspace_id", "key", name=op.f("uq_elephant_polls_workspace_id_key")),
    )
    with op.batch_alter_table("elephant_polls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_elephant_polls_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_elephant_polls_closes_at"), ["closes_at"], unique=False)

    op.create_table(
        "elephant_submissions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_elephant_submissions_workspace_id_workspaces")
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["elephant_polls.id"], name=op.f("fk_elephant_submissions_poll_id_elephant_polls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elephant_submissions")),
        # A rowid would number submissions in the order they arrived.
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("elephant_submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_elephant_submissions_poll_id"), ["poll_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("elephant_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_elephant_submissions_poll_id"))
    op.drop_table("elephant_submissions")
    with op.batch_alter_table("elephant_polls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_elephant_polls_closes_at"))
        batch_op.drop_index(batch_op.f("ix_elephant_polls_channel_id"))
    op.drop_table("elephant_polls")
    op.drop_table("elephant_schedules")

"""round-tables: a recurring meeting per channel, its meetings, reminders, RSVPs and debrief notes

Revision ID: 0003_roundtables
Revises: 0001_foundation
Create Date: 2026-11-23 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0003_roundtables"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "roundtables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("cadence", sa.String(length=16), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("week_of_month", sa.Integer(), nullable=True),
        sa.Column("time_of_day", sa.Time(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("anchor", sa.Date(), nullable=False),
        sa.Column("invitees", sa.JSON(), nullable=False),
        sa.Column("invited_groups", sa.JSON(), nullable=False),
        sa.Column("reminder_minutes", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("set_up_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_roundtables_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roundtables")),
        sa.UniqueConstraint("workspace_id", "channel_id", name=op.f("uq_roundtables_workspace_id_channel_id")),
    )
    op.create_table(
        "roundtable_meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("roundtable_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("agenda_outbox_id", sa.Integer(), nullable=True),
        sa.Column("rsvp_version", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("notes_by", sa.String(length=32), nullable=True),
        sa.Column("notes_version", sa.Integer(), nullable=False),
        sa.Column("debrief_outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_roundtable_meetings_workspace_id_workspaces")
        ),
        sa.ForeignKeyConstraint(
            ["roundtable_id"], ["roundtables.id"], name=op.f("fk_roundtable_meetings_roundtable_id_roundtables")
        ),
        sa.ForeignKeyConstraint(
            ["agenda_outbox_id"], ["outbox.id"], name=op.f("fk_roundtable_meetings_agenda_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["debrief_outbox_id"], ["outbox.id"], name=op.f("fk_roundtable_meetings_debrief_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roundtable_meetings")),
        sa.UniqueConstraint(
            "roundtable_id", "starts_at", name=op.f("uq_roundtable_meetings_roundtable_id_starts_at")
        ),
    )
    op.create_index(
        op.f("ix_roundtable_meetings_roundtable_id"), "roundtable_meetings", ["roundtable_id"], unique=False
    )
    op.create_table(
        "roundtable_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_roundtable_reminders_workspace_id_workspaces")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["roundtable_meetings.id"],
            name=op.f("fk_roundtable_reminders_meeting_id_roundtable_meetings"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_roundtable_reminders_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roundtable_reminders")),
        sa.UniqueConstraint(
            "meeting_id", "offset_minutes", name=op.f("uq_roundtable_reminders_meeting_id_offset_minutes")
        ),
    )
    op.create_index(
        op.f("ix_roundtable_reminders_meeting_id"), "roundtable_reminders", ["meeting_id"], unique=False
    )
    op.create_table(
        "roundtable_rsvps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("attending", sa.Boolean(), nullable=False),
        sa.Column("answered_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_roundtable_rsvps_workspace_id_workspaces")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["roundtable_meetings.id"],
            name=op.f("fk_roundtable_rsvps_meeting_id_roundtable_meetings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roundtable_rsvps")),
        sa.UniqueConstraint("meeting_id", "user_id", name=op.f("uq_roundtable_rsvps_meeting_id_user_id")),
    )
    op.create_index(op.f("ix_roundtable_rsvps_meeting_id"), "roundtable_rsvps", ["meeting_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_roundtable_rsvps_meeting_id"), table_name="roundtable_rsvps")
    op.drop_table("roundtable_rsvps")
    op.drop_index(op.f("ix_roundtable_reminders_meeting_id"), table_name="roundtable_reminders")
    op.drop_table("roundtable_reminders")
    op.drop_index(op.f("ix_roundtable_meetings_roundtable_id"), table_name="roundtable_meetings")
    op.drop_table("roundtable_meetings")
    op.drop_table("roundtables")

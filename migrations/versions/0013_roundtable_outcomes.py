"""Round-table outcomes: the polls each meeting's agenda took up, the pain point and decision per elephant, and the
action items that follow up on them (an owner, a due date, done or not, the one reminder)

Revision ID: 0013_roundtable_outcomes
Revises: 0012_poll_steering
Create Date: 2026-12-02 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base
from models.base import PLATFORM_ID_LENGTH, WORKSPACE_ID_LENGTH

revision: str = "0013_roundtable_outcomes"
down_revision: str | Sequence[str] | None = "0012_poll_steering"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An elephant's key: a UUID.
SUBMISSION_ID_LENGTH = 36


def _moment(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, models.base.UTCDateTime(timezone=True), nullable=nullable)


def _workspace(table: str) -> tuple[sa.Column[object], sa.ForeignKeyConstraint]:
    return (
        sa.Column("workspace_id", sa.String(WORKSPACE_ID_LENGTH), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f(f"fk_{table}_workspace_id_workspaces")),
    )


def _meeting(table: str) -> tuple[sa.Column[object], sa.ForeignKeyConstraint]:
    return (
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["roundtable_meetings.id"], name=op.f(f"fk_{table}_meeting_id_roundtable_meetings")
        ),
    )


def upgrade() -> None:
    op.create_table(
        "roundtable_agenda_polls",
        sa.Column("id", sa.Integer(), nullable=False),
        *_workspace("roundtable_agenda_polls"),
        *_meeting("roundtable_agenda_polls"),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        _moment("created_at"),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["elephant_polls.id"], name=op.f("fk_roundtable_agenda_polls_poll_id_elephant_polls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roundtable_agenda_polls")),
        sa.UniqueConstraint("workspace_id", "poll_id", name=op.f("uq_roundtable_agenda_polls_workspace_id_poll_id")),
    )
    op.create_index(
        op.f("ix_roundtable_agenda_polls_meeting_id"), "roundtable_agenda_polls", ["meeting_id"], unique=False
    )
    op.create_table(
        "roundtable_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        *_workspace("roundtable_outcomes"),
        *_meeting("roundtable_outcomes"),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.String(SUBMISSION_ID_LENGTH), nullable=False),
        sa.Column("pain_point", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(PLATFORM_ID_LENGTH), nullable=False),
        _moment("updated_at"),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["elephant_polls.id"], name=op.f("fk_roundtable_outcomes_poll_id_elephant_polls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roundtable_outcomes")),
        sa.UniqueConstraint(
            "meeting_id", "submission_id", name=op.f("uq_roundtable_outcomes_meeting_id_submission_id")
        ),
    )
    op.create_index(op.f("ix_roundtable_outcomes_meeting_id"), "roundtable_outcomes", ["meeting_id"], unique=False)
    op.create_index(op.f("ix_roundtable_outcomes_poll_id"), "roundtable_outcomes", ["poll_id"], unique=False)
    op.create_table(
        "roundtable_action_items",
        sa.Column("id", sa.Integer(), nullable=False),
        *_workspace("roundtable_action_items"),
        *_meeting("roundtable_action_items"),
        sa.Column("submission_id", sa.String(SUBMISSION_ID_LENGTH), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.String(PLATFORM_ID_LENGTH), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        _moment("done_at", nullable=True),
        sa.Column("reminder_outbox_id", sa.Integer(), nullable=True),
        _moment("created_at"),
        sa.ForeignKeyConstraint(
            ["reminder_outbox_id"], ["outbox.id"], name=op.f("fk_roundtable_action_items_reminder_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roundtable_action_items")),
        sa.UniqueConstraint(
            "meeting_id", "submission_id", name=op.f("uq_roundtable_action_items_meeting_id_submission_id")
        ),
    )
    op.create_index(
        op.f("ix_roundtable_action_items_meeting_id"), "roundtable_action_items", ["meeting_id"], unique=False
    )
    op.create_index(op.f("ix_roundtable_action_items_due_on"), "roundtable_action_items", ["due_on"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_roundtable_action_items_due_on"), table_name="roundtable_action_items")
    op.drop_index(op.f("ix_roundtable_action_items_meeting_id"), table_name="roundtable_action_items")
    op.drop_table("roundtable_action_items")
    op.drop_index(op.f("ix_roundtable_outcomes_poll_id"), table_name="roundtable_outcomes")
    op.drop_index(op.f("ix_roundtable_outcomes_meeting_id"), table_name="roundtable_outcomes")
    op.drop_table("roundtable_outcomes")
    op.drop_index(op.f("ix_roundtable_agenda_polls_meeting_id"), table_name="roundtable_agenda_polls")
    op.drop_table("roundtable_agenda_polls")

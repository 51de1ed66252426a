"""Teams: ids as long as Teams' own, and where each Teams conversation can be reached

A Teams tenant id (a workspace) is a 36-character GUID, and Teams conversation and user ids run to a hundred characters
and more: the id columns grow to hold them (Slack's ids are unchanged). Conversation references are kept so that
scheduled posts can reach a conversation proactively, at the service URL Teams gave for it.

Revision ID: 0008_teams_conversations
Revises: 0007_outbox_first_attempt
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_teams_conversations"
down_revision: str | Sequence[str] | None = "0007_outbox_first_attempt"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKSPACE_ID = (32, 64)
PLATFORM_ID = 255
# (table, column, nullable, old length) for every column that holds a channel, conversation, user or message id.
PLATFORM_ID_COLUMNS = [
    ("channel_watches", "channel_id", False, 32),
    ("channel_watches", "created_by", False, 32),
    ("events", "channel_id", True, 32),
    ("outbox", "channel_id", True, 32),
    ("outbox", "dm_user_id", True, 32),
    ("outbox", "ephemeral_user_id", True, 32),
    ("outbox", "thread_ts", True, 64),
    ("outbox", "sent_channel_id", True, 32),
    ("outbox", "sent_ts", True, 64),
    ("snoozes", "user_id", False, 32),
    ("nudges", "channel_id", False, 32),
    ("nudges", "created_by", True, 32),
    ("loop_ins", "by_user", False, 32),
    ("loop_ins", "looped_user", True, 32),
    ("help_exchanges", "user_id", False, 32),
    ("roundtables", "channel_id", False, 32),
    ("roundtables", "set_up_by", False, 32),
    ("roundtable_meetings", "notes_by", True, 32),
    ("roundtable_rsvps", "user_id", False, 32),
    ("elephant_schedules", "channel_id", False, 32),
    ("elephant_polls", "channel_id", False, 32),
]
WORKSPACE_TABLES = [
    "channel_watches",
    "events",
    "outbox",
    "snoozes",
    "nudges",
    "loop_ins",
    "help_exchanges",
    "roundtables",
    "roundtable_meetings",
    "roundtable_reminders",
    "roundtable_rsvps",
    "elephant_schedules",
    "elephant_polls",
    "elephant_submissions",
]


def _resize(new_platform: int | None, new_workspace: int) -> None:
    columns: dict[str, list[tuple[str, bool, int]]] = {}
    for table, column, nullable, old in PLATFORM_ID_COLUMNS:
        columns.setdefault(table, []).append((column, nullable, new_platform or old))
    for table in WORKSPACE_TABLES:
        columns.setdefault(table, []).append(("workspace_id", False, new_workspace))
    with op.batch_alter_table("workspaces") as batch:
        batch.alter_column("id", type_=sa.String(new_workspace), existing_nullable=False)
    for table, changes in columns.items():
        with op.batch_alter_table(table) as batch:
            for column, nullable, length in changes:
                batch.alter_column(column, type_=sa.String(length), existing_nullable=nullable)


def upgrade() -> None:
    _resize(PLATFORM_ID, WORKSPACE_ID[1])
    op.create_table(
        "teams_conversations",
        sa.Column("workspace_id", sa.String(WORKSPACE_ID[1]), nullable=False),
        sa.Column("conversation_id", sa.String(PLATFORM_ID), nullable=False),
        sa.Column("service_url", sa.String(2000), nullable=False),
        sa.Column("conversation_type", sa.String(16), nullable=False),
        sa.Column("team_id", sa.String(PLATFORM_ID), nullable=True),
        sa.Column("user_id", sa.String(PLATFORM_ID), nullable=True),
        sa.Column("installed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_teams_conversations_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("workspace_id", "conversation_id", name=op.f("pk_teams_conversations")),
    )
    op.create_index(
        op.f("ix_teams_conversations_user_id"), "teams_conversations", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_teams_conversations_user_id"), table_name="teams_conversations")
    op.drop_table("teams_conversations")
    _resize(None, WORKSPACE_ID[0])

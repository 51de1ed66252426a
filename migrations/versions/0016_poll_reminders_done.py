"""elephant polls remember that every channel member has taken part or been reminded

Once set, the reminder pass no longer reads the poll's channel members from the chat platform. A flag, not a list:
it tells nothing about who answered.

Revision ID: 0016_poll_reminders_done
Revises: 0015_several_action_items
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_poll_reminders_done"
down_revision: str | Sequence[str] | None = "0015_several_action_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("elephant_polls") as batch:
        batch.add_column(sa.Column("reminders_done", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("elephant_polls") as batch:
        batch.drop_column("reminders_done")

"""an elephant can have several action items per meeting: each is one row of the notes form (its position)

Existing action items become the first row of their elephant.

Revision ID: 0015_several_action_items
Revises: 0014_workspace_uninstalls
Create Date: 2026-12-02 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_several_action_items"
down_revision: str | Sequence[str] | None = "0014_workspace_uninstalls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "roundtable_action_items"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="1"))
        batch.drop_constraint(op.f("uq_roundtable_action_items_meeting_id_submission_id"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_roundtable_action_items_meeting_id_submission_id_position"),
            ["meeting_id", "submission_id", "position"],
        )
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("position", server_default=None)


def downgrade() -> None:
    # Only each elephant's first action item fits the older schema.
    op.execute(sa.text(f"DELETE FROM {TABLE} WHERE position > 1"))
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(op.f("uq_roundtable_action_items_meeting_id_submission_id_position"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_roundtable_action_items_meeting_id_submission_id"), ["meeting_id", "submission_id"]
        )
        batch.drop_column("position")

"""one nudge per deal or ticket per moment in the whole workspace, not per channel

The rule was always per workspace (asking about one moment in two channels splits the answers), but the database only
held it per channel: two events about the same moment with different channels, decided at the same instant by two
replicas, could both nudge. The unique key now says what the rule says, and serves the moment look-up that
ix_nudges_moment served.

Revision ID: 0006_one_nudge_per_moment
Revises: 0005_event_indexes
Create Date: 2026-12-01 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_one_nudge_per_moment"
down_revision: str | Sequence[str] | None = "0005_event_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JUNCTURE_LENGTH = 160


def upgrade() -> None:
    connection = op.get_bind()
    # A moment nudged twice before this rule keeps both nudges and their answers: every one after the first is told
    # apart by its id, so nothing recorded is lost and the new key holds.
    repeats = connection.execute(
        sa.text(
            "SELECT later.id, later.juncture FROM nudges AS later "
            "WHERE later.subject_key IS NOT NULL AND EXISTS ("
            "SELECT 1 FROM nudges AS first WHERE first.workspace_id = later.workspace_id "
            "AND first.subject_key = later.subject_key AND first.juncture = later.juncture AND first.id < later.id)"
        )
    ).all()
    for nudge_id, juncture in repeats:
        suffix = f"#{nudge_id}"
        connection.execute(
            sa.text("UPDATE nudges SET juncture = :juncture WHERE id = :id"),
            {"juncture": juncture[: JUNCTURE_LENGTH - len(suffix)] + suffix, "id": nudge_id},
        )
    with op.batch_alter_table("nudges") as batch:
        batch.drop_constraint("uq_nudges_workspace_id_channel_id_subject_key_juncture", type_="unique")
        batch.drop_index("ix_nudges_moment")
        batch.create_unique_constraint(
            "uq_nudges_workspace_id_subject_key_juncture", ["workspace_id", "subject_key", "juncture"]
        )


def downgrade() -> None:
    with op.batch_alter_table("nudges") as batch:
        batch.drop_constraint("uq_nudges_workspace_id_subject_key_juncture", type_="unique")
        batch.create_index("ix_nudges_moment", ["workspace_id", "subject_key", "juncture"])
        batch.create_unique_constraint(
            "uq_nudges_workspace_id_channel_id_subject_key_juncture",
            ["workspace_id", "channel_id", "subject_key", "juncture"],
        )

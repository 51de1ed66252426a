"""indexes for deciding on events: the undecided events, a moment already asked about, a channel's past hour

The events' workspace index is dropped: the unique key (workspace_id, source, external_id) already serves it.

Revision ID: 0005_event_indexes
Revises: 0002_scheduler_jobs, 0003_roundtables, 0004_elephant_polls
Create Date: 2026-11-30 21:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_event_indexes"
down_revision: str | Sequence[str] | None = ("0002_scheduler_jobs", "0003_roundtables", "0004_elephant_polls")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDECIDED = sa.text("outcome IS NULL")


def upgrade() -> None:
    # The intake looks for undecided events on every pass; without this it read every event ever received to find
    # the few new ones at the end.
    op.create_index("ix_events_undecided", "events", ["id"], sqlite_where=UNDECIDED, postgresql_where=UNDECIDED)
    # (workspace_id, source, external_id) is unique, and its index serves lookups by workspace_id alone.
    op.drop_index("ix_events_workspace_id", table_name="events")
    # Without these, deciding on an event read every nudge of the workspace, and got slower every day.
    op.create_index("ix_nudges_moment", "nudges", ["workspace_id", "subject_key", "juncture"])
    op.create_index("ix_nudges_channel_deliver_after", "nudges", ["workspace_id", "channel_id", "deliver_after"])


def downgrade() -> None:
    op.drop_index("ix_nudges_channel_deliver_after", table_name="nudges")
    op.drop_index("ix_nudges_moment", table_name="nudges")
    op.create_index("ix_events_workspace_id", "events", ["workspace_id"])
    op.drop_index("ix_events_undecided", table_name="events")

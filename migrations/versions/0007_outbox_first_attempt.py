"""outbox rows remember when their first attempt began

Slack sometimes stores a post and still answers 5xx. The retry searches the channel for it, and searched only from
shortly before its own (latest) attempt: once backoff had pushed retries past that window the landed post was missed
and the message was posted twice. The search now starts from the first attempt. Rows already being retried have no
first attempt recorded; their next claim takes their latest attempt's start, the best bound there is.

Revision ID: 0007_outbox_first_attempt
Revises: 0006_one_nudge_per_moment
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0007_outbox_first_attempt"
down_revision: str | Sequence[str] | None = "0006_one_nudge_per_moment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("first_attempt_at", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("first_attempt_at")

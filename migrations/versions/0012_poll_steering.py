"""Elephant polls people can steer: who started each poll, overlapping naming and voting, who may steer

A poll records who started it (NULL for polls a weekly schedule opened; the schedule records who set it), so that
person and workspace admins can close it early. Polls and schedules get a mode: "overlap" (naming and voting at the
same time, the new default for schedules) or "two_phase" (naming, then voting; every poll opened before this
revision ran that way). Overlapping polls keep which elephants each person has already judged as HMAC tokens, like
the other token arrays, and remember what they last announced. Closing a poll now also keeps how many people voted
(a count, like `participants`), for the channel's poll history. Workspaces get `poll_steering`: who may start, stop
and reschedule polls and round-tables ("anyone", or "admins_and_creator").

Revision ID: 0012_poll_steering
Revises: 0011_vendor_last_values
Create Date: 2026-12-02 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_poll_steering"
down_revision: str | Sequence[str] | None = "0011_vendor_last_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLATFORM_ID = 255


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("poll_steering", sa.String(32), nullable=False, server_default="anyone"))
    with op.batch_alter_table("elephant_schedules") as batch:
        batch.add_column(sa.Column("created_by", sa.String(PLATFORM_ID), nullable=True))
        batch.add_column(sa.Column("mode", sa.String(16), nullable=False, server_default="overlap"))
    with op.batch_alter_table("elephant_polls") as batch:
        batch.add_column(sa.Column("started_by", sa.String(PLATFORM_ID), nullable=True))
        batch.add_column(sa.Column("mode", sa.String(16), nullable=False, server_default="two_phase"))
        batch.add_column(sa.Column("seen_tokens", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("announced_named", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("announced_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("voters", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("elephant_polls") as batch:
        batch.drop_column("voters")
        batch.drop_column("announced_on")
        batch.drop_column("announced_named")
        batch.drop_column("seen_tokens")
        batch.drop_column("mode")
        batch.drop_column("started_by")
    with op.batch_alter_table("elephant_schedules") as batch:
        batch.drop_column("mode")
        batch.drop_column("created_by")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("poll_steering")

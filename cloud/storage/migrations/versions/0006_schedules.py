"""Time-of-day access profiles: a time zone per site, named schedules per site, and the
schedule a vehicle, a tag or a subscription is bound to.

Revision ID: 0006_schedules
Revises: 0005_delivery_backoff
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_schedules"
down_revision = "0005_delivery_backoff"
branch_labels = None
depends_on = None

BOUND = ("vehicles", "tags", "subscriptions")


def upgrade() -> None:
    with op.batch_alter_table("sites") as t:
        t.add_column(sa.Column("timezone", sa.Text(), nullable=True))
    op.create_table(
        "schedules", sa.Column("site", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False, server_default=""),
        sa.Column("windows", sa.Text(), nullable=False),
        sa.Column("holidays", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("site", "name"),
        sa.ForeignKeyConstraint(["site"], ["sites.id"]))
    for table in BOUND:
        with op.batch_alter_table(table) as t:
            t.add_column(sa.Column("schedule", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in BOUND:
        with op.batch_alter_table(table) as t:
            t.drop_column("schedule")
    op.drop_table("schedules")
    with op.batch_alter_table("sites") as t:
        t.drop_column("timezone")

"""deliveries.next_at: a delivery its channel refused is tried again after a back-off, not at
every run.

Revision ID: 0005_delivery_backoff
Revises: 0004_fleet_trust
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_delivery_backoff"
down_revision = "0004_fleet_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as t:
        t.add_column(sa.Column("next_at", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as t:
        t.drop_column("next_at")

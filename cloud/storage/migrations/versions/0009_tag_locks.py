"""Who locked a tag and when (a resident from the app, or staff), for staff and the flat.

Revision ID: 0009_tag_locks
Revises: 0008_tag_inventory
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_tag_locks"
down_revision = "0008_tag_inventory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tags") as t:
        t.add_column(sa.Column("locked_by", sa.Text(), nullable=True))
        t.add_column(sa.Column("locked_at", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tags") as t:
        t.drop_column("locked_at")
        t.drop_column("locked_by")

"""FITkit stickers: a sticker of kind ``fitkit`` has a tag id and a secret but no EPC of its
own until it is activated, when it binds the EPC of the vehicle's FASTag (looked up at the FASTag
registry); ``fastag_checked_at`` is when the daily job last checked that binding.

Revision ID: 0010_fitkit
Revises: 0009_tag_locks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_fitkit"
down_revision = "0009_tag_locks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tag_inventory") as t:
        t.add_column(sa.Column("kind", sa.Text(), nullable=False, server_default="sticker"))
        t.add_column(sa.Column("fastag_checked_at", sa.Text(), nullable=True))
        t.alter_column("epc", existing_type=sa.Text(), nullable=True)
        t.create_check_constraint("tag_inventory_kind", "kind IN ('sticker', 'fitkit')")
    op.create_index("tag_inventory_kind", "tag_inventory", ["kind"])


def downgrade() -> None:
    op.drop_index("tag_inventory_kind", "tag_inventory")
    with op.batch_alter_table("tag_inventory") as t:
        t.drop_constraint("tag_inventory_kind", type_="check")
        t.alter_column("epc", existing_type=sa.Text(), nullable=False)
        t.drop_column("fastag_checked_at")
        t.drop_column("kind")

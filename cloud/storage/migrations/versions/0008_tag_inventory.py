"""The sticker inventory: each sticker's printed tag id, the slow hash of its secret code, its
EPC, the vehicle type it is made for and the society it is mapped to, and when it was
activated, blocked or replaced; and the failed activations counted per tag id and resident.

Revision ID: 0008_tag_inventory
Revises: 0007_residents
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_tag_inventory"
down_revision = "0007_residents"
branch_labels = None
depends_on = None

T = sa.Text


def upgrade() -> None:
    op.create_table(
        "tag_inventory", sa.Column("tag_id", T(), primary_key=True),
        sa.Column("epc", T(), nullable=False, unique=True),
        sa.Column("site", T(), nullable=False), sa.Column("vehicle_type", T(), nullable=False),
        sa.Column("secret_hash", T(), nullable=False), sa.Column("batch", T(), nullable=False),
        sa.Column("imported_at", T(), nullable=False), sa.Column("activated_at", T()),
        sa.Column("resident", T()), sa.Column("replaced_by", T()),
        sa.ForeignKeyConstraint(["site"], ["sites.id"]),
        sa.CheckConstraint("vehicle_type IN ('2W', '4W')", name="tag_inventory_type"))
    op.create_index("tag_inventory_site", "tag_inventory", ["site"])
    # Wrong secrets (and unknown tag ids) per tag id and per resident: a tag id must not be
    # guessable by brute force (``cloud.people.activation``).
    op.create_table(
        "activation_failures", sa.Column("key", T(), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", T()), sa.Column("last_at", T(), nullable=False))


def downgrade() -> None:
    op.drop_table("activation_failures")
    op.drop_table("tag_inventory")

"""Residents: people with a phone number (E.164), a name and the flats they live in; a
vehicle may belong to one, with its make and model.

Revision ID: 0007_residents
Revises: 0006_schedules
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_residents"
down_revision = "0006_schedules"
branch_labels = None
depends_on = None

T = sa.Text


def upgrade() -> None:
    op.create_table(
        "residents", sa.Column("id", T(), primary_key=True),
        sa.Column("phone", T(), nullable=False), sa.Column("name", T(), nullable=False),
        sa.Column("created_at", T(), nullable=False), sa.Column("removed_at", T()))
    # One live resident per phone number; a removed one keeps its row (events name it).
    op.create_index("residents_phone", "residents", ["phone"], unique=True,
                    sqlite_where=sa.text("removed_at IS NULL"),
                    postgresql_where=sa.text("removed_at IS NULL"))
    op.create_table(
        "resident_flats", sa.Column("resident", T(), nullable=False),
        sa.Column("site", T(), nullable=False), sa.Column("flat", T(), nullable=False),
        sa.Column("role", T(), nullable=False),
        sa.PrimaryKeyConstraint("resident", "site", "flat"),
        sa.ForeignKeyConstraint(["resident"], ["residents.id"]),
        sa.ForeignKeyConstraint(["site"], ["sites.id"]),
        sa.CheckConstraint("role IN ('owner', 'tenant')", name="resident_flats_role"))
    op.create_index("resident_flats_site", "resident_flats", ["site", "flat"])
    with op.batch_alter_table("vehicles") as t:
        t.add_column(sa.Column("resident", T(), nullable=True))
        t.add_column(sa.Column("make", T(), nullable=False, server_default=""))
        t.add_column(sa.Column("model", T(), nullable=False, server_default=""))
    op.create_index("vehicles_resident", "vehicles", ["resident"])


def downgrade() -> None:
    op.drop_index("vehicles_resident", table_name="vehicles")
    with op.batch_alter_table("vehicles") as t:
        t.drop_column("model")
        t.drop_column("make")
        t.drop_column("resident")
    op.drop_table("resident_flats")
    op.drop_table("residents")

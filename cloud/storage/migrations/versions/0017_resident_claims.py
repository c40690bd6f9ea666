"""Residents' vehicle claims waiting for staff, and guess counters that hold under concurrency.

A resident who says a vehicle registered without them is theirs, without the secret of the
sticker on it, files a claim that staff confirm or refuse (``vehicle_claims``). Every secret a
resident types (activation, replacement, a claim's proof) first takes an attempt from counters
kept per source address, per resident and per sticker (``guess_counters``), counted in the
database so that concurrent requests, in any cloud process, cannot check more than the budget.

Revision ID: 0017_resident_claims
Revises: 0016_code_auto_issue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_resident_claims"
down_revision = "0016_code_auto_issue"
branch_labels = None
depends_on = None

T = sa.Text


def upgrade() -> None:
    op.create_table(
        "vehicle_claims", sa.Column("id", sa.Integer(), primary_key=True,
                                    autoincrement=True),
        sa.Column("site", T(), nullable=False), sa.Column("vrn", T(), nullable=False),
        sa.Column("resident", T(), nullable=False), sa.Column("status", T(), nullable=False),
        sa.Column("created_at", T(), nullable=False), sa.Column("decided_at", T()),
        sa.Column("decided_by", T()), sa.Column("note", T()),
        sa.ForeignKeyConstraint(["site"], ["sites.id"]),
        sa.ForeignKeyConstraint(["resident"], ["residents.id"]),
        sa.CheckConstraint("status IN ('pending', 'confirmed', 'refused', 'cancelled')",
                           name="vehicle_claims_status"))
    op.create_index("vehicle_claims_site", "vehicle_claims", ["site", "status"])
    # One pending claim per resident and vehicle: a claim sent twice (or twice at once) is one.
    op.create_index("vehicle_claims_pending", "vehicle_claims", ["site", "vrn", "resident"],
                    unique=True, sqlite_where=sa.text("status = 'pending'"),
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "guess_counters", sa.Column("key", T(), primary_key=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.Float()), sa.Column("last_at", sa.Float(), nullable=False))


def downgrade() -> None:
    op.drop_table("guess_counters")
    op.drop_index("vehicle_claims_pending", table_name="vehicle_claims")
    op.drop_index("vehicle_claims_site", table_name="vehicle_claims")
    op.drop_table("vehicle_claims")

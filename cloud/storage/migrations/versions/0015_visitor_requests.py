"""Walk-in visitors: a guard asks a flat's residents from the gate's panel, one of them
approves or denies, and the gate opens for an approved visitor once.

Revision ID: 0015_visitor_requests
Revises: 0014_code_regimes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_visitor_requests"
down_revision = "0014_code_regimes"
branch_labels = None
depends_on = None

T = sa.Text


def upgrade() -> None:
    op.create_table(
        "visitor_requests", sa.Column("id", T(), primary_key=True),
        sa.Column("site", T(), nullable=False), sa.Column("gate", T(), nullable=False),
        sa.Column("edge", T(), nullable=False), sa.Column("flat", T(), nullable=False),
        sa.Column("name", T(), nullable=False), sa.Column("kind", T(), nullable=False),
        sa.Column("phone", T()), sa.Column("vrn", T()),
        sa.Column("status", T(), nullable=False), sa.Column("asked_by", T(), nullable=False),
        sa.Column("asked_at", T(), nullable=False), sa.Column("expires_at", T(), nullable=False),
        sa.Column("answered_at", T()), sa.Column("answered_by", T()),
        sa.Column("answered_name", T()), sa.Column("entered_at", T()),
        sa.Column("event_id", T()),
        sa.ForeignKeyConstraint(["site"], ["sites.id"]),
        sa.CheckConstraint("status IN ('pending', 'approved', 'denied', 'entered')",
                           name="visitor_requests_status"))
    op.create_index("visitor_requests_flat", "visitor_requests", ["site", "flat", "status"])


def downgrade() -> None:
    op.drop_table("visitor_requests")

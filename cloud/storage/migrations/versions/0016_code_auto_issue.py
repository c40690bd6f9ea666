"""A site may have the daily job issue codes to people who became eligible (the seed's robot
generates the "additional" codes every day).

Revision ID: 0016_code_auto_issue
Revises: 0015_visitor_requests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_code_auto_issue"
down_revision = "0015_visitor_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site_code_settings") as t:
        t.add_column(sa.Column("auto_issue", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("site_code_settings") as t:
        t.drop_column("auto_issue")

"""job_runs: when each periodic job last ran, so several cloud processes run it once a period.

Revision ID: 0003_job_runs
Revises: 0002_row_order
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_job_runs"
down_revision = "0002_row_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs", sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False))


def downgrade() -> None:
    op.drop_table("job_runs")

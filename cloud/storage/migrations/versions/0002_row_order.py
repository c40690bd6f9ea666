"""sub_history and occupancy_log get an id in insertion order (they sorted by SQLite's rowid,
which PostgreSQL does not have).

Revision ID: 0002_row_order
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_row_order"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

T, I = sa.Text, sa.Integer  # noqa: E741 (short names keep the tables readable)


def _with_id(table: str, cols: list[sa.Column], index: tuple[str, list[str]] | None) -> None:
    names = ", ".join(c.name for c in cols)
    # The old rows keep their order: SQLite's rowid, or where PostgreSQL put them.
    order = "rowid" if op.get_bind().dialect.name == "sqlite" else "ctid"
    if index:
        op.drop_index(index[0], table_name=table)
    op.rename_table(table, f"{table}_old")
    op.create_table(table, sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
                    *cols)
    op.execute(f"INSERT INTO {table}({names}) SELECT {names} FROM {table}_old ORDER BY {order}")
    op.drop_table(f"{table}_old")
    if index:
        op.create_index(index[0], table, index[1])


def upgrade() -> None:
    _with_id("sub_history", [
        sa.Column("sub", T(), nullable=False), sa.Column("at", T(), nullable=False),
        sa.Column("what", T(), nullable=False),
        sa.Column("detail", T(), nullable=False, server_default="")],
        ("sub_history_sub", ["sub"]))
    _with_id("occupancy_log", [
        sa.Column("parking", T(), nullable=False), sa.Column("space", I(), nullable=False),
        sa.Column("vrn", T()), sa.Column("sub", T()), sa.Column("inside", I(), nullable=False),
        sa.Column("at", T(), nullable=False), sa.Column("source", T(), nullable=False)],
        None)


def downgrade() -> None:
    op.drop_column("sub_history", "id")
    op.drop_column("occupancy_log", "id")

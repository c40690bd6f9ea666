"""A site's country, language and currency (beside its time zone): plates are validated by the
country, and the faces show words, money and times in the site's own. Sites of before are
Indian, in English, in rupees.

Revision ID: 0021_site_country
Revises: 0020_code_hardening
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_site_country"
down_revision = "0020_code_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as t:
        t.add_column(sa.Column("country", sa.Text(), nullable=False, server_default="IN"))
        t.add_column(sa.Column("locale", sa.Text(), nullable=False, server_default="en"))
        t.add_column(sa.Column("currency", sa.Text(), nullable=False, server_default="INR"))


def downgrade() -> None:
    # In place (SQLite 3.35 and PostgreSQL drop a column so): a batch would copy ``sites``,
    # whose rows every other table's foreign keys hold on to.
    for column in ("currency", "locale", "country"):
        op.execute(f"ALTER TABLE sites DROP COLUMN {column}")

"""Codes a stolen box cannot give away: each site's codes are hashed by scrypt under a salt
with a pepper that only its boxes receive (``shared.codes.CodeKey``), in generations a rotation
renews; a code remembers the generation its hash is of. Sites of before keep their HMAC key
(generation 0) until staff rotate them.

Revision ID: 0020_code_hardening
Revises: 0019_partner_privacy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_code_hardening"
down_revision = "0019_partner_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site_code_settings") as t:
        t.alter_column("code_key", existing_type=sa.Text(), nullable=True)
        t.add_column(sa.Column("code_salt", sa.Text()))
        t.add_column(sa.Column("code_pepper", sa.Text()))
        t.add_column(sa.Column("code_cost", sa.Integer()))
        t.add_column(sa.Column("code_generation", sa.Integer(), nullable=False,
                               server_default="0"))
    with op.batch_alter_table("access_codes") as t:
        t.add_column(sa.Column("key_generation", sa.Integer(), nullable=False,
                               server_default="0"))


def downgrade() -> None:
    # A site hashed by scrypt has no HMAC key: it gets its pepper as one (its gates refuse its
    # codes until they are issued again under that key).
    op.execute("UPDATE site_code_settings SET code_key = code_pepper WHERE code_key IS NULL")
    with op.batch_alter_table("access_codes") as t:
        t.drop_column("key_generation")
    with op.batch_alter_table("site_code_settings") as t:
        t.drop_column("code_generation")
        t.drop_column("code_cost")
        t.drop_column("code_pepper")
        t.drop_column("code_salt")
        t.alter_column("code_key", existing_type=sa.Text(), nullable=False)

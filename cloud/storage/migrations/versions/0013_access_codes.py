"""Access codes and visitor passes: each site's code settings (alphabet, length, how many a
person may hold, lifetimes, whether a first use at a gate activates, and the HMAC key its gates
hash codes with), every code ever issued (its digest, kept forever, so no code is ever issued
twice), and the codes themselves.

Revision ID: 0013_access_codes
Revises: 0012_legacy_owners
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_access_codes"
down_revision = "0012_legacy_owners"
branch_labels = None
depends_on = None

T = sa.Text
I = sa.Integer  # noqa: E741


def upgrade() -> None:
    op.create_table(
        "site_code_settings", sa.Column("site", T(), primary_key=True),
        sa.Column("alphabet", T(), nullable=False), sa.Column("length", I(), nullable=False),
        sa.Column("per_person", I(), nullable=False),
        sa.Column("activation_days", I(), nullable=False),
        sa.Column("duration_days", I(), nullable=False),
        sa.Column("first_use_activates", I(), nullable=False),
        sa.Column("code_key", T(), nullable=False), sa.Column("updated_at", T(), nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.id"]),
        sa.CheckConstraint("alphabet IN ('digits', 'letters')", name="code_alphabet"),
        sa.CheckConstraint("length BETWEEN 8 AND 10", name="code_length"),
        sa.CheckConstraint("per_person BETWEEN 1 AND 4", name="code_per_person"))
    op.create_table(
        "code_registry", sa.Column("digest", T(), primary_key=True),
        sa.Column("issued_at", T(), nullable=False))
    op.create_table(
        "access_codes", sa.Column("id", T(), primary_key=True),
        sa.Column("site", T(), nullable=False), sa.Column("kind", T(), nullable=False),
        sa.Column("holder", T(), nullable=False), sa.Column("code", T(), nullable=False),
        sa.Column("hash", T(), nullable=False), sa.Column("status", T(), nullable=False),
        sa.Column("issued_at", T(), nullable=False), sa.Column("activate_by", T()),
        sa.Column("activated_at", T()), sa.Column("valid_from", T()),
        sa.Column("valid_until", T()), sa.Column("single_use", I(), nullable=False),
        sa.Column("schedule", T()), sa.Column("flat", T()), sa.Column("vrn", T()),
        sa.Column("label", T(), nullable=False, server_default=""),
        sa.Column("visitor_kind", T()), sa.Column("visitor_phone", T()),
        sa.Column("used_at", T()), sa.Column("created_by", T(), nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.id"]),
        sa.UniqueConstraint("site", "hash", name="access_codes_hash"),
        sa.CheckConstraint("kind IN ('person', 'visitor')", name="access_codes_kind"),
        sa.CheckConstraint("status IN ('issued', 'active', 'cancelled', 'expired', 'spent')",
                           name="access_codes_status"))
    op.create_index("access_codes_holder", "access_codes", ["holder", "site", "kind"])


def downgrade() -> None:
    op.drop_table("access_codes")
    op.drop_table("code_registry")
    op.drop_table("site_code_settings")

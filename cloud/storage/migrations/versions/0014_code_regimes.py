"""Who gets access codes and how they renew: a site's eligible kinds of people and which of
them are free (the others are on subscription), the subscription's duration and how many days
before expiry each regime's renewal is checked; a code's regime; residents that are companies
(never given codes); committee members with their mandates; what each person has paid for their
codes (the courtesy month included); and the indexes the daily renewal job reads by.

Revision ID: 0014_code_regimes
Revises: 0013_access_codes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_code_regimes"
down_revision = "0013_access_codes"
branch_labels = None
depends_on = None

T = sa.Text
I = sa.Integer  # noqa: E741


def upgrade() -> None:
    with op.batch_alter_table("site_code_settings") as t:
        t.add_column(sa.Column("eligible", T(), nullable=False,
                               server_default="owner,tenant,committee"))
        t.add_column(sa.Column("free", T(), nullable=False, server_default="committee"))
        t.add_column(sa.Column("subscription_days", I(), nullable=False, server_default="60"))
        t.add_column(sa.Column("renew_before_free", I(), nullable=False, server_default="2"))
        t.add_column(sa.Column("renew_before_subscription", I(), nullable=False,
                               server_default="2"))
    with op.batch_alter_table("access_codes") as t:
        t.add_column(sa.Column("regime", T(), nullable=True))
        t.add_column(sa.Column("renewed_at", T(), nullable=True))
    op.execute("UPDATE access_codes SET regime = 'subscription' WHERE kind = 'person'")
    op.create_index("access_codes_due", "access_codes", ["status", "valid_until"])
    op.create_index("access_codes_activate_by", "access_codes", ["status", "activate_by"])
    with op.batch_alter_table("residents") as t:
        t.add_column(sa.Column("company", I(), nullable=False, server_default="0"))
    op.create_table(
        "committee_members", sa.Column("site", T(), nullable=False),
        sa.Column("resident", T(), nullable=False), sa.Column("role", T(), nullable=False),
        sa.Column("flat", T()), sa.Column("external", I(), nullable=False, server_default="0"),
        sa.Column("mandate_start", T()), sa.Column("mandate_end", T()),
        sa.Column("updated_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("site", "resident"),
        sa.ForeignKeyConstraint(["site"], ["sites.id"]),
        sa.ForeignKeyConstraint(["resident"], ["residents.id"]))
    op.create_table(
        "code_payments", sa.Column("site", T(), nullable=False),
        sa.Column("resident", T(), nullable=False),
        sa.Column("courtesy_until", T(), nullable=False),
        sa.Column("paid_through", T(), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("site", "resident"),
        sa.ForeignKeyConstraint(["site"], ["sites.id"]),
        sa.ForeignKeyConstraint(["resident"], ["residents.id"]))


def downgrade() -> None:
    op.drop_table("code_payments")
    op.drop_table("committee_members")
    with op.batch_alter_table("residents") as t:
        t.drop_column("company")
    op.drop_index("access_codes_activate_by", "access_codes")
    op.drop_index("access_codes_due", "access_codes")
    with op.batch_alter_table("access_codes") as t:
        t.drop_column("renewed_at")
        t.drop_column("regime")
    with op.batch_alter_table("site_code_settings") as t:
        for col in ("renew_before_subscription", "renew_before_free", "subscription_days",
                    "free", "eligible"):
            t.drop_column(col)

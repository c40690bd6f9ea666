"""Partner visitor-management apps: each society's partner (its mode, endpoint and credential),
each resident vehicle's link to it (connected, not found with a reason, opted out…), the
forwarding outbox (one row per event, keyed by the event's id), and partner API keys scoped to
the societies a partner serves.

Revision ID: 0011_partners
Revises: 0010_fitkit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_partners"
down_revision = "0010_fitkit"
branch_labels = None
depends_on = None

T = sa.Text
I = sa.Integer  # noqa: E741


def upgrade() -> None:
    op.create_table(
        "site_partners", sa.Column("site", T(), primary_key=True),
        sa.Column("partner", T(), nullable=False), sa.Column("mode", T(), nullable=False),
        sa.Column("endpoint", T(), nullable=False), sa.Column("credential", T(), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.id"]),
        sa.CheckConstraint("mode IN ('opt_in', 'opt_out')", name="site_partners_mode"))
    op.create_table(
        "partner_links", sa.Column("site", T(), primary_key=True),
        sa.Column("vrn", T(), primary_key=True), sa.Column("resident", T(), nullable=False),
        sa.Column("partner", T(), nullable=False), sa.Column("state", T(), nullable=False),
        sa.Column("reason", T()), sa.Column("opted_in", I()),
        sa.Column("partner_user", T()), sa.Column("updated_at", T(), nullable=False),
        sa.CheckConstraint("state IN ('offered', 'connected', 'user_not_found', 'error', "
                           "'opted_out')", name="partner_links_state"))
    op.create_index("partner_links_resident", "partner_links", ["resident"])
    op.create_table(
        "partner_outbox", sa.Column("id", I(), primary_key=True, autoincrement=True),
        sa.Column("event_id", T(), nullable=False), sa.Column("edge", T(), nullable=False),
        sa.Column("site", T(), nullable=False), sa.Column("vrn", T(), nullable=False),
        sa.Column("partner", T(), nullable=False), sa.Column("at", T(), nullable=False),
        sa.Column("payload", T(), nullable=False), sa.Column("created_at", T(), nullable=False),
        sa.Column("attempts", I(), nullable=False, server_default="0"),
        sa.Column("next_at", T()), sa.Column("sent_at", T()), sa.Column("cancelled_at", T()),
        sa.Column("last_error", T()),
        sa.UniqueConstraint("site", "edge", "event_id", name="partner_outbox_event"))
    op.create_index("partner_outbox_pending", "partner_outbox", ["sent_at", "cancelled_at",
                                                                 "site", "vrn", "at"])
    with op.batch_alter_table("staff") as t:
        t.add_column(sa.Column("partner", T(), nullable=True))
        t.add_column(sa.Column("partner_sites", T(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff") as t:
        t.drop_column("partner_sites")
        t.drop_column("partner")
    op.drop_table("partner_outbox")
    op.drop_table("partner_links")
    op.drop_table("site_partners")

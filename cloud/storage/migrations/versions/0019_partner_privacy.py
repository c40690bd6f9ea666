"""Partner privacy: each link's history (which resident, in which state, from when), so a pass
is forwarded as its link stood when the car passed; a link state ``disconnected`` (its resident
left); and each society's signing secret for what the cloud sends its partner.

Revision ID: 0019_partner_privacy
Revises: 0018_durable_reactions
"""

from __future__ import annotations

import base64
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0019_partner_privacy"
down_revision = "0018_durable_reactions"
branch_labels = None
depends_on = None

T = sa.Text
STATES = "'offered', 'connected', 'user_not_found', 'error', 'opted_out'"


def upgrade() -> None:
    op.create_table(
        "partner_link_history", sa.Column("id", sa.Integer(), primary_key=True,
                                          autoincrement=True),
        sa.Column("site", T(), nullable=False), sa.Column("vrn", T(), nullable=False),
        sa.Column("resident", T(), nullable=False), sa.Column("partner", T(), nullable=False),
        sa.Column("state", T(), nullable=False), sa.Column("at", T(), nullable=False))
    op.create_index("partner_link_history_vehicle", "partner_link_history", ["site", "vrn", "id"])
    # A link of before has stood as it is since it was last written.
    op.execute("INSERT INTO partner_link_history(site, vrn, resident, partner, state, at) "
               "SELECT site, vrn, resident, partner, state, updated_at FROM partner_links "
               "ORDER BY updated_at")
    with op.batch_alter_table("partner_links") as t:
        t.drop_constraint("partner_links_state", type_="check")
        t.create_check_constraint("partner_links_state", f"state IN ({STATES}, 'disconnected')")
    with op.batch_alter_table("site_partners") as t:
        t.add_column(sa.Column("signing_secret", T(), nullable=True))
    conn = op.get_bind()
    for (site,) in conn.execute(sa.text("SELECT site FROM site_partners")).fetchall():
        conn.execute(sa.text("UPDATE site_partners SET signing_secret = :s WHERE site = :site"),
                     {"s": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
                      "site": site})


def downgrade() -> None:
    with op.batch_alter_table("site_partners") as t:
        t.drop_column("signing_secret")
    op.execute("UPDATE partner_links SET state = 'opted_out' WHERE state = 'disconnected'")
    with op.batch_alter_table("partner_links") as t:
        t.drop_constraint("partner_links_state", type_="check")
        t.create_check_constraint("partner_links_state", f"state IN ({STATES})")
    op.drop_index("partner_link_history_vehicle", "partner_link_history")
    op.drop_table("partner_link_history")

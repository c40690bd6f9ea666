"""What follows a stored event is queued with it (event_reactions), and a periodic job's claim
is a lease that a live holder renews and others take over (job_runs.lease_until…).

Revision ID: 0018_durable_reactions
Revises: 0017_resident_claims
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_durable_reactions"
down_revision = "0017_resident_claims"
branch_labels = None
depends_on = None

T = sa.Text
I = sa.Integer  # noqa: E741


def upgrade() -> None:
    # One row per reaction an event calls for (a pass to spend, a presence to flip…), written
    # in the transaction that stores the event and deleted once the reaction is done.
    op.create_table(
        "event_reactions", sa.Column("id", I(), primary_key=True, autoincrement=True),
        sa.Column("site", T(), nullable=False), sa.Column("edge", T(), nullable=False),
        sa.Column("event_id", T(), nullable=False), sa.Column("reaction", T(), nullable=False),
        # Reactions of one lane (one code, one vehicle in one parking…) are done in order.
        sa.Column("lane", T(), nullable=False), sa.Column("event", T(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("attempts", I(), nullable=False, server_default="0"),
        sa.Column("next_at", sa.Float()), sa.Column("last_error", T()),
        sa.UniqueConstraint("site", "edge", "event_id", "reaction",
                            name="event_reactions_event"))
    with op.batch_alter_table("job_runs") as t:
        # last_at: when the last completed run started; holder: who claimed it last.
        t.add_column(sa.Column("lease_until", sa.Float(), nullable=True))
        t.add_column(sa.Column("attempts", I(), nullable=False, server_default="0"))
        t.add_column(sa.Column("next_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_runs") as t:
        t.drop_column("next_at")
        t.drop_column("attempts")
        t.drop_column("lease_until")
    op.drop_table("event_reactions")

"""Trust per box, and a rules history with an identity.

- ``edge_assignments``: the sites and gates each box was provisioned for (gate ``*``: every
  gate of the site that no box holds by name). Boxes that had a key before are assigned their
  key's sites whole, so they keep working.
- ``events`` are keyed by (site, edge, id): a box's ids never collide with another box's.
- ``rules_epoch``: a random id of this database's rules history, drawn on first use (so a
  re-created database draws a new one) and anew by ``gatepost cloud rules-reset`` and when the
  cloud finds its history rewound (a restore).

Revision ID: 0004_fleet_trust
Revises: 0003_job_runs
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004_fleet_trust"
down_revision = "0003_job_runs"
branch_labels = None
depends_on = None

T = sa.Text
EVENT_COLS = ("site", "id", "edge", "gate", "seq", "type", "at", "data", "received_at")


def _events(name: str, key: tuple[str, ...]) -> None:
    op.create_table(
        name, sa.Column("site", T(), nullable=False), sa.Column("id", T(), nullable=False),
        sa.Column("edge", T(), nullable=False), sa.Column("gate", T(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False), sa.Column("type", T(), nullable=False),
        sa.Column("at", T(), nullable=False), sa.Column("data", T(), nullable=False),
        sa.Column("received_at", T(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name=f"{name}_pkey"))


def _rekey_events(key: tuple[str, ...]) -> None:
    cols = ", ".join(EVENT_COLS)
    op.drop_index("events_query", table_name="events")
    op.rename_table("events", "events_old")
    if op.get_bind().dialect.name == "postgresql":  # the key's name moves with the table
        op.execute("ALTER TABLE events_old RENAME CONSTRAINT events_pkey TO events_old_pkey")
    _events("events", key)
    op.execute(f"INSERT INTO events({cols}) SELECT {cols} FROM events_old")
    op.drop_table("events_old")
    op.create_index("events_query", "events", ["site", "type", "at"])


def upgrade() -> None:
    now = datetime.now(UTC).isoformat()
    op.create_table(
        "edge_assignments", sa.Column("edge", T(), nullable=False),
        sa.Column("site", T(), nullable=False), sa.Column("gate", T(), nullable=False),
        sa.Column("assigned_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("edge", "site", "gate"))
    op.create_index("edge_assignments_gate", "edge_assignments", ["site", "gate"])
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT name, edge_sites FROM staff WHERE edge_sites IS NOT "
                                "NULL AND name LIKE 'edge:%'")).fetchall()
    for name, sites in rows:
        for site in json.loads(sites):
            bind.execute(sa.text("INSERT INTO edge_assignments(edge, site, gate, assigned_at) "
                                 "VALUES (:e, :s, '*', :at) ON CONFLICT DO NOTHING"),
                         {"e": name.removeprefix("edge:"), "s": site, "at": now})
    _rekey_events(("site", "edge", "id"))
    op.create_table(
        "rules_epoch", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("epoch", T(), nullable=False), sa.Column("since", T(), nullable=False),
        sa.Column("cause", T(), nullable=False),
        sa.CheckConstraint("id = 1", name="rules_epoch_one"))


def downgrade() -> None:
    op.drop_table("rules_epoch")
    _rekey_events(("site", "id"))
    op.drop_table("edge_assignments")

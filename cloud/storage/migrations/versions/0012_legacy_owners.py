"""Owner names become residents: before residents existed, a parking subscription's ``owner``
and a resident's API key (``staff.resident``) were free name strings. Each such name becomes a
resident (``legacy_owner`` keeps the name, the phone is to be completed by staff), and each key
that acted for a name now acts for that resident, so one identity acts in society, parking and
the resident app alike. Subscriptions keep their ``owner`` text, which is the resident's alias.

Revision ID: 0012_legacy_owners
Revises: 0011_partners
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0012_legacy_owners"
down_revision = "0011_partners"
branch_labels = None
depends_on = None


def legacy_id(name: str) -> str:
    """The resident id a legacy owner name gets (``cloud.storage.residents.legacy_id``)."""
    return "R-" + hashlib.sha256(f"legacy:{name}".encode()).hexdigest()[:12].upper()


def upgrade() -> None:
    with op.batch_alter_table("residents") as t:
        t.alter_column("phone", existing_type=sa.Text(), nullable=True)
        t.add_column(sa.Column("legacy_owner", sa.Text(), nullable=True))
    op.create_index("residents_legacy_owner", "residents", ["legacy_owner"], unique=True,
                    sqlite_where=sa.text("legacy_owner IS NOT NULL"),
                    postgresql_where=sa.text("legacy_owner IS NOT NULL"))
    conn = op.get_bind()
    ids = {r[0] for r in conn.execute(sa.text("SELECT id FROM residents"))}
    names = {r[0] for r in conn.execute(sa.text(
        "SELECT DISTINCT resident FROM staff WHERE resident IS NOT NULL"))} - ids
    names |= {r[0] for r in conn.execute(sa.text("SELECT DISTINCT owner FROM subscriptions"))}
    names -= ids
    now = datetime.now(UTC).isoformat()
    for name in sorted(n for n in names if n):
        rid = legacy_id(name)
        conn.execute(sa.text("INSERT INTO residents(id, phone, name, created_at, legacy_owner) "
                             "VALUES (:id, NULL, :name, :at, :name)"),
                     {"id": rid, "name": name, "at": now})
        conn.execute(sa.text("UPDATE staff SET resident = :id WHERE resident = :name"),
                     {"id": rid, "name": name})


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE staff SET resident = (SELECT legacy_owner FROM residents r "
                         "WHERE r.id = staff.resident) WHERE resident IN (SELECT id FROM "
                         "residents WHERE legacy_owner IS NOT NULL)"))
    conn.execute(sa.text("DELETE FROM residents WHERE legacy_owner IS NOT NULL AND phone IS "
                         "NULL AND id NOT IN (SELECT resident FROM resident_flats)"))
    op.drop_index("residents_legacy_owner", "residents")
    with op.batch_alter_table("residents") as t:
        t.drop_column("legacy_owner")

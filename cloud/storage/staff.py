"""Storage of staff, residents' and boxes' API keys (only their digests) and the audit log.
``cloud.staff`` calls these."""

from __future__ import annotations

from cloud.storage.tx import Row, Tx


def insert_member(c: Tx, name: str, roles_json: str, resident: str | None,
                  edge_sites_json: str | None, at: str, partner: str | None = None,
                  partner_sites_json: str | None = None) -> int:
    """A staff member, resident, box or partner; its id."""
    return int(c.execute("INSERT INTO staff(name, roles, resident, edge_sites, created_at, "
                         "partner, partner_sites) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                         (name, roles_json, resident, edge_sites_json, at, partner,
                          partner_sites_json)).scalar())


def insert_key(c: Tx, key_digest: str, staff_id: int, at: str) -> None:
    """An API key of a member, by its digest."""
    c.execute("INSERT INTO api_keys(digest, staff, created_at) VALUES (?, ?, ?)",
              (key_digest, staff_id, at))


def revoke_keys(c: Tx, staff_id: int, at: str) -> None:
    """Revoke every live key of a member."""
    c.execute("UPDATE api_keys SET revoked_at = ? WHERE staff = ? AND revoked_at IS NULL",
              (at, staff_id))


def named(c: Tx, name: str) -> bool:
    """Whether a member of this name exists."""
    return c.execute("SELECT 1 FROM staff WHERE name = ?", (name,)).fetchone() is not None


def members(c: Tx) -> list[Row]:
    """Every member, by id."""
    return c.execute("SELECT * FROM staff ORDER BY id").fetchall()


def member_of_key(c: Tx, key_digest: str) -> Row | None:
    """The member a live key belongs to."""
    return c.execute("SELECT s.* FROM api_keys k JOIN staff s ON s.id = k.staff WHERE "
                     "k.digest = ? AND k.revoked_at IS NULL", (key_digest,)).fetchone()


def write_audit(c: Tx, at: str, staff_id: int | None, name: str | None, method: str,
                path: str, status: int, note: str = "") -> None:
    """One line of the audit log."""
    c.execute("INSERT INTO audit(at, staff, name, method, path, status, note) VALUES "
              "(?, ?, ?, ?, ?, ?, ?)", (at, staff_id, name, method, path, status, note))


def audit_log(c: Tx, limit: int) -> list[Row]:
    """The newest audit lines."""
    return c.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

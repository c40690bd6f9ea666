"""Storage of walk-in visitor requests (``cloud.codes.walkins`` calls these)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloud.storage.tx import Row, Tx

REQUEST = ("id", "site", "gate", "edge", "flat", "name", "kind", "phone", "vrn", "status",
           "asked_by", "asked_at", "expires_at")


def insert(c: Tx, values: Sequence[Any]) -> None:
    """A new request (``REQUEST`` order)."""
    c.execute(f"INSERT INTO visitor_requests({', '.join(REQUEST)}) VALUES "
              f"({', '.join('?' for _ in REQUEST)})", tuple(values))


def get(c: Tx, rid: str) -> Row | None:
    """One request."""
    return c.execute("SELECT * FROM visitor_requests WHERE id = ?", (rid,)).fetchone()


def answer(c: Tx, rid: str, status: str, at: str, by: str, name: str, now: str) -> bool:
    """The first answer to a pending, unexpired request; False if another came first."""
    return c.execute("UPDATE visitor_requests SET status = ?, answered_at = ?, answered_by = ?, "
                     "answered_name = ? WHERE id = ? AND status = 'pending' AND expires_at > ?",
                     (status, at, by, name, rid, now)).rowcount > 0


def entered(c: Tx, rid: str, at: str, event_id: str) -> bool:
    """An approved visitor went in (the gate's event); False if not approved or already in."""
    return c.execute("UPDATE visitor_requests SET status = 'entered', entered_at = ?, "
                     "event_id = ? WHERE id = ? AND status = 'approved'",
                     (at, event_id, rid)).rowcount > 0


def pending_for(c: Tx, flats: Sequence[tuple[str, str]], now: str) -> list[Row]:
    """Pending, unexpired requests for any of *flats* ``(site, flat)``, oldest first."""
    if not flats:
        return []
    where = " OR ".join("(site = ? AND flat = ?)" for _ in flats)
    args = [v for f in flats for v in f]
    return c.execute(f"SELECT * FROM visitor_requests WHERE status = 'pending' AND "
                     f"expires_at > ? AND ({where}) ORDER BY asked_at", (now, *args)).fetchall()

"""Storage of the sticker inventory (``tag_inventory``): printed tag ids, secret hashes (never
read out but to check one), EPCs, vehicle types and the society each sticker is mapped to."""

from __future__ import annotations

from collections.abc import Sequence

from cloud.storage.tx import Row, Tx

COLUMNS = ("tag_id", "epc", "site", "vehicle_type", "secret_hash", "batch", "imported_at",
           "kind")


def _in(values: Sequence[str]) -> str:
    return f"({','.join('?' * len(values))})"


def taken(c: Tx, tag_ids: Sequence[str], epcs: Sequence[str]) -> tuple[set[str], set[str]]:
    """Which of *tag_ids* are in the inventory, and which of *epcs* are registered tags."""
    ids: set[str] = set()
    known: set[str] = set()
    for i in range(0, len(tag_ids), 500):
        part = tag_ids[i:i + 500]
        ids |= {r[0] for r in c.execute(f"SELECT tag_id FROM tag_inventory WHERE tag_id IN "
                                        f"{_in(part)}", tuple(part))}
    for i in range(0, len(epcs), 500):
        part = epcs[i:i + 500]
        known |= {r[0] for r in c.execute(f"SELECT epc FROM tags WHERE epc IN {_in(part)}",
                                          tuple(part))}
    return ids, known


def insert(c: Tx, rows: Sequence[Sequence[str | None]]) -> None:
    """Stickers, in ``COLUMNS`` order."""
    c.executemany(f"INSERT INTO tag_inventory({', '.join(COLUMNS)}) VALUES "
                  f"({', '.join('?' for _ in COLUMNS)})", rows)


def by_tag_id(c: Tx, tag_id: str) -> Row | None:
    """One sticker, by its printed id."""
    return c.execute("SELECT * FROM tag_inventory WHERE tag_id = ?", (tag_id,)).fetchone()


def by_epc(c: Tx, epc: str) -> Row | None:
    """The sticker of an EPC."""
    return c.execute("SELECT * FROM tag_inventory WHERE epc = ?", (epc,)).fetchone()


def counts(c: Tx, site: str) -> dict[str, int]:
    """A site's stickers: imported, never activated yet, activated."""
    row = c.execute("SELECT count(*), sum(CASE WHEN activated_at IS NULL THEN 1 ELSE 0 END) "
                    "FROM tag_inventory WHERE site = ?", (site,)).fetchone()
    total = int(row[0]) if row else 0
    waiting = int(row[1] or 0) if row else 0
    return {"stickers": total, "inventory": waiting, "activated": total - waiting}


def mark_activated(c: Tx, tag_id: str, resident: str | None, at: str) -> None:
    """A sticker was activated (by a resident, or by staff with None)."""
    c.execute("UPDATE tag_inventory SET activated_at = ?, resident = ? WHERE tag_id = ?",
              (at, resident, tag_id))


def mark_replaced(c: Tx, tag_id: str, by: str) -> None:
    """A sticker was replaced by the sticker *by*."""
    c.execute("UPDATE tag_inventory SET replaced_by = ? WHERE tag_id = ?", (by, tag_id))


def bind(c: Tx, tag_id: str, epc: str, at: str) -> None:
    """A FITkit sticker now stands for the FASTag *epc* (checked at *at*)."""
    c.execute("UPDATE tag_inventory SET epc = ?, fastag_checked_at = ? WHERE tag_id = ?",
              (epc, at, tag_id))


def checked(c: Tx, tag_id: str, at: str) -> None:
    """The daily job checked a FITkit sticker's FASTag at *at*."""
    c.execute("UPDATE tag_inventory SET fastag_checked_at = ? WHERE tag_id = ?", (at, tag_id))


def bound_fitkits(c: Tx) -> list[Row]:
    """The FITkit stickers bound to a FASTag and not replaced, with their tag's VRN and
    status, oldest check first."""
    return c.execute("SELECT i.tag_id, i.epc, i.site, i.resident, i.fastag_checked_at, t.vrn, "
                     "t.status FROM tag_inventory i JOIN tags t ON t.epc = i.epc "
                     "WHERE i.kind = 'fitkit' AND i.replaced_by IS NULL "
                     "ORDER BY i.fastag_checked_at, i.tag_id").fetchall()

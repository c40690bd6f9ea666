"""Storage of the events the boxes sent: stored once by (site, edge, id), read back filtered,
and summed per site. The ingest writer and the events routes call these."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cloud.storage.dialect import insert_many_ignore, json_text
from cloud.storage.tx import Row, Tx

COLUMNS = ("site", "id", "edge", "gate", "seq", "type", "at", "data", "received_at")
TYPES = ("text", "text", "text", "text", "bigint", "text", "text", "text", "text")


def insert_new(c: Tx, rows: Sequence[Sequence[Any]]) -> set[tuple[str, str, str]]:
    """Insert the event rows (in ``COLUMNS`` order) not stored yet; the (site, edge, id) of
    those newly stored."""
    return {(r[0], r[1], r[2]) for r in insert_many_ignore(c, "events", COLUMNS, TYPES, rows,
                                                             ("site", "edge", "id"))}


def query(c: Tx, site: str | None, gate: str | None, type_: str | None,
          since: datetime | None, until: datetime | None, limit: int,
          offset: int) -> list[dict[str, Any]]:
    """Stored events, oldest first, filtered; ``data`` parsed."""
    where: list[str] = []
    args: list[Any] = []
    for col, val in (("site", site), ("gate", gate), ("type", type_)):
        if val:
            where.append(f"{col} = ?")
            args.append(val)
    if since:
        where.append("at >= ?")
        args.append(since.isoformat())
    if until:
        where.append("at < ?")
        args.append(until.isoformat())
    sql = "SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY at, site, gate, seq LIMIT ? OFFSET ?"
    rows: list[Row] = c.execute(sql, (*args, limit, offset)).fetchall()
    return [{**dict(r), "data": json.loads(r["data"])} for r in rows]


def summary(c: Tx, site: str) -> dict[str, Any]:
    """Counts per event type, decisions per outcome, and count and highest seq per gate."""
    types = {r[0]: r[1] for r in c.execute(
        "SELECT type, count(*) FROM events WHERE site = ? GROUP BY type", (site,))}
    outcomes = {r[0]: r[1] for r in c.execute(
        f"SELECT {json_text(c, 'data', 'outcome')}, count(*) FROM events "
        "WHERE site = ? AND type = 'decision' GROUP BY 1", (site,))}
    gates = {r[0]: {"count": r[1], "max_seq": r[2]} for r in c.execute(
        "SELECT gate, count(*), max(seq) FROM events WHERE site = ? GROUP BY gate", (site,))}
    return {"types": types, "decisions": outcomes, "gates": gates}

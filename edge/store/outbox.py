"""The outbox: every event is written here before it is published, and leaves only on ack.

The same transaction writes the event to the local journal, the guard panel's history,
which outlives the ack and is pruned by age.

paho keeps in-flight messages in memory only, so this table is what guarantees delivery
across broker outages and daemon crashes. Each event gets ``<gate>:<seq>`` with ``seq``
allocated in the same transaction as the row, so ids never repeat and never skip.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from edge.store.db import EdgeDB
from shared.contract import Event
from shared.vocab import EventType


class Outbox:
    """Durable, ordered queue of events for the cloud."""

    def __init__(self, db: EdgeDB, edge_id: str, site_of_gate: dict[str, str]) -> None:
        self.db = db
        self.edge_id = edge_id
        self.site_of_gate = site_of_gate

    def add(self, conn: sqlite3.Connection, gate: str, type_: EventType, at: datetime,
            data: dict[str, Any]) -> Event:
        """Append an event inside the caller's write transaction."""
        row = conn.execute(
            "INSERT INTO gate_seq(gate, seq) VALUES (?, 1) ON CONFLICT(gate) "
            "DO UPDATE SET seq = seq + 1 RETURNING seq", (gate,)
        ).fetchone()
        seq = int(row[0])
        event = Event(id=f"{gate}:{seq}", type=type_, site=self.site_of_gate[gate],
                      edge=self.edge_id, gate=gate, seq=seq, at=at, data=data)
        conn.execute(
            "INSERT INTO outbox(id, gate, seq, type, payload, created_at) VALUES (?,?,?,?,?,?)",
            (event.id, gate, seq, type_.value, event.model_dump_json(), at.isoformat()),
        )
        cred = data.get("credential")
        conn.execute(
            "INSERT INTO journal(id, gate, type, at, outcome, reason, vrn, credential, payload) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (event.id, gate, type_.value, at.isoformat(), data.get("outcome"),
             data.get("reason"), data.get("vrn"),
             cred.get("value") if isinstance(cred, dict) else None,
             json.dumps(data, default=str)),
        )
        return event

    def record(self, gate: str, type_: EventType, at: datetime, data: dict[str, Any]) -> Event:
        """Append an event in a transaction of its own."""
        with self.db.write() as c:
            return self.add(c, gate, type_, at, data)

    def pending(self, limit: int = 100, exclude: set[str] | None = None) -> list[Event]:
        """Oldest unacknowledged events, skipping ids in *exclude* (already in flight)."""
        exclude = exclude or set()
        out: list[Event] = []
        cur = self.db.conn.execute("SELECT id, payload FROM outbox ORDER BY rowid")
        for row in cur:
            if row[0] in exclude:
                continue
            out.append(Event.model_validate(json.loads(row[1])))
            if len(out) >= limit:
                break
        return out

    def ack(self, ids: list[str]) -> int:
        """Delete acknowledged events; unknown ids (acked twice) are ignored."""
        if not ids:
            return 0
        with self.db.write() as c:
            n = 0
            for i in ids:
                n += c.execute("DELETE FROM outbox WHERE id = ?", (i,)).rowcount
        return n

    def size(self) -> int:
        """Events waiting for the cloud's ack."""
        return int(self.db.conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def prune_journal(self, before: datetime) -> int:
        """Forget the local history older than *before* (the cloud keeps it all)."""
        with self.db.write() as c:
            return c.execute("DELETE FROM journal WHERE at < ?", (before.isoformat(),)).rowcount

    def last_seq(self) -> dict[str, int]:
        """The last sequence number issued per gate."""
        return {r[0]: int(r[1]) for r in self.db.conn.execute("SELECT gate, seq FROM gate_seq")}

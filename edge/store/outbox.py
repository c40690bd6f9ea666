"""The event log: every event is written here before it is published, and is the cloud's to
acknowledge; the same rows are the guard panel's local history, pruned by age.

One row per event (``events``), so a queued event costs its data once: what the panel searches
by (outcome, reason, plate, credential) in columns, the rest of its data as compact JSON, and
``acked`` set when the cloud has stored it. paho keeps in-flight messages in memory only, so
this table is what guarantees delivery across broker outages and daemon crashes. Each event
gets ``<gate>:<seq>`` with ``seq`` allocated in the same transaction as the row, so ids never
repeat and never skip.

Space is given back: the file uses incremental auto-vacuum, and pruning frees its pages. The
queue never drops an event that was accepted; when the file outgrows ``max_bytes``, history the
cloud already has goes first (oldest first, even inside the panel's retention), and ``full``
says so (an alert and a metric for the daemon).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime
from typing import Any

from edge.store.db import EdgeDB
from shared.contract import Event
from shared.vocab import EventType

log = logging.getLogger(__name__)

COLUMNS = "n, gate, seq, type, at, outcome, reason, vrn, credential, rest, site"
_LIFTED = ("outcome", "reason", "vrn")  # data keys kept in columns when they are text


# An event as JSON, written by SQLite from a row: the data is :func:`joined`'s (a column put
# back only when it holds a value; the credential's value back into its object).
_DATA = "json(rest)"
for _key in _LIFTED:
    _DATA = (f"CASE WHEN {_key} IS NULL THEN {_DATA} "
             f"ELSE json_set({_DATA}, '$.{_key}', {_key}) END")
_DATA = (f"CASE WHEN credential IS NOT NULL AND json_type(rest, '$.credential') = 'object' "
         f"THEN json_set({_DATA}, '$.credential.value', credential) ELSE {_DATA} END")
EVENT_JSON = ("json_object('id', gate || ':' || seq, 'type', type, 'site', site, 'edge', ?, "
              f"'gate', gate, 'seq', seq, 'at', at, 'data', json({_DATA}))")


def split(data: dict[str, Any]) -> tuple[dict[str, str | None], str]:
    """An event's data as its searchable columns and the JSON of the rest."""
    rest = dict(data)
    cols: dict[str, str | None] = {}
    for key in _LIFTED:
        value = rest.get(key)
        if isinstance(value, str):
            cols[key] = rest.pop(key)
    cred = rest.get("credential")
    if isinstance(cred, dict) and isinstance(cred.get("value"), str):
        cred = dict(cred)
        cols["credential"] = cred.pop("value")
        rest["credential"] = cred
    return cols, json.dumps(rest, separators=(",", ":"), default=str)


def joined(outcome: str | None, reason: str | None, vrn: str | None, credential: str | None,
           rest: str) -> dict[str, Any]:
    """The data :func:`split` took apart."""
    data: dict[str, Any] = json.loads(rest)
    for key, value in (("outcome", outcome), ("reason", reason), ("vrn", vrn)):
        if value is not None:
            data[key] = value
    if credential is not None and isinstance(data.get("credential"), dict):
        data["credential"] = {**data["credential"], "value": credential}
    return data


class Outbox:
    """The durable, ordered event log of one box."""

    def __init__(self, db: EdgeDB, edge_id: str, site_of_gate: dict[str, str],
                 max_bytes: int | None = None) -> None:
        self.db = db
        self.edge_id = edge_id
        self.site_of_gate = site_of_gate
        self.max_bytes = max_bytes
        self.full = False  # the file is past max_bytes with nothing left to give back

    def add(self, conn: sqlite3.Connection, gate: str, type_: EventType, at: datetime,
            data: dict[str, Any]) -> Event:
        """Append an event inside the caller's write transaction."""
        row = conn.execute(
            "INSERT INTO gate_seq(gate, seq) VALUES (?, 1) ON CONFLICT(gate) "
            "DO UPDATE SET seq = seq + 1 RETURNING seq", (gate,)
        ).fetchone()
        seq = int(row[0])
        site = self.site_of_gate[gate]
        event = Event(id=f"{gate}:{seq}", type=type_, site=site, edge=self.edge_id, gate=gate,
                      seq=seq, at=at, data=data)
        cols, rest = split(data)
        conn.execute(
            "INSERT INTO events(gate, seq, type, at, outcome, reason, vrn, credential, rest, "
            "site) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (gate, seq, type_.value, at.isoformat(), cols.get("outcome"), cols.get("reason"),
             cols.get("vrn"), cols.get("credential"), rest, site))
        return event

    def record(self, gate: str, type_: EventType, at: datetime, data: dict[str, Any]) -> Event:
        """Append an event in a transaction of its own."""
        with self.db.write() as c:
            return self.add(c, gate, type_, at, data)

    def _waiting(self, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Unacknowledged events past log position *after*, oldest first: (position, the
        event's fields as JSON would carry them)."""
        rows = self.db.conn.execute(
            f"SELECT {COLUMNS} FROM events WHERE acked = 0 AND n > ? ORDER BY n LIMIT ?",
            (after, limit)).fetchall()
        return [(r["n"], {"id": f"{r['gate']}:{r['seq']}", "type": r["type"], "site": r["site"],
                          "edge": self.edge_id, "gate": r["gate"], "seq": r["seq"],
                          "at": r["at"], "data": joined(r["outcome"], r["reason"], r["vrn"],
                                                        r["credential"], r["rest"])})
                for r in rows]

    def waiting_json(self, after: int = 0, limit: int = 500) -> list[tuple[int, str, str]]:
        """Unacknowledged events past log position *after*, oldest first, as (position, id,
        the event's JSON): the publisher's path. SQLite writes the JSON (``EVENT_JSON``, the
        same event :meth:`pending` builds), so a drain of thousands of events a second costs
        the interpreter almost nothing and the lanes' decisions do not queue behind it."""
        return [(r[0], r[1], r[2]) for r in self.db.conn.execute(
            f"SELECT n, gate || ':' || seq, {EVENT_JSON} FROM events "
            "WHERE acked = 0 AND n > ? ORDER BY n LIMIT ?", (self.edge_id, after, limit))]

    def pending(self, limit: int = 100, exclude: set[str] | None = None) -> list[Event]:
        """Oldest unacknowledged events, skipping ids in *exclude* (already in flight)."""
        exclude = exclude or set()
        return [Event.model_validate(f) for _, f in self._waiting(0, limit + len(exclude))
                if f["id"] not in exclude][:limit]

    def ack(self, ids: list[str]) -> int:
        """Mark acknowledged events; unknown ids (acked twice) are ignored."""
        keys = []
        for i in ids:
            gate, _, seq = i.rpartition(":")
            if gate and seq.isdigit():
                keys.append((gate, int(seq)))
        if not keys:
            return 0
        with self.db.write() as c:
            return c.executemany("UPDATE events SET acked = 1 WHERE gate = ? AND seq = ? AND "
                                 "acked = 0", keys).rowcount

    def size(self) -> int:
        """Events waiting for the cloud's ack."""
        return int(self.db.conn.execute("SELECT count(*) FROM events WHERE acked = 0"
                                        ).fetchone()[0])

    def oldest_waiting_at(self) -> str | None:
        """When the oldest unacknowledged event happened."""
        row = self.db.conn.execute("SELECT at FROM events WHERE acked = 0 ORDER BY n LIMIT 1"
                                   ).fetchone()
        return str(row[0]) if row else None

    def prune_journal(self, before: datetime) -> int:
        """Forget acknowledged history older than *before* (the cloud keeps it all), then keep
        the file under ``max_bytes``, and give the freed pages back to the disk."""
        with self.db.write() as c:
            n = c.execute("DELETE FROM events WHERE acked = 1 AND at < ?",
                          (before.isoformat(),)).rowcount
        n += self._bound()
        self.vacuum()
        return n

    def _bound(self) -> int:
        """Acknowledged history goes, oldest first, while the file is past ``max_bytes``."""
        if self.max_bytes is None:
            return 0
        dropped = 0
        while self.file_bytes() > self.max_bytes:
            got = self.drop_history()
            dropped += got
            if got == 0:
                break
        full = self.file_bytes() > self.max_bytes
        if full and not self.full:
            log.error("the event log is past its %d MB with only unsent events: nothing is "
                      "dropped, the disk fills", self.max_bytes // 2**20)
        self.full = full
        if dropped:
            log.warning("dropped %d acknowledged events of local history to keep the event "
                        "log under %d MB", dropped, self.max_bytes // 2**20)
        return dropped

    def drop_history(self, batch: int = 10_000) -> int:
        """Forget the oldest *batch* acknowledged events (the cloud has them) and give the
        pages back; how many went. Unsent events are never touched."""
        with self.db.write() as c:
            got = int(c.execute("DELETE FROM events WHERE n IN (SELECT n FROM events WHERE "
                                "acked = 1 ORDER BY n LIMIT ?)", (batch,)).rowcount)
        self.vacuum()
        return got

    def file_bytes(self) -> int:
        """The pages the file holds, free ones left out."""
        c = self.db.conn
        pages = c.execute("PRAGMA page_count").fetchone()[0]
        free = c.execute("PRAGMA freelist_count").fetchone()[0]
        size = c.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def vacuum(self, pages: int = 0) -> None:
        """Give free pages back to the disk (all of them with 0)."""
        # sqlite3_exec steps the pragma to its end (a plain execute frees one page only).
        self.db.conn.executescript(f"PRAGMA incremental_vacuum({int(pages)});")

    def last_seq(self) -> dict[str, int]:
        """The last sequence number issued per gate."""
        return {r[0]: int(r[1]) for r in self.db.conn.execute("SELECT gate, seq FROM gate_seq")}

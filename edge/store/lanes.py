"""What a lane must remember across a restart: credentials still in the field, the open that
awaits its pass, and opens that were about to pulse (intents).

An intent is written in the same transaction as the decision that opens, and removed in the
same transaction as the ``open`` event that follows the pulse. One left behind at start means
the daemon died between the two: the relay may or may not have pulsed, and the lane records
``open_unconfirmed`` for it rather than guessing (and never pulses late).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from edge.core.lane import Held
from edge.store.db import EdgeDB
from shared.vocab import Outcome, Reason


class LaneStore:
    """Rows of ``lane_held``, ``lane_awaiting`` and ``open_intents``."""

    def __init__(self, db: EdgeDB) -> None:
        self.db = db

    def held(self, gate: str, since: datetime) -> dict[str, Held]:
        """The gate's credentials read since *since*."""
        rows = self.db.conn.execute(
            "SELECT key, outcome, reason, vrn, decided_at, seen_at FROM lane_held "
            "WHERE gate = ? AND seen_at >= ?", (gate, since.isoformat()))
        return {r[0]: Held(r[0], Outcome(r[1]), Reason(r[2]), r[3],
                           datetime.fromisoformat(r[4]), datetime.fromisoformat(r[5]))
                for r in rows}

    @staticmethod
    def keep(c: sqlite3.Connection, gate: str, h: Held) -> None:
        """Record a decision's hold inside the caller's transaction."""
        c.execute("INSERT OR REPLACE INTO lane_held(gate, key, outcome, reason, vrn, decided_at,"
                  " seen_at) VALUES (?,?,?,?,?,?,?)",
                  (gate, h.key, h.outcome.value, h.reason.value, h.vrn, h.decided_at.isoformat(),
                   h.seen_at.isoformat()))

    def touch(self, gate: str, held: list[Held], forget_before: datetime) -> None:
        """Refresh when held credentials were last read; forget those out of the field."""
        with self.db.write() as c:
            c.executemany("UPDATE lane_held SET seen_at = ? WHERE gate = ? AND key = ?",
                          [(h.seen_at.isoformat(), gate, h.key) for h in held])
            c.execute("DELETE FROM lane_held WHERE gate = ? AND seen_at < ?",
                      (gate, forget_before.isoformat()))

    # The open that awaits its pass ---------------------------------------------------------
    def awaiting(self, gate: str) -> tuple[str | None, datetime, str] | None:
        """(vrn, when, decision id) of the open whose pass is awaited."""
        row = self.db.conn.execute("SELECT vrn, at, decision FROM lane_awaiting WHERE gate = ?",
                                   (gate,)).fetchone()
        return (row[0], datetime.fromisoformat(row[1]), row[2]) if row else None

    @staticmethod
    def await_pass(c: sqlite3.Connection, gate: str, vrn: str | None, at: datetime,
                   decision: str) -> None:
        """Remember the open a pass will belong to (caller's transaction)."""
        c.execute("INSERT OR REPLACE INTO lane_awaiting(gate, vrn, at, decision) VALUES "
                  "(?,?,?,?)", (gate, vrn, at.isoformat(), decision))

    @staticmethod
    def end_wait(c: sqlite3.Connection, gate: str) -> None:
        """The pass came (caller's transaction)."""
        c.execute("DELETE FROM lane_awaiting WHERE gate = ?", (gate,))

    # Intents -------------------------------------------------------------------------------
    @staticmethod
    def intend(c: sqlite3.Connection, gate: str, decision: str, held: Held) -> None:
        """An open is about to pulse (in the decision's transaction). The credential's hold
        goes with it: written with the ``open`` event after the pulse, or, after a crash,
        restored from the intent, so the credential still in the field never opens again."""
        c.execute("INSERT INTO open_intents(decision, gate, at, vrn, key, reason) VALUES "
                  "(?,?,?,?,?,?)", (decision, gate, held.decided_at.isoformat(), held.vrn,
                                    held.key, held.reason.value))

    @staticmethod
    def done(c: sqlite3.Connection, decision: str) -> None:
        """The pulse's outcome is recorded (in the ``open`` event's transaction)."""
        c.execute("DELETE FROM open_intents WHERE decision = ?", (decision,))

    def intents(self, gate: str) -> list[tuple[str, Held]]:
        """Intents left by a daemon that died before recording their outcome: the decision
        and the hold of its credential."""
        rows = self.db.conn.execute("SELECT decision, at, vrn, key, reason FROM open_intents "
                                    "WHERE gate = ? ORDER BY at", (gate,))
        return [(r[0], Held(r[3], Outcome.OPEN, Reason(r[4]), r[2], datetime.fromisoformat(r[1]),
                            datetime.fromisoformat(r[1]))) for r in rows]


def horizon(now: datetime, hold_s: float) -> datetime:
    """Reads older than this are out of the field."""
    return now - timedelta(seconds=hold_s)

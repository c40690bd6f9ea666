"""Storage of the reactions to stored events: one row per reaction an event calls for, written
in the transaction that stores the event, deleted once the reaction is done (so the table holds
only what is still to do, what keeps failing, and what was parked: a reaction whose ``attempts``
reached the limit is kept, marked by that count, and tried no more)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloud.storage.dialect import insert_many_ignore
from cloud.storage.tx import Row, Tx

COLUMNS = ("site", "edge", "event_id", "reaction", "lane", "event", "created_at")
TYPES = ("text",) * len(COLUMNS)


def enqueue(c: Tx, rows: Sequence[Sequence[Any]]) -> int:
    """Queue reactions (``COLUMNS`` order); one queued before for the same event is skipped.
    How many were queued."""
    return len(insert_many_ignore(c, "event_reactions", COLUMNS, TYPES, rows, ("id",)))


def due(c: Tx, now: float | None, kinds: Sequence[str], max_attempts: int, after: int,
        limit: int) -> list[Row]:
    """Reactions to do, oldest first, past the id *after*: of the *kinds* this process knows,
    not parked (failed *max_attempts* times), and not held back in their lane, by a reaction
    waiting out a back-off at *now* (None: back-offs are ignored) or of a kind this process does
    not know. A lane is held as a whole: its held reaction is always its oldest left to do, as
    the later ones are tried only after it."""
    if not kinds:
        return []
    known = ", ".join("?" * len(kinds))
    backoff = " OR next_at > ?" if now is not None else ""
    # The held lanes are read once (not per row), so a long held lane costs one scan, and the
    # window of *limit* rows is filled with reactions that can be done.
    sql = (f"SELECT * FROM event_reactions WHERE id > ? AND attempts < ? AND reaction IN "
           f"({known}){' AND (next_at IS NULL OR next_at <= ?)' if now is not None else ''} "
           f"AND lane NOT IN (SELECT lane FROM event_reactions WHERE attempts < ? AND "
           f"(reaction NOT IN ({known}){backoff})) ORDER BY id LIMIT ?")
    at = (now,) if now is not None else ()
    return c.execute(sql, (after, max_attempts, *kinds, *at, max_attempts, *kinds, *at,
                           limit)).fetchall()


def done(c: Tx, rid: int) -> None:
    """A reaction is done (or has nothing left to do): it leaves the queue."""
    c.execute("DELETE FROM event_reactions WHERE id = ?", (rid,))


def failed(c: Tx, rid: int, error: str, next_at: float | None) -> None:
    """A reaction failed: try it again at *next_at* (a Unix time); None: it is parked (its
    attempts reached the limit), kept for a person to look at and tried no more."""
    c.execute("UPDATE event_reactions SET attempts = attempts + 1, last_error = ?, next_at = ? "
              "WHERE id = ?", (error, next_at, rid))


def counts(c: Tx, max_attempts: int) -> dict[str, int]:
    """Reactions still to do (``pending``), of them those that failed at least once
    (``failing``), and those parked after *max_attempts* failures (``parked``)."""
    row = c.execute("SELECT sum(CASE WHEN attempts < ? THEN 1 ELSE 0 END), "
                    "sum(CASE WHEN attempts > 0 AND attempts < ? THEN 1 ELSE 0 END), "
                    "sum(CASE WHEN attempts >= ? THEN 1 ELSE 0 END) FROM event_reactions",
                    (max_attempts, max_attempts, max_attempts)).fetchone()
    return {k: int(row[i] or 0) if row else 0
            for i, k in enumerate(("pending", "failing", "parked"))}

"""Storage of guess counters: attempts at a secret under a key (``src:ADDRESS``,
``resident:ID``, ``tag:ID``), how many locks the key has earned (``strikes``, for a growing
back-off) and until when it is locked (epoch seconds). ``cloud.people.guesses`` calls these."""

from __future__ import annotations

from collections.abc import Sequence

from cloud.storage.dialect import for_update, insert_ignore_sql
from cloud.storage.tx import Row, Tx


def hold(c: Tx, keys: Sequence[str], at: float) -> dict[str, Row]:
    """The counters of *keys* (made at zero where missing), row-locked until the transaction
    ends, so that two requests counting on one key take turns (PostgreSQL; a SQLite write
    transaction holds the one writer lock already). Locked in key order: no deadlock."""
    ordered = sorted(set(keys))
    c.executemany(insert_ignore_sql("guess_counters", ("key", "attempts", "strikes",
                                                        "locked_until", "last_at")),
                  [(k, 0, 0, None, at) for k in ordered])
    out = {}
    for k in ordered:
        row = c.execute("SELECT key, attempts, strikes, locked_until, last_at FROM "
                        "guess_counters WHERE key = ?" + for_update(c), (k,)).fetchone()
        assert row is not None
        out[k] = row
    return out


def put(c: Tx, key: str, attempts: int, strikes: int, locked_until: float | None,
        at: float) -> None:
    """Set a held counter."""
    c.execute("UPDATE guess_counters SET attempts = ?, strikes = ?, locked_until = ?, "
              "last_at = ? WHERE key = ?", (attempts, strikes, locked_until, at, key))


def clear(c: Tx, keys: Sequence[str]) -> None:
    """Forget the counters of *keys* (a right guess)."""
    c.executemany("DELETE FROM guess_counters WHERE key = ?", [(k,) for k in keys])


def give_back(c: Tx, key: str) -> None:
    """Return one attempt to *key* (a right guess from a source others share)."""
    c.execute("UPDATE guess_counters SET attempts = attempts - 1 WHERE key = ? AND "
              "attempts > 0", (key,))

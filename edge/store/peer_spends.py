"""The spends this box still has to tell each peer box of its site (``edge.peers``), and the
spends it learns from them. A row is written in the transaction that records the open, and
leaves only when that peer has acknowledged it, as the cloud's outbox does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.store import codes as codes_store


def spent(c: Any, digest: str) -> bool:
    """Whether this box has a spend of the pass on record (its own, or a peer's)."""
    return c.execute("SELECT 1 FROM codes_spent WHERE hash = ?", (digest,)).fetchone() is not None


def learn(c: Any, digest: str, at: datetime) -> bool:
    """Record a spend a peer told of; True when it is new here."""
    before = c.total_changes
    codes_store.spend(c, digest, at)
    return bool(c.total_changes - before)


def queue(c: Any, peers: list[str], site: str, digest: str, at: datetime) -> None:
    """Tell each of *peers* of a spend, until it acknowledges (in the open's transaction)."""
    c.executemany("INSERT OR IGNORE INTO peer_spends_out(peer, hash, site, at) VALUES "
                  "(?, ?, ?, ?)", [(p, digest, site, at.isoformat()) for p in peers])


def waiting(c: Any, peer: str, limit: int) -> list[tuple[str, str, str]]:
    """Spends not yet acknowledged by *peer*, oldest first: (site, hash, at)."""
    return [(r[0], r[1], r[2]) for r in c.execute(
        "SELECT site, hash, at FROM peer_spends_out WHERE peer = ? ORDER BY at LIMIT ?",
        (peer, limit))]


def acked(c: Any, peer: str, digests: list[str]) -> None:
    """*peer* has these spends."""
    c.executemany("DELETE FROM peer_spends_out WHERE peer = ? AND hash = ?",
                  [(peer, d) for d in digests])


def forget_others(c: Any, peers: list[str]) -> None:
    """Drop what waits for boxes no longer configured as peers."""
    marks = ", ".join("?" for _ in peers) or "''"
    c.execute(f"DELETE FROM peer_spends_out WHERE peer NOT IN ({marks})", tuple(peers))


def counts(c: Any) -> dict[str, int]:
    """Spends waiting, per peer."""
    return {r[0]: int(r[1]) for r in c.execute(
        "SELECT peer, count(*) FROM peer_spends_out GROUP BY peer")}

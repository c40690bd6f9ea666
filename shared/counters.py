"""Counters that many threads bump: a ``Counter`` whose increments hold a lock."""

from __future__ import annotations

import threading
from collections import Counter


class Counters(Counter[str]):
    """Read like a ``Counter``; write with ``inc`` (``c[k] += 1`` is two steps, not atomic)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def inc(self, key: str, n: int = 1) -> None:
        """Add *n* to *key*, safely across threads."""
        with self._lock:
            self[key] += n

    def snapshot(self) -> dict[str, int]:
        """A consistent copy."""
        with self._lock:
            return dict(self)

"""An in-memory ring of recent local events, for the panel and the local API (long-poll)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class EventRing:
    """Newest ``size`` events with increasing local ids; waiters wake on each append."""

    def __init__(self, size: int = 5000) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=size)
        self._cond = threading.Condition()
        self._next = 1

    def add(self, item: dict[str, Any]) -> int:
        """Append and return the local id."""
        with self._cond:
            lid = self._next
            self._next += 1
            self._items.append({"local_id": lid, **item})
            self._cond.notify_all()
        return lid

    @property
    def last_id(self) -> int:
        """Id of the newest event (0 when empty)."""
        return self._next - 1

    def after(self, local_id: int, wait_s: float = 0.0, limit: int = 500) -> list[dict]:
        """Events newer than *local_id*, waiting up to *wait_s* for the first one."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            while self._next - 1 <= local_id:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)
            return [e for e in self._items if e["local_id"] > local_id][:limit]

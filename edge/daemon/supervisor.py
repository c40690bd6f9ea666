"""Supervision of the daemon's workers: restart a dead one within a budget, and tell the
watchdog whether every worker is making progress.

A worker is named, says whether its thread is alive and (optionally) when it last made
progress, and knows how to start again. A dead worker is restarted at once while fewer than
``budget`` restarts happened in the last ``period_s``; past that the supervisor is
``exhausted`` and the daemon exits non-zero so that systemd restarts the whole process
(Frigate's watchdog gives up the same way). A worker alive but without progress for
``stall_s`` makes the daemon unhealthy: systemd's watchdog is then not pinged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Worker:
    """One supervised thread."""

    name: str
    alive: Callable[[], bool]
    progress: Callable[[], float] | None
    restart: Callable[[], None] | None
    restarts: deque[float] = field(default_factory=deque)


class Supervisor:
    """Watches workers; ``check()`` from the main loop."""

    def __init__(self, *, budget: int = 5, period_s: float = 60.0, stall_s: float = 15.0) -> None:
        self.budget, self.period_s, self.stall_s = budget, period_s, stall_s
        self.exhausted = ""
        self._workers: dict[str, Worker] = {}
        self._lock = threading.Lock()

    def watch(self, name: str, alive: Callable[[], bool], progress: Callable[[], float] | None,
              restart: Callable[[], None] | None, *, replace: bool = False) -> None:
        """Supervise a worker (``replace`` keeps the restart history of one restarted anew)."""
        with self._lock:
            old = self._workers.get(name)
            w = Worker(name, alive, progress, restart)
            if replace and old is not None:
                w.restarts = old.restarts
            self._workers[name] = w

    def check(self, now: float | None = None) -> bool:
        """Restart dead workers; True while all live and all made progress lately."""
        now = time.monotonic() if now is None else now
        healthy = not self.exhausted
        with self._lock:
            workers = list(self._workers.values())
        for w in workers:
            if not w.alive():
                healthy = False
                self._restart(w, now)
            elif w.progress is not None and now - w.progress() > self.stall_s:
                healthy = False
                log.error("worker %s has made no progress for %.0f s", w.name,
                          now - w.progress())
        return healthy

    def _restart(self, w: Worker, now: float) -> None:
        while w.restarts and now - w.restarts[0] > self.period_s:
            w.restarts.popleft()
        if w.restart is None or len(w.restarts) >= self.budget:
            if not self.exhausted:
                self.exhausted = f"{w.name} died {len(w.restarts) + 1} times in " \
                                 f"{self.period_s:.0f} s"
                log.critical("giving up: %s", self.exhausted)
            return
        w.restarts.append(now)
        log.error("worker %s died; restarting (%d in %.0f s)", w.name, len(w.restarts),
                  self.period_s)
        try:
            w.restart()
        except Exception:
            log.exception("restarting %s failed", w.name)

    def report(self) -> dict[str, dict[str, object]]:
        """Each worker: alive, seconds since its progress, restarts lately."""
        now = time.monotonic()
        with self._lock:
            workers = list(self._workers.values())
        return {w.name: {"alive": w.alive(), "idle_s": round(now - w.progress(), 1)
                         if w.progress else None, "restarts": len(w.restarts)}
                for w in workers}

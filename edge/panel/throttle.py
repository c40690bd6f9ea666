"""Sign-in throttling per client address, so wrong passwords cost the one who types them.

After ``free`` failures in a row from one address, each further attempt from it must wait
``base_s`` doubled per failure (1 s, 2 s, 4 s … up to ``max_s``); attempts made sooner are
refused without checking the password and without counting against the account. A success
from the address clears it. Another address (the guard's booth) is not slowed at all, so
someone typing wrong passwords elsewhere cannot lock the guard out quickly, and the account
lockout (``edge.accounts``) is left for guessing spread over many addresses.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int
    last: float


class LoginThrottle:
    """Failures and back-off per client address (in memory; a restart forgives)."""

    def __init__(self, free: int = 3, base_s: float = 1.0, max_s: float = 900.0,
                 capacity: int = 10_000, now: Callable[[], float] = time.monotonic) -> None:
        self.free = free
        self.base_s = base_s
        self.max_s = max_s
        self.capacity = capacity
        self._now = now
        self._by_addr: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def wait_s(self, addr: str) -> float:
        """Seconds *addr* must still wait before its next attempt (0: go ahead)."""
        with self._lock:
            r = self._by_addr.get(addr)
            if r is None or r.failures < self.free:
                return 0.0
            delay = min(self.base_s * 2 ** (r.failures - self.free), self.max_s)
            return max(0.0, r.last + delay - self._now())

    def failed(self, addr: str) -> None:
        """Count a wrong password from *addr*."""
        with self._lock:
            r = self._by_addr.pop(addr, None) or _Record(0, 0.0)
            r.failures += 1
            r.last = self._now()
            self._by_addr[addr] = r
            while len(self._by_addr) > self.capacity:
                self._by_addr.popitem(last=False)

    def succeeded(self, addr: str) -> None:
        """Forget *addr*'s failures."""
        with self._lock:
            self._by_addr.pop(addr, None)

"""Sign-in throttling per client address, so wrong passwords cost the one who types them.

Each try from an address is counted before its password is checked, in one step with the check
of its wait, so a burst of concurrent tries gets no more than a burst of sequential ones. The
first ``free`` tries go ahead; after that each must wait ``base_s`` doubled per try (1 s, 2 s,
4 s … up to ``max_s``). A try made sooner is refused without checking the password and without
counting against the account (or the address: waiting it out is enough). A success from the
address forgives its own try and the address's wrong tries at that user name only: a guard who
guesses at the supervisor between their own sign-ins stays slowed. A try checked in an
account's wait holds its address for that wait (``hold``), so a guesser spread over many
addresses gets one try per address per wait. Another address (the guard's booth) is not
slowed at all.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.store.accounts import backoff_s

USERS_KEPT = 8  # user names an address's wrong tries are kept under (the rest: never forgiven)


@dataclass
class _Record:
    tries: int
    until: float
    wrong: dict[str, int] = field(default_factory=dict)  # wrong tries by user name


class LoginThrottle:
    """Tries and back-off per client address (in memory; a restart forgives)."""

    def __init__(self, free: int = 5, base_s: float = 1.0, max_s: float = 900.0,
                 capacity: int = 10_000, now: Callable[[], float] = time.monotonic) -> None:
        self.free = free
        self.base_s = base_s
        self.max_s = max_s
        self.capacity = capacity
        self._now = now
        self._by_addr: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def attempt(self, addr: str) -> float:
        """Count a try from *addr* and return 0 when it may go ahead; otherwise the seconds it
        must still wait (the try is refused and not counted)."""
        with self._lock:
            now = self._now()
            r = self._by_addr.pop(addr, None) or _Record(0, 0.0)
            wait = r.until - now
            if wait <= 0:
                r.tries += 1
                r.until = now + backoff_s(r.tries, self.free, self.base_s, self.max_s)
            self._by_addr[addr] = r
            while len(self._by_addr) > self.capacity:
                self._by_addr.popitem(last=False)
            return max(wait, 0.0)

    def wait_s(self, addr: str) -> float:
        """Seconds *addr* must still wait before its next try (0: go ahead)."""
        with self._lock:
            r = self._by_addr.get(addr)
            return 0.0 if r is None else max(0.0, r.until - self._now())

    def failed(self, addr: str, username: str) -> None:
        """The try *addr* was let make was refused (a wrong password for *username*): only a
        sign-in as *username* forgives it."""
        with self._lock:
            r = self._by_addr.get(addr)
            if len(username) > 64:  # no account has such a name: nothing will forgive it
                return
            if r is not None and (username in r.wrong or len(r.wrong) < USERS_KEPT):
                r.wrong[username] = r.wrong.get(username, 0) + 1

    def succeeded(self, addr: str, username: str) -> None:
        """A sign-in as *username* from *addr*: forget its try and the address's wrong tries at
        *username*; those at other user names still count (and keep their wait)."""
        with self._lock:
            r = self._by_addr.get(addr)
            if r is None:
                return
            r.tries = max(0, r.tries - 1 - r.wrong.pop(username, 0))
            if r.tries == 0:
                self._by_addr.pop(addr)

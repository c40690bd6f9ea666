"""Panel sessions: random ids in an HttpOnly, SameSite=Strict cookie, a CSRF token per
session, and an idle logout. Sessions live in memory: a restart signs everyone out."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "gp_session"
LOGIN_COOKIE = "gp_login"


@dataclass
class Session:
    """One signed-in guard or supervisor."""

    id: str
    user: str
    role: str
    csrf: str
    last_seen: float = 0.0

    def csrf_ok(self, token: str | None) -> bool:
        """Whether a posted form carries this session's CSRF token."""
        return bool(token) and hmac.compare_digest(self.csrf, str(token))


class Sessions:
    """Live sessions, ended by logout, by idling longer than ``idle_s``, or by account removal."""

    def __init__(self, idle_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.now = now
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str, role: str) -> Session:
        """Start a session (any earlier session of the user stays: several tablets)."""
        s = Session(secrets.token_urlsafe(32), user, role, secrets.token_urlsafe(32),
                    self.now())
        with self._lock:
            self._by_id[s.id] = s
        return s

    def get(self, sid: str | None, touch: bool = True) -> Session | None:
        """The live session for a cookie value; ``touch`` counts the request as activity."""
        if not sid:
            return None
        now = self.now()
        with self._lock:
            s = self._by_id.get(sid)
            if s is None:
                return None
            if now - s.last_seen > self.idle_s:
                del self._by_id[sid]
                return None
            if touch:
                s.last_seen = now
            return s

    def count(self) -> int:
        """Sessions live now (idle ones past ``idle_s`` are not counted)."""
        now = self.now()
        with self._lock:
            return sum(now - s.last_seen <= self.idle_s for s in self._by_id.values())

    def end(self, sid: str | None) -> None:
        """Log a session out."""
        with self._lock:
            self._by_id.pop(sid or "", None)

    def end_user(self, user: str) -> None:
        """End every session of a user (account removed or locked)."""
        with self._lock:
            for sid in [k for k, s in self._by_id.items() if s.user == user]:
                del self._by_id[sid]

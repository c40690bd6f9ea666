"""Guard and supervisor accounts on the edge box: scrypt hashes, lockout, no default account.

Passwords are hashed with scrypt (a slow, memory-hard KDF) and never stored or logged in clear.
Ten wrong passwords in a row lock an account for 15 minutes; an unknown user name fails the
same way a wrong password does, after the same work, so names cannot be probed. The panel
slows each client address down after three failures (``edge.panel.throttle``), so the lockout
is reached only by guessing spread over many addresses, and it never ends a session that is
already signed in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from edge.store.db import EdgeDB
from shared.clock import Clock
from shared.passwords import hash_password, verify_password

Role = Literal["guard", "supervisor"]
MAX_FAILURES = 10
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # longer ones are refused unhashed, so they cannot cost the box scrypt work
__all__ = ["Accounts", "Login", "hash_password", "verify_password"]

_DUMMY = hash_password(secrets.token_urlsafe(16))  # unknown users cost the same work


@dataclass(frozen=True)
class Login:
    """The outcome of one sign-in attempt."""

    ok: bool
    reason: Literal["ok", "bad_credentials", "locked"]
    username: str = ""
    role: str = ""


class Accounts:
    """The accounts table of the edge database."""

    def __init__(self, db: EdgeDB, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def add(self, username: str, role: Role, password: str, source: str = "local") -> None:
        """Create or replace an account."""
        if not username or not username.isprintable() or len(username) > 64:
            raise ValueError("user names are 1–64 printable characters")
        if role not in ("guard", "supervisor"):
            raise ValueError("role must be guard or supervisor")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"passwords need at least {MIN_PASSWORD} characters")
        if len(password) > MAX_PASSWORD:
            raise ValueError(f"passwords are at most {MAX_PASSWORD} characters")
        with self.db.write() as c:
            c.execute("INSERT OR REPLACE INTO accounts(username, role, pw_hash, failures, "
                      "locked_until, source, created_at) VALUES (?, ?, ?, 0, NULL, ?, ?)",
                      (username, role, hash_password(password), source,
                       self.clock.now().isoformat()))

    def count(self) -> int:
        """How many accounts exist (a fresh box has none)."""
        return int(self.db.conn.execute("SELECT count(*) FROM accounts").fetchone()[0])

    def role(self, username: str) -> str | None:
        """The account's role, or None once it is removed."""
        row = self.db.conn.execute("SELECT role FROM accounts WHERE username = ?",
                                   (username,)).fetchone()
        return None if row is None else str(row[0])

    def login(self, username: str, password: str) -> Login:
        """Check a password, counting failures and enforcing the lockout."""
        if len(username) > 64 or len(password) > MAX_PASSWORD:  # no account has such
            return Login(False, "bad_credentials")
        now = self.clock.now()
        row = self.db.conn.execute("SELECT role, pw_hash, failures, locked_until FROM accounts "
                                   "WHERE username = ?", (username,)).fetchone()
        if row is None:
            verify_password(password, _DUMMY)
            return Login(False, "bad_credentials")
        role, pw_hash, failures, locked_until = row
        if locked_until and now < datetime.fromisoformat(locked_until):
            return Login(False, "locked", username)
        if verify_password(password, pw_hash):
            with self.db.write() as c:
                c.execute("UPDATE accounts SET failures = 0, locked_until = NULL "
                          "WHERE username = ?", (username,))
            return Login(True, "ok", username, role)
        failures = (0 if locked_until else failures) + 1
        lock = (now + LOCKOUT).isoformat() if failures >= MAX_FAILURES else None
        with self.db.write() as c:
            c.execute("UPDATE accounts SET failures = ?, locked_until = ? WHERE username = ?",
                      (failures, lock, username))
        return Login(False, "locked" if lock else "bad_credentials", username)

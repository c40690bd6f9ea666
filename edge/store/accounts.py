"""Guard and supervisor accounts on the edge box: scrypt hashes, slowed guessing, no default
account.

Passwords are hashed with scrypt (a slow, memory-hard KDF) and never stored or logged in clear;
an unknown user name fails the same way a wrong password does, after the same work, so names
cannot be probed by timing. Wrong passwords slow an account down: after ``ACCOUNT_FREE`` in a
row (from anywhere), each further try must wait 1 s, then 2 s, 4 s … up to ``ACCOUNT_MAX_S``,
and a try in that wait is refused unchecked (``locked``): guessers from any number of addresses
get one checked try per wait between them. A try is counted in the same transaction that checks
the wait, before its password is, so concurrent tries cannot all slip through. A device the
account signed in from before (``remember``: the guard's own tablet at the box) keeps its own
count for that account instead, with the same back-off, so guessing elsewhere never keeps the
holder out there; guessing at one account from a booth's browser slows that browser for that
account, and no sign-in to another account forgives it. Setting a password (``add``, or a
new hash from the cloud) and removing an account forget its devices (edge migration
``018_login_guessing``). The panel also slows each client address down
(``edge.faces.panel.throttle``), and no slow-down ends a session that is already signed in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from edge.store.db import EdgeDB
from shared.clock import Clock
from shared.passwords import hash_password, verify_password

Role = Literal["guard", "supervisor"]
ACCOUNT_FREE = 10  # wrong passwords in a row before an account is slowed down
ACCOUNT_BASE_S = 1.0
ACCOUNT_MAX_S = 300.0  # a named account waits at most this long between tries
DEVICES_KEPT = 20  # devices remembered per account (the oldest are forgotten)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # longer ones are refused unhashed, so they cannot cost the box scrypt work
__all__ = ["Accounts", "Login", "backoff_s", "hash_password", "verify_password"]

_DUMMY = hash_password(secrets.token_urlsafe(16))  # unknown users cost the same work


def backoff_s(failures: int, free: int, base_s: float, max_s: float) -> float:
    """The wait after *failures* wrong tries in a row: none for the first ``free - 1``, then
    *base_s* doubled per failure, up to *max_s*."""
    if failures < free:
        return 0.0
    return min(base_s * 2.0 ** min(failures - free, 40), max_s)


@dataclass(frozen=True)
class Login:
    """The outcome of one sign-in attempt."""

    ok: bool
    reason: Literal["ok", "bad_credentials", "locked"]
    username: str = ""
    role: str = ""
    # Seconds before the next try is taken, when this one came in a wait: ``locked`` (refused
    # unchecked, a remembered device's wait) or ``bad_credentials`` (checked in the account's
    # wait, which it made longer). 0: it came in no wait.
    wait_s: float = 0.0


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _left(until: str | None, now: datetime) -> float:
    """Seconds of a stored wait still to run (0: none)."""
    return max(0.0, (datetime.fromisoformat(until) - now).total_seconds()) if until else 0.0


class Accounts:
    """The accounts table of the edge database."""

    def __init__(self, db: EdgeDB, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def add(self, username: str, role: Role, password: str, source: str = "local") -> None:
        """Create or replace an account (a new password ends any slow-down)."""
        if not username or not username.isprintable() or len(username) > 64:
            raise ValueError("user names are 1–64 printable characters")
        if role not in ("guard", "supervisor"):
            raise ValueError("role must be guard or supervisor")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"passwords need at least {MIN_PASSWORD} characters")
        if len(password) > MAX_PASSWORD:
            raise ValueError(f"passwords are at most {MAX_PASSWORD} characters")
        with self.db.write() as c:  # a new password: the devices signed in before are forgotten
            c.execute("DELETE FROM login_devices WHERE username = ?", (username,))
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

    def login(self, username: str, password: str, device: str | None = None) -> Login:
        """Check a password from a device (its ``remember`` token, if any), counting the try
        against the device when the account signed in from it before, else the account."""
        if len(username) > 64 or len(password) > MAX_PASSWORD:  # no account has such
            return Login(False, "bad_credentials")
        now = self.clock.now()
        token = _token_hash(device) if device else ""
        with self.db.write() as c:  # the wait checked and the try counted in one transaction
            row = c.execute("SELECT role, pw_hash, failures, locked_until FROM accounts "
                            "WHERE username = ?", (username,)).fetchone()
            mine = None if row is None or not token else c.execute(
                "SELECT failures, locked_until FROM login_devices WHERE token = ? AND "
                "username = ?", (token, username)).fetchone()
            if row is not None:
                failures, until = (mine[0], mine[1]) if mine is not None else (row[2], row[3])
                waiting = _left(until, now)
                if waiting:  # refused unchecked: a guesser gets one checked try per wait
                    return Login(False, "locked", username, wait_s=waiting)
                failures += 1  # undone below if the password is right
                wait = backoff_s(failures, ACCOUNT_FREE, ACCOUNT_BASE_S, ACCOUNT_MAX_S)
                until = (now + timedelta(seconds=wait)).isoformat() if wait else None
                if mine is not None:
                    c.execute("UPDATE login_devices SET failures = ?, locked_until = ? WHERE "
                              "token = ? AND username = ?", (failures, until, token, username))
                else:
                    c.execute("UPDATE accounts SET failures = ?, locked_until = ? "
                              "WHERE username = ?", (failures, until, username))
        if row is None:
            verify_password(password, _DUMMY)
            return Login(False, "bad_credentials")
        if not verify_password(password, row[1]):
            return Login(False, "bad_credentials", username)
        with self.db.write() as c:  # the holder is back: the guessing counted here is forgiven
            if mine is not None:
                c.execute("UPDATE login_devices SET failures = 0, locked_until = NULL "
                          "WHERE token = ? AND username = ?", (token, username))
            else:
                c.execute("UPDATE accounts SET failures = 0, locked_until = NULL "
                          "WHERE username = ?", (username,))
        return Login(True, "ok", username, str(row[0]))

    def remember(self, username: str, device: str | None) -> str:
        """After a sign-in: the device's token to keep (its own, or a new one when it has
        none), remembered for *username*; an account keeps its latest ``DEVICES_KEPT``."""
        with self.db.write() as c:
            # Only a token this box gave out is kept: a browser cannot choose its own.
            issued = bool(device) and len(device or "") <= 100 and c.execute(
                "SELECT 1 FROM login_devices WHERE token = ?",
                (_token_hash(device or ""),)).fetchone() is not None
            token = device if issued and device else secrets.token_urlsafe(32)
            c.execute("INSERT INTO login_devices(token, username, at) VALUES (?, ?, ?) ON "
                      "CONFLICT(token, username) DO UPDATE SET at = excluded.at",
                      (_token_hash(token), username, self.clock.now().isoformat()))
            c.execute("DELETE FROM login_devices WHERE username = ? AND token NOT IN (SELECT "
                      "token FROM login_devices WHERE username = ? ORDER BY at DESC LIMIT ?)",
                      (username, username, DEVICES_KEPT))
        return token

"""Brute force at a keypad (pure): after ``after`` wrong codes on one reader within ``window``,
the reader is locked for ``lock_for``; while locked every code is refused with
``keypad_locked`` without being looked up, so a code cannot be guessed by trying them all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class KeypadLock:
    """A reader's recent wrong codes and the end of its lock."""

    wrong: tuple[datetime, ...] = ()
    until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        """Whether codes are refused unread now."""
        return self.until is not None and now < self.until


def noted(lock: KeypadLock, wrong: bool, now: datetime, after: int, window: timedelta,
          lock_for: timedelta) -> tuple[KeypadLock, bool]:
    """The lock after a code was decided (*wrong*: unknown at the site), and whether this code
    locked the reader. A right code forgets the wrong ones before it."""
    if not wrong:
        return KeypadLock((), lock.until), False
    recent = (*(t for t in lock.wrong if now - t < window), now)
    if len(recent) >= after:
        return KeypadLock((), now + lock_for), True
    return KeypadLock(recent, lock.until), False

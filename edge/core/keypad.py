"""Guessing at a gate's code readers (pure): its keypad, and its camera for QR passes.

Every code a reader refuses counts as a guess (``guess``), save a known code refused for its
hour or its side (``outside_schedule``, ``anti_passback``), which is neither a guess nor a right
code. After ``after`` guesses on one reader within ``window`` the reader is locked for
``lock_for``; while locked every code is refused with ``keypad_locked`` without being looked up,
so a code cannot be guessed by trying them all. A lock that comes back less than a day after
the last one lasts twice as long as the one before, up to ``longest``: whoever keeps guessing
gets fewer tries an hour, while the guard's code box is never locked and the guard may end a
lock (``cleared``). A right code forgives nothing: guesses run out only with ``window`` and the
locks in a row only after a day, so a resident's own reusable code between guesses buys no
more of them. A QR whose text cannot be a code (a toll tag's or a parking permit's on a
windscreen, a poster) is no guess: it was shown by chance, and can never be a right code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from edge.core.types import Decision
from shared.vocab import Reason

DAY = timedelta(days=1)  # a lock longer ago than this no longer makes the next one longer
# Refusals of a code the site knows and that is live, for when or where it is used, are not
# guesses; nor is a code refused unread by the lock itself, nor one a box could not look up
# because it has not yet the site's code key back (started while offline).
NOT_GUESSES = frozenset({Reason.OUTSIDE_SCHEDULE, Reason.ANTI_PASSBACK, Reason.KEYPAD_LOCKED,
                         Reason.CODE_KEY_MISSING})


@dataclass(frozen=True, slots=True)
class KeypadLock:
    """A reader's recent guesses, the end of its lock, and how many locks came in a row."""

    wrong: tuple[datetime, ...] = ()
    until: datetime | None = None
    level: int = 0  # locks in a row, each less than a day after the one before
    last: datetime | None = None  # when the latest of them began

    def locked(self, now: datetime) -> bool:
        """Whether codes are refused unread now."""
        return self.until is not None and now < self.until


def guess(decision: Decision, source: str = "keypad") -> bool | None:
    """Whether a decided code from *source* (``keypad``, ``qr``) was a guess (True), a right
    code (False), or neither (None)."""
    if decision.opens:
        return False
    if source == "qr" and not decision.credential.value:  # not code-shaped: read, not tried
        return None
    return None if decision.reason in NOT_GUESSES else True


def noted(lock: KeypadLock, wrong: bool | None, now: datetime, after: int, window: timedelta,
          lock_for: timedelta, longest: timedelta | None = None) -> tuple[KeypadLock, bool]:
    """The lock after a code was decided (*wrong*: ``guess`` of its decision), and whether this
    code locked the reader. A lock in a row lasts ``lock_for`` doubled per lock before it, up to
    ``longest`` (default: ``lock_for``, no growth)."""
    if wrong is None:
        return lock, False
    kept = tuple(t for t in lock.wrong if now - t < window)
    if not wrong:  # forgives nothing: the guesses run out with the window only
        return KeypadLock(kept, lock.until, lock.level, lock.last), False
    recent = (*kept, now)
    if len(recent) < after:
        return KeypadLock(recent, lock.until, lock.level, lock.last), False
    level = lock.level + 1 if lock.last is not None and now - lock.last < DAY else 1
    span = min(lock_for * 2 ** min(level - 1, 30), max(longest or lock_for, lock_for))
    return KeypadLock((), now + span, level, now), True


def cleared(lock: KeypadLock) -> KeypadLock:
    """The guard ended the lock: codes are decided again, the guesses are forgotten, and a lock
    that comes back still lasts longer."""
    return KeypadLock((), None, lock.level, lock.last)

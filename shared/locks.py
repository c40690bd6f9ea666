"""The lock rule, in one place: a locked vehicle may enter, not leave.

The owner locks a vehicle's tag (anti-theft), with or without an end time. The edge's decision
core, the edge's re-check of a signed remote open and the cloud's remote-open route all ask
these two functions, so the rule cannot drift between them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime


def is_locked(locked: bool, until: datetime | None, now: datetime) -> bool:
    """Locked now: locked with no end, or before its end."""
    return locked and (until is None or now < until)


def refusing_lock(leaving: bool, locks: Iterable[tuple[bool, datetime | None]],
                 now: datetime) -> tuple[bool, datetime | None] | None:
    """The ``(locked, until)`` lock that refuses a vehicle with these tags, or None: a lock
    refuses only a vehicle that is leaving, and only while it runs."""
    if not leaving:
        return None
    for locked, until in locks:
        if is_locked(locked, until, now):
            return locked, until
    return None

"""Limits on guessing a sticker's secret, that hold under concurrent requests and across cloud
processes, and that an attacker cannot turn against the sticker's real holder.

Every try reserves an attempt *before* the secret is checked, from counters in the database,
in one transaction that row-locks them: concurrent tries take turns, so no more than the budget
are ever checked, whatever the number of requests or processes. A right guess gives its
attempt back; a wrong one keeps it, and the wrong one that spends a key's budget locks the key,
for ``Budget.lock`` the first time and twice as long each time after (up to ``cap``). The
keys:

- ``src:ADDRESS``: where the request came from (many accounts behind one guesser);
- ``resident:ID``: the signed-in resident (one account guessing many stickers);
- ``tag:ID``: the sticker (many accounts and addresses guessing one sticker).

A lock on a sticker must not keep out its real holder: a resident whose flat owns the vehicle
named in the try is counted on their own account only (``holder``), never on the sticker's or
the address's counters, which others may have spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cloud.errors import CloudError
from cloud.refusals import Refusal
from cloud.storage import Database
from cloud.storage import guesses as store
from shared.passwords import hash_password, verify_password


@dataclass(frozen=True)
class Budget:
    """How many tries a key gets before it locks, and for how long."""

    attempts: int
    lock: timedelta = timedelta(minutes=15)  # the first lock; doubles with each lock after
    cap: timedelta = timedelta(hours=24)


RESIDENT = Budget(5)
TAG = Budget(5)
SOURCE = Budget(20)  # a household or an office may share one address
FORGET = timedelta(days=1)  # a key quiet this long starts afresh (its back-off too)


def keys(resident: str, source: str, tags: list[str], holder: bool) -> dict[str, Budget]:
    """The counters a try takes from: a holder's own account only, anyone else's account,
    address and every sticker tried."""
    if holder:
        return {f"resident:{resident}": RESIDENT}
    return {f"resident:{resident}": RESIDENT, f"src:{source}": SOURCE} | {
        f"tag:{t}": TAG for t in tags}


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="minutes")


def take(db: Database, budgets: dict[str, Budget], now: datetime) -> None:
    """Reserve one attempt on each counter before a guess is checked, or refuse
    (``too_many_attempts``, nothing taken) while any of them is locked or has its whole budget
    out in tries not yet answered: however many requests come at once, over however many
    processes, no more than the budget are ever checked."""
    at = now.timestamp()
    with db.write() as c:
        rows = store.hold(c, list(budgets), at)
        locked = [r["locked_until"] for r in rows.values()
                  if r["locked_until"] is not None and r["locked_until"] > at]
        if locked:
            raise CloudError(429, Refusal.TOO_MANY_ATTEMPTS, "too many wrong tries: try again "
                             f"after {_stamp(max(locked))}")
        fresh = {k: at - r["last_at"] > FORGET.total_seconds() for k, r in rows.items()}
        if any(not fresh[k] and int(rows[k]["attempts"]) >= b.attempts
               for k, b in budgets.items()):
            raise CloudError(429, Refusal.TOO_MANY_ATTEMPTS, "too many tries at once: try again in "
                             "a minute")
        for key in budgets:
            row = rows[key]
            attempts = 1 if fresh[key] else int(row["attempts"]) + 1
            strikes = 0 if fresh[key] else int(row["strikes"])
            store.put(c, key, attempts, strikes, None, at)


def wrong(db: Database, budgets: dict[str, Budget], now: datetime) -> None:
    """A wrong guess keeps its attempt; a counter whose budget it spent locks, for its
    ``Budget.lock`` doubled with each lock before (up to its ``cap``)."""
    at = now.timestamp()
    with db.write() as c:
        rows = store.hold(c, list(budgets), at)
        for key, budget in budgets.items():
            row = rows[key]
            if int(row["attempts"]) >= budget.attempts:
                strikes = int(row["strikes"])
                until = at + min(budget.cap, budget.lock * 2 ** strikes).total_seconds()
                store.put(c, key, 0, strikes + 1, until, at)


def right(db: Database, budgets: dict[str, Budget]) -> None:
    """A right guess gives its attempt back to every counter, and the sticker's counter
    starts afresh. Only the attempt is given back: wrong guesses before it still count, so a
    right secret of one sticker (one's own, proven again and again) buys no guesses at
    another."""
    with db.write() as c:
        store.clear(c, [k for k in budgets if k.startswith("tag:")])
        for k in budgets:
            if not k.startswith("tag:"):
                store.give_back(c, k)


@cache
def _decoy() -> str:
    # A hash to check a guess against when there is nothing to check it against (an unknown
    # tag id): the answer takes as long as for a wrong secret, and tells nothing more.
    return hash_password("no sticker has this secret")


def attempt(db: Database, budgets: dict[str, Budget], now: datetime, secret: str,
            hashes: Sequence[str]) -> bool:
    """One guess of *secret* against the stored *hashes* (none: an unknown sticker, always
    wrong, checked as slowly): the attempt taken first (``take``), the counters cleared when it
    is right (``right``). The slow hash runs outside any write transaction."""
    take(db, budgets, now)
    ok = False
    for h in hashes or [_decoy()]:
        ok = verify_password(secret, h) or ok
    ok = ok and bool(hashes)
    if ok:
        right(db, budgets)
    else:
        wrong(db, budgets, now)
    return ok

"""Claims on single-use passes at one box: who may spend a pass now, decided atomically.

Before a single-use pass opens, the box claims it here (for one of its own lanes) and at each
peer box of the site (``edge.peers.exchange``); a peer's claim arrives through the local API.
Each claim is one step under one lock, so of two claims on a pass one box answers exactly one
"free". Two boxes claiming at the same moment both hold their own claim when the other's
arrives; the box with the lower id wins at both, so exactly one opens. A claim lives ``ttl_s``
(a claimer that neither opened nor gave up by then is forgotten); a pass spent is answered
from the spends table, which outlives every claim.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

# unverified: a peer answered a claim, but not with a valid signed answer (never a registry's)
Verdict = Literal["free", "taken", "spent", "unverified"]


@dataclass(frozen=True, slots=True)
class Claim:
    """A box's claim on a pass: *token* names one attempt; *held* once its box won it."""

    box: str
    token: str
    at: float  # time.monotonic() when this box recorded it
    held: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """What a claim got: free (go on), taken (another box is spending it), spent, or
    unverified (a peer's answer could not be trusted); *by* is the box that holds it."""

    verdict: Verdict
    by: str | None = None


def judge(row: Claim | None, box: str, token: str, own: str) -> Verdict:
    """Whether *box*'s claim *token* may replace *row*, the live claim this box holds on the
    pass (pure). A box's second attempt replaces its first, unless this box is the claimer:
    two lanes of one box are settled here, first come first served. Two boxes' claims, neither
    won yet: the lower box id wins, wherever the question is asked."""
    if row is None or row.token == token:
        return "free"
    if row.held or (row.box == box == own):
        return "taken"
    if row.box == box or box < row.box:
        return "free"
    return "taken"


class Claims:
    """The claims this box holds, one per pass (keyed hash); *spent* says whether the box has a
    spend of the pass on record."""

    def __init__(self, own: str, spent: Callable[[str], bool], ttl_s: float = 10.0) -> None:
        self.own, self._spent, self.ttl_s = own, spent, ttl_s
        self._rows: dict[str, Claim] = {}
        self._lock = threading.Lock()

    def take(self, digest: str, box: str, token: str) -> Answer:
        """Record *box*'s claim on the pass if it may have it."""
        with self._lock:
            row = self._live(digest)
            if self._spent(digest):
                return Answer("spent", self.own)
            verdict = judge(row, box, token, self.own)
            if verdict == "free":
                if row is None or row.token != token:
                    self._rows[digest] = Claim(box, token, time.monotonic())
                return Answer("free")
            assert row is not None
            return Answer(verdict, row.box)

    def win(self, digest: str, token: str) -> Answer:
        """This box's claim *token* becomes final, if it still stands: no claim replaces it
        after this, so the lane may open. ``taken`` when another box's claim replaced it."""
        with self._lock:
            row = self._live(digest)
            if self._spent(digest):
                return Answer("spent", self.own)
            if row is None or row.token != token or \
                    time.monotonic() - row.at > self.ttl_s / 2:
                return Answer("taken", row.box if row else None)
            self._rows[digest] = replace(row, held=True)
            return Answer("free")

    def drop(self, digest: str, token: str) -> None:
        """Forget this attempt's claim (it lost, or its pass is spent)."""
        with self._lock:
            row = self._rows.get(digest)
            if row is not None and row.token == token:
                del self._rows[digest]

    def _live(self, digest: str) -> Claim | None:
        """The pass's claim unless it is older than the TTL; prunes the old ones as it goes."""
        now = time.monotonic()
        if len(self._rows) > 64:
            for k in [k for k, r in self._rows.items() if now - r.at > self.ttl_s]:
                del self._rows[k]
        row = self._rows.get(digest)
        if row is not None and now - row.at > self.ttl_s:
            del self._rows[digest]
            return None
        return row

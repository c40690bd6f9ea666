"""A lane's access codes: what comes in from a keypad, a QR or the guard's code box is decided
by the decision core like any credential; this adds what belongs to codes alone. A keypad that
(or a camera that was shown too many wrong QR codes) is locked a while (``edge.core.keypad``): its
codes are refused unread, the guard is alerted once, and may end the lock (``clear``); the guard's
own code box is never locked. An open for a single-use pass spends it in the
transaction that records the open; an open for a visitor pass puts the visitor inside (an
entry) or out (an exit) in the same transaction (``edge.store.visitors``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from edge.config import CameraConfig, KeypadConfig
from edge.core import keypad as keypad_rules
from edge.core.types import CacheView, Credential, Decision
from edge.lanes.messages import CodeEntry
from edge.lanes.recorder import Recorder
from edge.peers.exchange import SpendPeers
from edge.store import codes as codes_store
from edge.store import visitors
from shared.vocab import CredentialKind, Direction, Outcome, Reason
from shared.wire.events import AlertData, AlertKind

# A reader's lock settings: wrong codes, within, lock for, longest lock.
Limits = tuple[int, timedelta, timedelta, timedelta]

# What the lane records for a code: the decision, the read, the decision's extra data, and
# what to write with its open (a single-use pass spent), if anything.
Entered = tuple[Decision, dict[str, Any], dict[str, Any], Callable[[Any], None] | None]


class CodeDesk:
    """The codes of one gate, and the locks of its keypad and its camera's QR search."""

    def __init__(self, gate: str, site: str, keypad: KeypadConfig | None,
                 recorder: Recorder, spends: SpendPeers | None = None,
                 camera: CameraConfig | None = None) -> None:
        self.gate, self.site, self.keypad, self.recorder = gate, site, keypad, recorder
        self.spends = spends  # claims single-use passes at the box's other lanes and peers
        self.limits: dict[str, Limits] = {}  # by source: keypad, qr (never guard)
        if keypad is not None:
            self.limits["keypad"] = (keypad.lock_after, _s(keypad.lock_window_s),
                                     _s(keypad.lock_s), _s(keypad.lock_max_s))
        if camera is not None and camera.qr:
            self.limits["qr"] = (camera.qr_lock_after, _s(camera.qr_lock_window_s),
                                 _s(camera.qr_lock_s), _s(camera.qr_lock_max_s))
        self.locks = {source: keypad_rules.KeypadLock() for source in self.limits}

    def enter(self, msg: CodeEntry, now: datetime, view: CacheView,
              decide: Callable[[Credential], Decision]) -> Entered:
        """Decide a code as entered (*decide* is the lane's decision core)."""
        limits = self.limits.get(msg.source)
        if limits is not None and self.locks[msg.source].locked(now):
            until = self.locks[msg.source].until
            decision = Decision(Outcome.DENY, Reason.KEYPAD_LOCKED, self.gate,
                                Credential(CredentialKind.CODE, ""), now,
                                detail=f"too many wrong codes: locked until "
                                f"{until.isoformat() if until else '?'}")
        else:
            decision = decide(Credential.code(msg.code))
        digest = decision.credential.value
        read: dict[str, Any] = {"credential": {"kind": "code", "value": digest},
                                "source": msg.source}
        extra: dict[str, Any] = {"code": {"source": msg.source,
                                          **({"by": msg.user} if msg.user else {})}}
        code = view.code(self.site, digest) if decision.opens else None
        if code is not None and code.single_use and self.spends is not None:
            decision = self.spends.claim(self.site, decision, extra["code"])
            code = code if decision.opens else None
        if limits is not None:  # as finally decided: a pass a peer spent is a guess too
            self._note(msg.source, limits, keypad_rules.guess(decision, msg.source), now)
        writes: list[Callable[[Any], Any]] = []
        if code is not None and code.single_use:
            writes.append(lambda c: codes_store.spend(c, digest, now))
            if (spends := self.spends) is not None:
                writes.append(lambda c: spends.spent(c, self.site, digest, now))
        if code is not None and code.kind == "visitor":
            key = f"code:{digest}"
            if decision.direction is Direction.EXIT:
                writes.append(lambda c: visitors.went_out(c, key))
            else:
                who = visitors.Inside(key, self.site, code.label, code.flat, code.vrn, self.gate,
                                      msg.source, now)
                writes.append(lambda c: visitors.came_in(c, who))
        self.recorder.counters.inc("codes")

        def with_open(c: Any) -> None:
            for write in writes:
                write(c)

        return decision, read, extra, with_open if writes else None

    def _note(self, source: str, limits: Limits, wrong: bool | None, now: datetime) -> None:
        after, window, lock_for, longest = limits
        self.locks[source], locked = keypad_rules.noted(
            self.locks[source], wrong, now, after, window, lock_for, longest)
        if locked:
            lock = self.locks[source]
            span = (lock.until - now).total_seconds() if lock.until else 0.0
            reader = "keypad" if source == "keypad" else "camera"
            self.recorder.alert(self.gate, now, AlertData(
                alert=AlertKind.KEYPAD_LOCKED, source=source, until=_iso(lock.until),
                locks_in_a_row=lock.level, detail=f"{after} wrong codes within "
                f"{window.total_seconds():.0f} s: the {reader} refuses codes for {span:.0f} s"))

    def locked_until(self, now: datetime) -> dict[str, str]:
        """The readers locked now (``keypad``, ``qr``) and the end of each lock."""
        return {source: _iso(lock.until) for source, lock in self.locks.items()
                if lock.locked(now)}

    def clear(self, now: datetime, user: str) -> dict[str, str]:
        """The guard ends the gate's reader locks (an audited ``keypad_cleared`` alert);
        returns the locks that were on, as ``locked_until`` said."""
        was = self.locked_until(now)
        self.locks = {source: keypad_rules.cleared(lock) for source, lock in self.locks.items()}
        self.recorder.alert(self.gate, now, AlertData(
            alert=AlertKind.KEYPAD_CLEARED, by=user, was_locked=was,
            detail=f"{user} ended the lock of the gate's code readers"))
        return was


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at else ""

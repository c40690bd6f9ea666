"""A lane's access codes: what comes in from a keypad, a QR or the guard's code box is decided
by the decision core like any credential; this adds what belongs to codes alone. A keypad that
took too many wrong codes is locked a while (``edge.core.keypad``): its codes are refused
unread, and the guard is alerted once. An open for a single-use pass spends it in the
transaction that records the open; an open for a visitor pass puts the visitor inside (an
entry) or out (an exit) in the same transaction (``edge.store.visitors``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from edge.config import KeypadConfig
from edge.core import keypad as keypad_rules
from edge.core.types import CacheView, Credential, Decision
from edge.lanes.messages import CodeEntry
from edge.recorder import Recorder
from edge.store import codes as codes_store
from edge.store import visitors
from shared.vocab import CredentialKind, Direction, EventType, Outcome, Reason

# What the lane records for a code: the decision, the read, the decision's extra data, and
# what to write with its open (a single-use pass spent), if anything.
Entered = tuple[Decision, dict[str, Any], dict[str, Any], Callable[[Any], None] | None]


class CodeDesk:
    """The codes of one gate, and its keypad's lock."""

    def __init__(self, gate: str, site: str, keypad: KeypadConfig | None,
                 recorder: Recorder) -> None:
        self.gate, self.site, self.keypad, self.recorder = gate, site, keypad, recorder
        self.lock = keypad_rules.KeypadLock()

    def enter(self, msg: CodeEntry, now: datetime, view: CacheView,
              decide: Callable[[Credential], Decision]) -> Entered:
        """Decide a code as entered (*decide* is the lane's decision core)."""
        keyed = msg.source == "keypad" and self.keypad is not None
        if keyed and self.lock.locked(now):
            until = self.lock.until
            decision = Decision(Outcome.DENY, Reason.KEYPAD_LOCKED, self.gate,
                                Credential(CredentialKind.CODE, ""), now,
                                detail=f"too many wrong codes: locked until "
                                f"{until.isoformat() if until else '?'}")
        else:
            decision = decide(Credential.code(msg.code))
            if keyed:
                self._note(decision.reason is Reason.CODE_UNKNOWN, now)
        digest = decision.credential.value
        read: dict[str, Any] = {"credential": {"kind": "code", "value": digest},
                                "source": msg.source}
        extra: dict[str, Any] = {"code": {"source": msg.source,
                                          **({"by": msg.user} if msg.user else {})}}
        code = view.code(self.site, digest) if decision.opens else None
        writes: list[Callable[[Any], Any]] = []
        if code is not None and code.single_use:
            writes.append(lambda c: codes_store.spend(c, digest, now))
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

    def _note(self, wrong: bool, now: datetime) -> None:
        kp = self.keypad
        assert kp is not None
        self.lock, locked = keypad_rules.noted(
            self.lock, wrong, now, kp.lock_after, timedelta(seconds=kp.lock_window_s),
            timedelta(seconds=kp.lock_s))
        if locked:
            self.recorder.event(self.gate, EventType.ALERT, now, {
                "alert": "keypad_locked", "detail": f"{kp.lock_after} wrong codes within "
                f"{kp.lock_window_s:.0f} s: the keypad refuses codes for {kp.lock_s:.0f} s"})

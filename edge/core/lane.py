"""What a lane remembers of the vehicle in front of it, and the rules over it (pure).

* **Hold.** A credential still in the field (read again within ``dedup_hold_s`` of its last
  read) is not decided again if it opened. If it was refused or is pending, its next read is
  decided again as soon as the rules changed since (a new rules version, or staff correcting
  presence), and otherwise at most every ``redecide_s`` — never held forever while the owner
  unlocks, pays or staff correct presence. Only a read re-decides a tag, so a car that gave up
  and left is never opened for; a plate, which the camera does not repeat, is decided again
  while its vehicle is on the loop. A re-decision that comes out the same is not recorded
  again.
* **Window.** The credentials decided for the vehicle now at the gate (for fusion) and the
  vehicle the lane opened for. A loop-confirmed pass ends the window, so the next car is never
  paired with the last one's reads; a second open within the hold for the vehicle already let
  through, while the boom is still up, is a duplicate, never a second pulse.
* **Confirmation.** Where a gate asks for ``confirm_reads`` N > 1, a tag is decided only once
  N identical reads arrived within ``confirm_window_s`` (CRC-16 alone lets a corrupted frame
  through now and then; a corrupted EPC is not read twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from edge.core.types import Decision, PlateEvidence, Policy, RecentCredential
from shared.vocab import CredentialKind, Outcome, Reason


@dataclass(frozen=True, slots=True)
class Held:
    """A credential the lane decided and may still see."""

    key: str
    outcome: Outcome
    reason: Reason
    vrn: str | None
    decided_at: datetime
    seen_at: datetime
    stamp: int = 0  # the lane's rules stamp when it was decided (0: not known, e.g. restored)


def in_field(held: Held | None, now: datetime, policy: Policy) -> bool:
    """Whether the credential was read within the hold."""
    return held is not None and now - held.seen_at < timedelta(seconds=policy.dedup_hold_s)


def holds(held: Held | None, now: datetime, policy: Policy, stamp: int) -> bool:
    """True: this read is a duplicate of a decision that still stands."""
    if held is None or not in_field(held, now, policy):
        return False
    if held.outcome is Outcome.OPEN:
        return True
    if held.stamp and stamp != held.stamp:
        return False
    return now - held.decided_at < timedelta(seconds=policy.redecide_s)


def due(held: Held, now: datetime, policy: Policy, stamp: int) -> bool:
    """Whether a refused or pending credential still in the field is to be decided again now
    (the rules changed, or ``redecide_s`` passed) without waiting for another read."""
    if held.outcome is Outcome.OPEN or not in_field(held, now, policy):
        return False
    return not holds(held, now, policy, stamp)


def unchanged(held: Held | None, decision: Decision, now: datetime, policy: Policy) -> bool:
    """A re-decision of a credential in the field that says what it said before."""
    return (in_field(held, now, policy) and held is not None
            and held.outcome is decision.outcome and held.reason is decision.reason)


def seen(held: Held, now: datetime) -> Held:
    """The same decision, read again."""
    return replace(held, seen_at=now)


def held_of(decision: Decision, now: datetime, stamp: int) -> Held:
    """What the lane keeps of a decision it recorded."""
    return Held(decision.credential.key, decision.outcome, decision.reason, decision.vrn, now,
                now, stamp)


# Credentials the vehicle itself presents. An open on a signed command or by the guard does not
# make the car's own tag a duplicate: it may arrive after the boom came down again, which the
# lane learns only at its next poll of the board.
VEHICLE_KINDS = frozenset({CredentialKind.TAG, CredentialKind.PLATE})


@dataclass(frozen=True, slots=True)
class Window:
    """The vehicle at the gate now: its credentials by kind, and whom the lane opened for."""

    recent: tuple[RecentCredential, ...] = ()
    opened_for: str | None = None
    opened_at: datetime | None = None

    def of(self, kind: str) -> RecentCredential | None:
        """The credential of *kind* decided for this vehicle."""
        return next((r for r in self.recent if r.kind == kind), None)


def note(window: Window, decision: Decision) -> Window:
    """The window after a recorded decision (duplicates change nothing)."""
    if decision.reason is Reason.DUPLICATE_READ or not decision.vrn:
        return window
    kind = str(decision.credential.kind)
    recent = (*(r for r in window.recent if r.kind != kind),
              RecentCredential(kind, decision.vrn, decision.at))
    if decision.opens and kind in VEHICLE_KINDS:
        return Window(recent, decision.vrn, decision.at)
    return replace(window, recent=recent)


def passed(window: Window) -> Window:
    """A pass ends the vehicle's window."""
    return Window()


def closed(window: Window) -> Window:
    """The boom came down again without a pass: that open is over (a car that arrives after
    a remote open whose boom already closed gets its own), the credentials stay paired."""
    return replace(window, opened_for=None, opened_at=None)


def opened_already(window: Window, decision: Decision, policy: Policy) -> bool:
    """An open for the vehicle the lane let through within the hold, before it passed (its
    second tag, or its plate after its tag at an ``either`` gate)."""
    return (decision.opens and window.opened_at is not None and decision.vrn is not None
            and window.opened_for == decision.vrn
            and decision.at - window.opened_at < timedelta(seconds=policy.dedup_hold_s))


def agreed(counted: tuple[str, int], decision: Decision, evidence: PlateEvidence, needed: int,
           instant: float) -> tuple[bool, tuple[str, int]]:
    """Plates: enough frames named this plate, or one confident exact read did. Returns the
    verdict and the count carried to the next frame of the same vehicle."""
    if needed <= 1:
        return True, counted
    best_text, best_score = evidence.best
    if best_text == decision.vrn and best_score >= instant:
        return True, counted
    plate, count = counted
    count = count + 1 if plate == decision.vrn else 1
    return count >= needed, (decision.vrn or "", count)


@dataclass(slots=True)
class Confirmations:
    """Identical reads counted per credential while a gate asks for more than one."""

    needed: int = 1
    window_s: float = 1.0
    counts: dict[str, tuple[int, float]] = field(default_factory=dict)

    def confirmed(self, key: str, at_s: float) -> bool:
        """Count one read at monotonic *at_s*; True once ``needed`` arrived in the window."""
        if self.needed <= 1:
            return True
        n, first = self.counts.get(key, (0, at_s))
        if at_s - first > self.window_s:
            n, first = 0, at_s
        n += 1
        if n >= self.needed:
            self.counts.pop(key, None)
            return True
        self.counts[key] = (n, first)
        if len(self.counts) > 1000:  # noise: forget the stale ones
            self.counts = {k: v for k, v in self.counts.items() if at_s - v[1] <= self.window_s}
        return False

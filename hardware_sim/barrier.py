"""A boom barrier with real timing: warning, rise, presence loop, close-after-pass, auto-close.

Rules the model keeps (PROTOCOLS.md): an OPEN press during lowering reverses the boom; the
presence loop holds it open and reverses a closing boom; it closes once the vehicle has cleared
the loop; the auto-close timer pauses while the loop is occupied; STOP overrides everything;
nothing ever lowers onto a vehicle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CLOSED, WARNING, RISING, OPEN, LOWERING, HALTED = (
    "closed", "warning", "rising", "open", "lowering", "halted",
)


@dataclass
class BarrierTiming:
    """Seconds for each phase (1, 3 or 6 s rises are common; the simulator defaults fast)."""

    warn_s: float = 0.0
    rise_s: float = 1.0
    fall_s: float = 1.0
    auto_close_s: float = 10.0
    close_after_pass_s: float = 0.3


@dataclass
class BoomState:
    """A snapshot for inputs and observers."""

    state: str
    position: float
    loop: bool
    stop: bool
    opens: int
    passes: int
    transitions: list[tuple[float, str]] = field(default_factory=list)

    @property
    def open_limit(self) -> bool:
        """The fully-open limit switch."""
        return self.position >= 1.0

    @property
    def closed_limit(self) -> bool:
        """The fully-closed limit switch."""
        return self.position <= 0.0


class Boom:
    """The barrier operator; time comes from ``clock`` (monotonic seconds)."""

    def __init__(self, timing: BarrierTiming | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timing = timing or BarrierTiming()
        self._clock = clock
        self._cond = threading.Condition()
        self._state = CLOSED
        self._pos = 0.0
        self._loop = False
        self._stop = False
        self._t = clock()
        self._phase_at = self._t
        self._auto_elapsed = 0.0
        self._cleared_at: float | None = None
        self.opens = 0
        self.passes = 0
        self.transitions: list[tuple[float, str]] = [(self._t, CLOSED)]

    # Inputs ----------------------------------------------------------------------------------
    def press_open(self) -> None:
        """The OPEN contact closes (relay pulse or the guard's button)."""
        with self._cond:
            self._advance()
            if self._stop:
                return
            self.opens += 1
            if self._state == CLOSED:
                self._cleared_at = None
                self._go(WARNING if self.timing.warn_s > 0 else RISING)
            elif self._state in (LOWERING, HALTED):
                self._go(RISING)
            elif self._state == OPEN:
                self._auto_elapsed = 0.0

    def set_loop(self, occupied: bool) -> None:
        """The presence loop under the boom sees a vehicle, or not."""
        with self._cond:
            self._advance()
            if occupied and not self._loop:
                if self._state == LOWERING:
                    self._go(RISING)
            elif self._loop and not occupied:
                self.passes += 1
                self._cleared_at = self._t
            self._loop = occupied
            self._cond.notify_all()

    def set_stop(self, active: bool) -> None:
        """STOP halts motion and overrides every other input while active."""
        with self._cond:
            self._advance()
            self._stop = active
            if active and self._state in (WARNING, RISING, LOWERING, OPEN):
                self._go(HALTED)

    # Outputs ---------------------------------------------------------------------------------
    def snapshot(self) -> BoomState:
        """Current state after advancing time."""
        with self._cond:
            self._advance()
            return BoomState(self._state, self._pos, self._loop, self._stop, self.opens,
                             self.passes, list(self.transitions))

    def tick(self) -> None:
        """Advance time and wake waiters (the simulator calls this every few ms)."""
        with self._cond:
            self._advance()
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[BoomState], bool], timeout: float) -> bool:
        """Block until *predicate* holds for a snapshot, or *timeout* passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._advance()
                snap = BoomState(self._state, self._pos, self._loop, self._stop, self.opens,
                                 self.passes)
                if predicate(snap):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.02))

    # The machine -----------------------------------------------------------------------------
    def _go(self, state: str) -> None:
        self._state = state
        self._phase_at = self._t
        if state == OPEN:
            self._auto_elapsed = 0.0
        self.transitions.append((self._t, state))
        del self.transitions[:-200]
        self._cond.notify_all()

    def _advance(self) -> None:
        now = self._clock()
        dt, self._t = max(0.0, now - self._t), now
        tm = self.timing
        if self._stop:
            return
        if self._state == WARNING and self._t - self._phase_at >= tm.warn_s:
            self._go(RISING)
        elif self._state == RISING:
            self._pos = min(1.0, self._pos + dt / max(tm.rise_s, 1e-6))
            if self._pos >= 1.0:
                self._go(OPEN)
        elif self._state in (OPEN, HALTED):
            if not self._loop:
                self._auto_elapsed += dt
            passed = (self._cleared_at is not None
                      and self._t - self._cleared_at >= tm.close_after_pass_s)
            if not self._loop and (passed or self._auto_elapsed >= tm.auto_close_s):
                self._cleared_at = None
                self._go(LOWERING)
        elif self._state == LOWERING:
            if self._loop:
                # Never lower onto a vehicle: reversing is the only allowed move.
                self._go(RISING)
                return
            self._pos = max(0.0, self._pos - dt / max(tm.fall_s, 1e-6))
            if self._pos <= 0.0:
                self._go(CLOSED)

"""The boom as a lane sees it: the board's last inputs, the open whose pass is awaited, the
check that the boom reached its open limit, and a hold (pure: no IO, no clock of its own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.adapters.relay import GateInputs


@dataclass(frozen=True, slots=True)
class Reading:
    """What one reading of the inputs means."""

    passed: bool  # the loop went from occupied to clear: a vehicle drove through
    came_down: bool  # the boom reached its closed limit again
    latch: bool  # a hold was asked for and the boom is now up: latch the hold relay


class Boom:
    """One gate's boom."""

    def __init__(self) -> None:
        self.inputs: GateInputs | None = None
        self.awaiting: tuple[str | None, datetime, str] | None = None  # vrn, at, decision
        self.confirm: tuple[float, str] | None = None  # monotonic deadline, decision id
        self.hold_pending = False
        self.held = False

    def opened(self, vrn: str | None, at: datetime, decision: str,
               confirm_by: float | None) -> None:
        """The relay acknowledged an open: await its pass (and its open limit by then)."""
        self.awaiting = (vrn, at, decision)
        if confirm_by is not None:
            self.confirm = (confirm_by, decision)

    def read(self, inputs: GateInputs) -> Reading:
        """A new reading of the board's inputs."""
        prev, self.inputs = self.inputs, inputs
        if self.confirm and inputs.open_limit:
            self.confirm = None
        latch = self.hold_pending and inputs.open_limit  # latch only once the boom is up
        if latch:
            self.hold_pending = False
        return Reading(prev is not None and prev.loop and not inputs.loop,
                       prev is not None and not prev.closed_limit and inputs.closed_limit,
                       latch)

    def take_awaiting(self) -> tuple[str | None, datetime, str] | None:
        """The open a pass belongs to; a pass ends the wait."""
        awaiting, self.awaiting = self.awaiting, None
        return awaiting

    def overdue(self, now: float) -> str | None:
        """The decision whose boom has not reached its open limit by the deadline."""
        if self.confirm and now > self.confirm[0]:
            decision, self.confirm = self.confirm[1], None
            return decision
        return None

    def label(self) -> str:
        """held, up, down or moving."""
        i = self.inputs
        if self.held:
            return "held"
        if i is None:
            return "unknown"
        return "up" if i.open_limit else ("down" if i.closed_limit else "moving")

"""Which way a vehicle is going through a gate (pure)."""

from __future__ import annotations

from edge.core.types import GateInfo
from shared.vocab import Direction


def effective_direction(gate: GateInfo, inside: bool | None) -> Direction:
    """Entry or exit for this pass; an entry-exit gate infers it from the vehicle's state.

    A vehicle whose state is unknown at an entry-exit gate counts as leaving: for a locked
    tag that is the fail-safe reading (anti-theft), and for everything else it does not matter.
    """
    if gate.direction is not Direction.BOTH:
        return gate.direction
    return Direction.ENTRY if inside is False else Direction.EXIT

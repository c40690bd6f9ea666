"""The clock's steps: ``advance: DURATION`` and ``at: TIME`` move the stack's virtual clock
(the box's outbox settled first, as in the time the jump stands for) and run the cloud's
scheduled transitions, as its job would."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gatepost.scenario.context import Run
from gatepost.scenario.registry import step
from gatepost.scenario.sync import settle
from shared.clock import FileClock, parse_duration


@step("advance", str | float, check=parse_duration)
def advance(run: Run, by: str | float, expect: dict[str, Any] | None) -> dict[str, Any]:
    """Move the clock on by a duration."""
    settle(run)
    FileClock.advance(run.stack.clock_file, parse_duration(by))
    run.stack.cloud.post("/api/v1/jobs/transitions")  # as the scheduled job would
    return {"action": "advance", "by": str(by)}


@step("at", datetime)
def at(run: Run, when: datetime, expect: dict[str, Any] | None) -> dict[str, Any]:
    """Set the clock to a time."""
    settle(run)
    FileClock.set_time(run.stack.clock_file, when)
    run.stack.cloud.post("/api/v1/jobs/transitions")
    return {"action": "at", "time": when.isoformat()}

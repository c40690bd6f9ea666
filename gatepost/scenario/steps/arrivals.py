"""The ``arrive`` and ``expect_gate`` scenario steps: a vehicle that waits at a gate while
later steps act (the owner unlocks, staff correct presence, a guard opens), and expectations
on that vehicle that are waited for rather than taken at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from gatepost.devstack.stack import wait_until
from gatepost.scenario.base import Duration, Model
from gatepost.scenario.context import Run
from gatepost.scenario.registry import step
from hardware_sim.world import VehicleResult


class ArriveStep(Model):
    gate: str
    epc: str | None = None
    image: str | None = Field(None, description="as in `camera:`")
    give_up_after: Duration = Field(10.0, description="how long the vehicle waits for the "
                                    "boom before it gives up and leaves")


class GateExpectStep(Model):
    gate: str
    decision: Literal["open", "deny", "ignored", "none"] | None = None
    reason: str | None = None
    vrn: str | None = None
    barrier_opened: bool | None = None
    passed: bool | None = None
    within: Duration = 5.0


@dataclass
class Arrival:
    """A vehicle at a gate, from the moment it pulled up."""

    gate: str
    epc: str | None
    cursor: int  # the edge's last local event id when it pulled up
    opens_before: int  # the boom's opens when it pulled up
    thread: threading.Thread
    result: dict[str, VehicleResult] = field(default_factory=dict)


def arrive(run: Run, step: ArriveStep) -> dict[str, Any]:
    """Put a vehicle at the gate and return once it has pulled up."""
    st = run.stack
    g = st.world.gates.get(step.gate)
    if g is None:
        return {"action": "arrive", "errors": [f"no gate {step.gate}"]}
    previous = run.arrivals.get(step.gate)
    if previous is not None:
        previous.thread.join(step.give_up_after + 15)  # the lane ahead clears first
    image = run.image_path(step.image) if step.image else None
    pulled_up = threading.Event()
    box: dict[str, VehicleResult] = {}
    cursor = st.edge_last_event() if run.edge_running else 0
    opens = g.boom.snapshot().opens

    def drive() -> None:
        box["r"] = st.world.vehicle(step.gate, step.epc, give_up_after=step.give_up_after,
                                    arrived=pulled_up, plate_image=image)

    t = threading.Thread(target=drive, name=f"arrive-{step.gate}", daemon=True)
    t.start()
    if not pulled_up.wait(15):
        return {"action": "arrive", "gate": step.gate,
                "errors": ["the vehicle could not pull up: the lane stayed busy"]}
    run.arrivals[step.gate] = Arrival(step.gate, step.epc, cursor, opens, t, box)
    return {"action": "arrive", "gate": step.gate, "epc": step.epc}


def _since(run: Run, a: Arrival) -> Iterator[dict]:
    """The gate's local events since the vehicle pulled up, page by page."""
    cursor = a.cursor
    while True:
        events, last = run.stack.edge_events_after(cursor, wait=0)
        yield from (e for e in events if e.get("gate") == a.gate)
        if not events or last <= cursor:
            return
        cursor = last


def _latest_decision(run: Run, a: Arrival) -> dict | None:
    """The latest decision made at the gate since the vehicle pulled up, duplicates aside."""
    latest = None
    for e in _since(run, a):
        if e["type"] == "decision" and e["reason"] != "duplicate_read":
            latest = e
    return latest


def _passed(run: Run, a: Arrival) -> bool:
    r = a.result.get("r")
    return bool(r and r.passed) and any(e["type"] == "pass" for e in _since(run, a))


def expect_gate(run: Run, step: GateExpectStep) -> dict[str, Any]:
    """Wait until the last vehicle that arrived at the gate meets every expectation."""
    a = run.arrivals.get(step.gate)
    if a is None:
        return {"action": "expect_gate", "gate": step.gate,
                "errors": [f"no vehicle arrived at {step.gate}"]}
    want = step.model_dump(exclude_none=True, exclude={"gate", "within"})
    got: dict[str, Any] = {}

    def check() -> bool:
        got.clear()
        d = _latest_decision(run, a) if run.edge_running else None
        got["decision"] = d["outcome"] if d else "none"
        got["reason"] = d["reason"] if d else None
        got["vrn"] = d.get("vrn") if d else None
        got["barrier_opened"] = run.stack.world.gates[a.gate].boom.snapshot().opens > \
            a.opens_before
        got["passed"] = _passed(run, a)
        return all(got.get(k) == v for k, v in want.items())

    try:
        wait_until(check, float(step.within), interval=0.1, what=f"the vehicle at {step.gate}")
        return {"action": "expect_gate", "gate": step.gate, **got}
    except TimeoutError:
        errors = [f"{k}: expected {v!r}, got {got.get(k)!r}" for k, v in want.items()
                  if got.get(k) != v]
        return {"action": "expect_gate", "gate": step.gate, **got,
                "errors": errors or [f"timed out after {step.within}s"]}


@step("arrive", ArriveStep)
def arrive_step(run: Run, spec: ArriveStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """A vehicle pulls up at a gate and waits there while later steps act."""
    return arrive(run, spec)


@step("expect_gate", GateExpectStep)
def expect_gate_step(run: Run, spec: GateExpectStep, expect: dict[str, Any] | None
                     ) -> dict[str, Any]:
    """Wait until the vehicle waiting at a gate meets every expectation."""
    return expect_gate(run, spec)

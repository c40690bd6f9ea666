"""The steps of a vehicle driving through a gate: ``rfid`` (with a tag), ``vehicle`` (maybe
without one), ``camera`` (its plate photographed) and ``together`` (several at once)."""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import Field

from gatepost.scenario.base import Duration, Model, check
from gatepost.scenario.context import EventTest, Run
from gatepost.scenario.registry import action_of, step
from hardware_sim.world import VehicleResult


class GateExpect(Model):
    decision: Literal["open", "deny", "ignored", "none"] | None = None
    reason: str | None = None
    barrier_opened: bool | None = None
    passed: bool | None = None
    vrn: str | None = None


class VehicleStep(Model):
    gate: str
    epc: str | None = None
    image: str | None = Field(None, description="photograph the gate camera sees; relative "
                              "paths resolve against $GATEPOST_PLATES, then the file's folder")
    drive_through: bool = True
    give_up_after: Duration = 1.5


DRIVES = ("rfid", "vehicle", "camera")


def _needs_epc(vs: VehicleStep) -> None:
    if not vs.epc:
        raise ValueError("rfid steps need an epc (use `vehicle:` for a car with no tag)")


def _needs_image(vs: VehicleStep) -> None:
    if not vs.image:
        raise ValueError("camera steps need an image")


def _drives_only(steps: list[Any]) -> None:
    for s in steps:
        if action_of(s)[0] not in DRIVES:
            raise ValueError("together: holds only rfid/vehicle/camera steps")


@step("rfid", VehicleStep, expect=GateExpect, check=_needs_epc)
def rfid(run: Run, vs: VehicleStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """A vehicle with a tag drives up to the gate."""
    got = drive(run, vs)
    return {"action": "rfid", **got, "errors": check(expect, got)}


@step("vehicle", VehicleStep, expect=GateExpect)
def vehicle(run: Run, vs: VehicleStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """A vehicle, with or without a tag, drives up to the gate."""
    got = drive(run, vs)
    return {"action": "vehicle", **got, "errors": check(expect, got)}


@step("camera", VehicleStep, expect=GateExpect, check=_needs_image)
def camera(run: Run, vs: VehicleStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """A vehicle drives up to the gate and its camera sees the plate."""
    got = drive(run, vs)
    return {"action": "camera", **got, "errors": check(expect, got)}


@step("together", "list[Step]", check=_drives_only)
def together(run: Run, steps: list[Any], expect: dict[str, Any] | None) -> dict[str, Any]:
    """Several vehicles at once, each at its gate."""
    results: list[dict] = [{} for _ in steps]

    def one(i: int, s: Any) -> None:
        got = drive(run, action_of(s)[1])
        results[i] = {**got, "errors": check(s.expect, got)}

    threads = [threading.Thread(target=one, args=(i, s)) for i, s in enumerate(steps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [f"vehicle {i + 1}: {e}" for i, r in enumerate(results) for e in r.pop("errors")]
    return {"action": "together", "vehicles": results, "errors": errors}


def drive(run: Run, vs: VehicleStep) -> dict[str, Any]:
    """Drive one vehicle through the gate; what the edge decided and the barrier did."""
    st = run.stack
    cursor = st.edge_last_event() if run.edge_running else 0
    image = run.image_path(vs.image) if vs.image else None
    box: dict[str, VehicleResult] = {}
    arrived = threading.Event()
    car = threading.Thread(target=lambda: box.update(r=st.world.vehicle(
        vs.gate, vs.epc, drive_through=vs.drive_through, give_up_after=vs.give_up_after,
        arrived=arrived, plate_image=image)))
    car.start()
    arrived.wait(15)  # the car pulls up once the lane ahead is clear
    kinds = ([("tag", vs.epc.upper())] if vs.epc else []) + (
        [("plate", None)] if image and st.world.gates[vs.gate].camera else [])
    decisions: list[dict] = []
    if run.edge_running:
        for kind, value in kinds:
            d = run.await_event(cursor, _decision_on(vs.gate, kind, value),
                                vs.give_up_after + (5 if kind == "plate" else 2))
            if d is not None:
                decisions.append(d)
    car.join()
    r = box["r"]
    edge_pass = False
    if r.passed and run.edge_running:
        edge_pass = run.await_event(cursor, lambda e: e["type"] == "pass"
                                    and e["gate"] == vs.gate, 3) is not None
    main = main_decision(decisions)
    out = {"gate": vs.gate, "epc": vs.epc,
           "decision": main["outcome"] if main else "none",
           "reason": main["reason"] if main else None,
           "vrn": main.get("vrn") if main else None,
           "barrier_opened": r.opened, "passed": r.passed and edge_pass}
    if vs.image:
        out["image"] = vs.image
    if len(decisions) > 1:
        out["decisions"] = [{"kind": d["credential"]["kind"], "decision": d["outcome"],
                             "reason": d["reason"]} for d in decisions]
    return out


def _decision_on(gate: str, kind: str, value: str | None) -> EventTest:
    """A decision at *gate* on a credential of *kind* (and *value*, if given)."""
    return lambda e: (e["type"] == "decision" and e["gate"] == gate
                      and e["credential"]["kind"] == kind
                      and (value is None or e["credential"]["value"] == value)
                      and (kind == "tag" or e["reason"] != "duplicate_read"))


def main_decision(decisions: list[dict]) -> dict | None:
    """The decision that tells the step's story: a mismatch, else an open, else the last."""
    for want in (lambda d: d["reason"] == "credential_mismatch",
                 lambda d: d["outcome"] == "open"):
        found = [d for d in decisions if want(d)]
        if found:
            return found[0]
    return decisions[-1] if decisions else None

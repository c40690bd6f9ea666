"""Access codes in scenarios: the ``cloud:`` set-up's ``codes`` (a site's code settings);
the ``guard_code`` step (the guard types a code a visitor reads out into the panel's code box:
``{gate, ref | code, user?}``); ``keypad`` (a code typed, or a card held, at the gate's keypad)
and ``qr`` (a pass's QR shown to the gate's camera); ``expect_code: {ref, status, within}``
(what the cloud says of a pass, once the gates' events have reached it); and ``codes_job: {}``
(the daily renewal job run now; what it did)."""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import Field, model_validator

from gatepost.devstack.stack import wait_until
from gatepost.scenario.base import Duration, Model, check
from gatepost.scenario.context import Run
from gatepost.scenario.panel import NOTHING, csrf, decided, signed_in
from gatepost.scenario.registry import step
from gatepost.scenario.steps.guard import GuardExpect
from gatepost.scenario.sync import cloud_versions


class KeypadStep(Model):
    gate: str
    ref: str | None = Field(None, description="a pass issued by a visitor step")
    code: str | None = Field(None, description="the keys as typed (e.g. a wrong code)")
    card: str | None = Field(None, pattern=r"^\d{1,3}:\d{1,5}$", description="FACILITY:NUMBER "
                             "of a 26-bit Wiegand card held to the keypad's reader")

    @model_validator(mode="after")
    def _one(self) -> KeypadStep:
        if sum(x is not None for x in (self.ref, self.code, self.card)) != 1:
            raise ValueError("keypad needs one of ref, code, card")
        return self


class GuardCodeStep(Model):
    gate: str
    ref: str | None = Field(None, description="a pass issued by a visitor step")
    code: str | None = Field(None, description="a code as typed (e.g. a wrong one)")
    user: str = "guard"

    @model_validator(mode="after")
    def _one(self) -> GuardCodeStep:
        if (self.ref is None) == (self.code is None):
            raise ValueError("guard_code needs one of ref, code")
        return self


class CodesJob(Model):
    """The daily renewal job over access codes, run now (on the virtual clock)."""


class CodesJobExpect(Model):
    checked: int | None = None
    renewed: int | None = None
    lapsing: int | None = None
    expired: int | None = None
    issued: int | None = None


class CodeExpectStep(Model):
    ref: str = Field(description="a pass issued by a visitor step")
    status: Literal["issued", "active", "cancelled", "expired", "spent"]
    within: Duration = 10.0


class KeypadExpect(Model):
    decision: Literal["open", "deny", "none"] | None = None
    reason: str | None = None
    barrier_opened: bool | None = None
    led: Literal["green", "red", "none"] | None = Field(None, description="the reader's "
                                                         "flash after the code")


def setup_codes(run: Run, send: Any) -> None:
    """Each site's code settings, before the first step."""
    for s in run.sc.cloud.codes:
        body = s.model_dump(exclude={"site"}, exclude_none=True)
        send("PUT", f"/api/v1/sites/{s.site or run.sites[0]}/codes/settings", json=body)


def codes_job(run: Run) -> dict[str, Any]:
    """The daily renewal job over access codes, run now; what it did, once the gates hold
    what it changed."""
    r = run.stack.cloud.post("/api/v1/jobs/codes-renewal")
    if r.status_code != 200:
        return {"action": "codes_job", "errors": [f"the job failed: {r.status_code} {r.text}"]}
    got: dict[str, Any] = {"action": "codes_job", **r.json()["codes"]}
    errors: list[str] = []
    for site, version in cloud_versions(run).items():
        errors += run.wait_synced({"site": site, "rules_version": version})
    return got | {"errors": errors}


def guard_code(run: Run, spec: GuardCodeStep) -> dict[str, Any]:
    """The guard types a code at the panel; what the gate decided and whether it opened."""
    code = _code_of(run, spec)
    if code is None:
        return {"action": "guard_code", "errors": [f"no pass {spec.ref!r} issued earlier"]}
    c = signed_in(run, run.site_of_gate[spec.gate], spec.user)
    cursor = run.stack.edge_last_event()
    r = c.post(f"/gates/{spec.gate}/code", data={"csrf": csrf(c.get("/").text),
                                                 "code": code})
    out: dict[str, Any] = {"action": "guard_code", "gate": spec.gate, "status": r.status_code}
    return out | _decided(run, cursor, r.status_code == 303)


def expect_code(run: Run, e: CodeExpectStep) -> dict[str, Any]:
    """Wait until the cloud says the pass *ref* has the status expected."""
    held = run.codes.get(e.ref)
    if held is None:
        return {"action": "expect_code", "errors": [f"no pass {e.ref!r} issued earlier"]}
    got: dict[str, Any] = {"action": "expect_code", "ref": e.ref}

    def status() -> bool:
        codes = run.stack.cloud.get(f"/api/v1/sites/{held['site']}/codes").json()["codes"]
        got["status"] = next((c["status"] for c in codes if c["id"] == held["id"]), None)
        return got["status"] == e.status

    try:
        wait_until(status, float(e.within), interval=0.1, what="the pass's status")
    except TimeoutError:
        got["errors"] = [f"expected {e.ref} {e.status}, the cloud says {got.get('status')}"]
    return got


def keypad_step(run: Run, spec: KeypadStep) -> dict[str, Any]:
    """Someone types a code on the gate's OSDP keypad and presses ``#``; what the gate decided,
    whether it opened, and how the reader flashed."""
    gate = run.stack.world.gates.get(spec.gate)
    if gate is None or gate.keypad is None:
        return {"action": "keypad", "errors": [f"gate {spec.gate} has no keypad"]}
    code = _code_of(run, spec) if spec.card is None else spec.card
    if code is None:
        return {"action": "keypad", "errors": [f"no pass {spec.ref!r} issued earlier"]}
    pad = gate.keypad
    for attempt in range(2):
        wait_until(lambda: pad.online, 15, what="the keypad online")
        flashes = len(pad.leds())
        cursor = run.stack.edge_last_event()
        with _ChannelWatch(pad) as channel:
            if spec.card is not None:
                facility, number = (int(x) for x in spec.card.split(":"))
                pad.card(facility, number)
            else:
                pad.type(code)
            out: dict[str, Any] = {"action": "keypad", "gate": spec.gate,
                                   **_decided(run, cursor, kind="tag" if spec.card else "code")}
        # A frame late on a loaded machine breaks the secure channel's MAC chain and the
        # panel keys it again: what was typed meanwhile is lost, as on a real line. Only
        # then is it typed again, once, and the step says so.
        if out["decision"] != "none" or not channel.dropped or attempt:
            break
        out["typed_again"] = True
    try:
        wait_until(lambda: len(pad.leds()) > flashes, 3, what="the reader's flash")
        out["led"] = pad.leds()[-1].what
    except TimeoutError:
        out["led"] = "none"
    return out


def qr_step(run: Run, spec: KeypadStep) -> dict[str, Any]:
    """A visitor holds the pass's QR up to the gate's camera; what the gate decided and
    whether it opened. The camera shows the empty scene again after."""
    from hardware_sim.camera import qr_scene

    gate = run.stack.world.gates.get(spec.gate)
    if gate is None or gate.camera is None:
        return {"action": "qr", "errors": [f"gate {spec.gate} has no camera"]}
    code = _code_of(run, spec)
    if code is None:
        return {"action": "qr", "errors": [f"no pass {spec.ref!r} issued earlier"]}
    cursor = run.stack.edge_last_event()
    gate.camera.show(qr_scene(code))
    try:
        return {"action": "qr", "gate": spec.gate, **_decided(run, cursor)}
    finally:
        gate.camera.clear()
        _until_seen_empty(run, spec.gate)


def _code_of(run: Run, spec: KeypadStep | GuardCodeStep) -> str | None:
    """The code a step enters: as given, or the pass its ``ref`` names (None: no such pass)."""
    if spec.code is not None:
        return spec.code
    return run.codes.get(str(spec.ref), {}).get("code")


def _decided(run: Run, cursor: int, entered: bool = True,
             kind: str = "code") -> dict[str, Any]:
    """The decision on a credential of *kind* the edge recorded after *cursor*, and whether
    the barrier opened for it (``decision`` ``none`` when there was none, or nothing was
    *entered*)."""
    if not entered:
        return dict(NOTHING)
    return decided(run, cursor, lambda e: e["credential"]["kind"] == kind)[0]


def _until_seen_empty(run: Run, gate: str) -> None:
    """Wait until the edge's camera worker has looked at the emptied scene (two frames), so
    that a QR shown next is a new showing, not the same one still in view."""
    def looked() -> int:
        cams = run.stack.edge.get("/api/health").json().get("cameras", {})
        return int(cams.get(gate, {}).get("looked_at", 0))

    start = looked()
    wait_until(lambda: looked() >= start + 2, 5, interval=0.05, what="the camera's next frames")


@step("guard_code", GuardCodeStep, expect=GuardExpect)
def guard_code_step(run: Run, spec: GuardCodeStep, expect: dict[str, Any] | None
                    ) -> dict[str, Any]:
    """The guard types a code at the panel."""
    got = guard_code(run, spec)
    return {**got, "errors": got.pop("errors", []) + check(expect, got)}


@step("expect_code", CodeExpectStep)
def expect_code_step(run: Run, spec: CodeExpectStep, expect: dict[str, Any] | None
                     ) -> dict[str, Any]:
    """Wait until the cloud says a pass has the status expected."""
    return expect_code(run, spec)


@step("keypad", KeypadStep, expect=KeypadExpect)
def keypad(run: Run, spec: KeypadStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """Someone types a code (or holds a card) at the gate's keypad."""
    got = keypad_step(run, spec)
    return {**got, "errors": got.pop("errors", []) + check(expect, got)}


@step("qr", KeypadStep, expect=GuardExpect,
      description="{gate, ref | code}: a QR held up to the gate's camera")
def qr(run: Run, spec: KeypadStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """A visitor holds a pass's QR up to the gate's camera."""
    got = qr_step(run, spec)
    return {**got, "errors": got.pop("errors", []) + check(expect, got)}


@step("codes_job", CodesJob, expect=CodesJobExpect,
      description="{}: the daily renewal job over access codes, run now")
def codes_job_step(run: Run, spec: CodesJob, expect: dict[str, Any] | None) -> dict[str, Any]:
    """The daily renewal job over access codes, run now."""
    got = codes_job(run)
    return {**got, "errors": got.pop("errors", []) + check(expect, got)}


class _ChannelWatch:
    """Whether a keypad's secure channel dropped while a step typed on it (sampled every
    10 ms: a drop lasts seconds, until the panel keys the channel again)."""

    def __init__(self, pad: Any) -> None:
        self.pad = pad
        self.dropped = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="keypad-channel", daemon=True)

    def __enter__(self) -> _ChannelWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            if not self.pad.online:
                self.dropped = True

"""Access codes in scenarios: the ``cloud:`` set-up's ``codes`` (a site's code settings), the
``visitor`` step (a resident issues a pass in the app, ``issue: {ref, kind, name, from?, until?,
single_use?, vrn?}``, or cancels one, ``cancel: REF``), the ``guard_code`` step (the guard
types a code a visitor reads out into the panel's code box: ``{gate, ref | code, user?}``), and
``expect_code: {ref, status, within}`` (what the cloud says of a pass, once the gates' events
have reached it), and ``codes_job: {}`` (the daily renewal job run now; what it did)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from gatepost.scenario.guard import NOTHING, _csrf, _signed_in, decided
from gatepost.scenario.residents import app_answer
from gatepost.scenario.sync import cloud_versions
from gatepost.stack import wait_until
from shared.clock import FileClock, parse_duration

if TYPE_CHECKING:
    from gatepost.scenario.runner import ScenarioRun
    from gatepost.scenario.schema import CodeExpectStep, GuardCodeStep, KeypadStep, VisitorStep


def setup_codes(run: ScenarioRun, send: Any) -> None:
    """Each site's code settings, before the first step."""
    for s in run.sc.cloud.codes:
        body = s.model_dump(exclude={"site"}, exclude_none=True)
        send("PUT", f"/api/v1/sites/{s.site or run.sites[0]}/codes/settings", json=body)


def _when(run: ScenarioRun, value: Any, default: str) -> str:
    """An ISO time, or a duration (``2h``, ``-5m``) from the virtual now."""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value if value is not None else default)
    now = FileClock(run.stack.clock_file).now()
    if text.startswith("-"):
        return (now - parse_duration(text[1:])).isoformat()
    try:
        return (now + parse_duration(text)).isoformat()
    except ValueError:
        return datetime.fromisoformat(text).isoformat()


def visitor_step(run: ScenarioRun, step: VisitorStep) -> dict[str, Any]:
    """A resident issues or cancels a visitor pass in the app; what it answered."""
    app = run.resident_apps.get(step.who)
    if app is None:
        return {"action": "visitor", "errors": [f"no resident {step.who!r} in cloud.residents"]}
    if step.issue is not None:
        p = step.issue
        body = {"kind": p["kind"], "name": p["name"], "single_use": p.get("single_use", True),
                "valid_from": _when(run, p.get("from"), "0s"),
                "valid_until": _when(run, p.get("until"), "4h")}
        body |= {k: p[k] for k in ("vrn", "days", "start", "end", "schedule") if p.get(k)}
        if body.get("days") or body.get("schedule"):
            body["single_use"] = False
        r = app.post("/api/v1/me/passes", json=body)
        what = "issue"
    else:
        held = run.codes.get(str(step.cancel))
        if held is None:
            return {"action": "visitor", "errors": [f"no pass {step.cancel!r} issued earlier"]}
        r = app.post(f"/api/v1/me/codes/{held['id']}/cancel")
        what = "cancel"
    got, body_out = app_answer("visitor", step.who, what, r)
    if r.status_code >= 300:
        return got
    if step.issue is not None:
        run.codes[str(step.issue["ref"])] = body_out
    got.update({k: body_out[k] for k in ("id", "site", "rules_version") if k in body_out})
    return got


def codes_job(run: ScenarioRun) -> dict[str, Any]:
    """The daily renewal job over access codes, run now; what it did, once the gates hold
    what it changed."""
    r = run.stack.cloud.post("/api/v1/jobs/codes-renewal")
    if r.status_code != 200:
        return {"action": "codes_job", "errors": [f"the job failed: {r.status_code} {r.text}"]}
    got: dict[str, Any] = {"action": "codes_job", **r.json()["codes"]}
    errors: list[str] = []
    for site, version in cloud_versions(run).items():
        errors += run._synced({"site": site, "rules_version": version})
    return got | {"errors": errors}


def guard_code(run: ScenarioRun, spec: GuardCodeStep) -> dict[str, Any]:
    """The guard types a code at the panel; what the gate decided and whether it opened."""
    code = _code_of(run, spec)
    if code is None:
        return {"action": "guard_code", "errors": [f"no pass {spec.ref!r} issued earlier"]}
    c = _signed_in(run, run.site_of_gate[spec.gate], spec.user)
    cursor = run.stack.edge_last_event()
    r = c.post(f"/gates/{spec.gate}/code", data={"csrf": _csrf(c.get("/").text),
                                                 "code": code})
    out: dict[str, Any] = {"action": "guard_code", "gate": spec.gate, "status": r.status_code}
    return out | _decided(run, cursor, r.status_code == 303)


def expect_code(run: ScenarioRun, e: CodeExpectStep) -> dict[str, Any]:
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


def keypad_step(run: ScenarioRun, spec: KeypadStep) -> dict[str, Any]:
    """Someone types a code on the gate's OSDP keypad and presses ``#``; what the gate decided,
    whether it opened, and how the reader flashed."""
    gate = run.stack.world.gates.get(spec.gate)
    if gate is None or gate.keypad is None:
        return {"action": "keypad", "errors": [f"gate {spec.gate} has no keypad"]}
    code = _code_of(run, spec) if spec.card is None else spec.card
    if code is None:
        return {"action": "keypad", "errors": [f"no pass {spec.ref!r} issued earlier"]}
    pad = gate.keypad
    wait_until(lambda: pad.online, 15, what="the keypad online")
    flashes = len(pad.leds())
    cursor = run.stack.edge_last_event()
    if spec.card is not None:
        facility, number = (int(x) for x in spec.card.split(":"))
        pad.card(facility, number)
    else:
        pad.type(code)
    out: dict[str, Any] = {"action": "keypad", "gate": spec.gate,
                           **_decided(run, cursor, kind="tag" if spec.card else "code")}
    try:
        wait_until(lambda: len(pad.leds()) > flashes, 3, what="the reader's flash")
        out["led"] = pad.leds()[-1].what
    except TimeoutError:
        out["led"] = "none"
    return out


def qr_step(run: ScenarioRun, spec: KeypadStep) -> dict[str, Any]:
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


def _code_of(run: ScenarioRun, spec: KeypadStep | GuardCodeStep) -> str | None:
    """The code a step enters: as given, or the pass its ``ref`` names (None: no such pass)."""
    if spec.code is not None:
        return spec.code
    return run.codes.get(str(spec.ref), {}).get("code")


def _decided(run: ScenarioRun, cursor: int, entered: bool = True,
             kind: str = "code") -> dict[str, Any]:
    """The decision on a credential of *kind* the edge recorded after *cursor*, and whether
    the barrier opened for it (``decision`` ``none`` when there was none, or nothing was
    *entered*)."""
    if not entered:
        return dict(NOTHING)
    return decided(run, cursor, lambda e: e["credential"]["kind"] == kind)[0]


def _until_seen_empty(run: ScenarioRun, gate: str) -> None:
    """Wait until the edge's camera worker has looked at the emptied scene (two frames), so
    that a QR shown next is a new showing, not the same one still in view."""
    def looked() -> int:
        cams = run.stack.edge.get("/api/health").json().get("cameras", {})
        return int(cams.get(gate, {}).get("looked_at", 0))

    start = looked()
    wait_until(lambda: looked() >= start + 2, 5, interval=0.05, what="the camera's next frames")

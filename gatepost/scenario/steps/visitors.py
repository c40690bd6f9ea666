"""The ``visitor`` step. A resident issues a pass in the app (``issue: {ref, kind, name, from?,
until?, single_use?, vrn?}``) or cancels one (``cancel: REF``). Walk-in visitors: the guard
asks a flat from the panel's Visitors page (``visitor: {who: GUARD, walk_in: {ref, gate, flat,
name, kind?, phone?, vrn?}}``), a resident of the flat approves or denies in the app
(``visitor: {who: RESIDENT, approve | deny: REF}``, which also waits until the panel shows the
answer: ``panel_ms``), and the guard opens for the approved visitor (``visitor: {who: GUARD,
admit: REF}``)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, model_validator

from gatepost.scenario.base import CloudExpect, Model, check
from gatepost.scenario.context import Run
from gatepost.scenario.panel import NOTHING, csrf, decided, signed_in
from gatepost.scenario.registry import step
from gatepost.scenario.steps.residents import app_answer
from shared.clock import FileClock, parse_duration

PANEL_WAIT_S = 5.0


class VisitorStep(Model):
    who: str = Field(description="the resident issuing, cancelling, approving or denying (a "
                     "cloud.residents ref), or the guard asking or admitting (a panel user)")
    issue: dict[str, Any] | None = Field(None, description="{ref, kind, name, from?, until?, "
                                         "single_use?, vrn?, days?, start?, end?, schedule?}: "
                                         "from/until are ISO times or durations from the "
                                         "virtual now; days/start/end make it recurring")
    cancel: str | None = Field(None, description="the ref of a pass issued earlier")
    walk_in: dict[str, Any] | None = Field(None, description="{ref, gate, flat, name, kind?, "
                                           "phone?, vrn?}: the guard asks the flat")
    approve: str | None = Field(None, description="the ref of a walk-in the resident approves")
    deny: str | None = Field(None, description="the ref of a walk-in the resident denies")
    admit: str | None = Field(None, description="the ref of an approved walk-in the guard "
                              "opens for")

    @model_validator(mode="after")
    def _one(self) -> VisitorStep:
        done = [k for k in VISITOR_ACTIONS if getattr(self, k) is not None]
        if len(done) != 1:
            raise ValueError(f"a visitor step does one of {', '.join(VISITOR_ACTIONS)}")
        if self.walk_in is not None and not {"ref", "gate", "flat", "name"} <= set(
                self.walk_in):
            raise ValueError("visitor walk_in needs ref, gate, flat and name")
        if self.issue is not None and not {"ref", "kind", "name"} <= set(self.issue):
            raise ValueError("visitor issue needs ref, kind and name")
        return self


VISITOR_ACTIONS = ("issue", "cancel", "walk_in", "approve", "deny", "admit")


class WalkInExpect(Model):
    request: Literal["pending", "approved", "denied", "expired", "entered", "offline",
                     "refused"] | None = Field(None, description="the walk-in as the panel "
                                               "shows it after the step")
    decision: Literal["open", "deny", "none"] | None = None
    reason: str | None = None
    barrier_opened: bool | None = None
    status: int | None = None


def _visitor_expect(spec: VisitorStep) -> type[Model]:
    return WalkInExpect if spec.issue is None and spec.cancel is None else CloudExpect


@step("visitor", VisitorStep, expect=_visitor_expect)
def visitor(run: Run, spec: VisitorStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """A resident issues or cancels a pass, or answers a walk-in; or the guard asks a flat
    for a walk-in, or admits one."""
    if spec.walk_in or spec.admit:
        got = walk_in(run, spec) if spec.walk_in else admit(run, spec)
        return {**got, "errors": got.pop("errors", []) + check(expect, got)}
    if spec.approve or spec.deny:
        got = answer(run, spec)
        return {**got, "errors": got.pop("errors", []) + check(expect, got)}
    got = visitor_step(run, spec)
    errors = got.pop("errors", []) + run.wait_synced(got)
    return {**got, "errors": errors + check(expect, got)}




def visitor_step(run: Run, step: VisitorStep) -> dict[str, Any]:
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


def _when(run: Run, value: Any, default: str) -> str:
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


def _site_of(run: Run, gate: str) -> str:
    return next((s.id for s in run.sc.all_sites if any(g.id == gate for g in s.gates)),
                run.sites[0])


def _panel_status(run: Run, user: str, rid: str) -> str:
    c = run.guard_clients[user]
    r = c.get(f"/visitors/requests/{rid}")
    return str(r.json().get("status")) if r.status_code in (200, 503) else f"http {r.status_code}"


def walk_in(run: Run, step: VisitorStep) -> dict[str, Any]:
    """The guard asks the flat; the request as the panel shows it."""
    p = step.walk_in or {}
    gate = str(p["gate"])
    c = signed_in(run, _site_of(run, gate), step.who)
    page = c.get("/visitors")
    r = c.post("/visitors/ask", data={
        "csrf": csrf(page.text), "gate": gate, "flat": str(p["flat"]),
        "name": str(p["name"]), "kind": str(p.get("kind", "guest")),
        "phone": str(p.get("phone", "")), "vrn": str(p.get("vrn", ""))})
    got: dict[str, Any] = {"action": "visitor", "walk_in": p["ref"], "status": r.status_code}
    query = parse_qs(urlsplit(r.headers.get("location", "")).query)
    if "error" in query:
        return got | {"request": "offline" if query["error"] == ["offline"] else "refused"}
    rid = query.get("request_id", [""])[0]
    if not rid:
        return got | {"errors": [f"the panel answered {r.status_code} without a request"]}
    run.walkins[str(p["ref"])] = {"id": rid, "gate": gate, "guard": step.who}
    return got | {"id": rid, "request": _panel_status(run, step.who, rid)}


def answer(run: Run, step: VisitorStep) -> dict[str, Any]:
    """A resident approves or denies in the app; then the time until the guard's panel shows
    the answer (``panel_ms``)."""
    ref = str(step.approve or step.deny)
    held = run.walkins.get(ref)
    app = run.resident_apps.get(step.who)
    if held is None or app is None:
        return {"action": "visitor", "errors": [f"no walk-in {ref!r} or resident {step.who!r}"]}
    verb = "approve" if step.approve else "deny"
    r = app.post(f"/api/v1/me/visitor-requests/{held['id']}/{verb}")
    body = r.json()
    got: dict[str, Any] = {"action": "visitor", verb: ref, "status": r.status_code,
                           "reason": (body.get("detail") or {}).get("reason")
                           if isinstance(body.get("detail"), dict) else None}
    if r.status_code != 200:
        return got | {"request": _panel_status(run, held["guard"], held["id"])}
    want = body["status"]
    t0 = time.monotonic()
    seen = _panel_status(run, held["guard"], held["id"])
    while seen != want and time.monotonic() - t0 < PANEL_WAIT_S:
        time.sleep(0.05)
        seen = _panel_status(run, held["guard"], held["id"])
    got |= {"request": seen, "panel_ms": round((time.monotonic() - t0) * 1000, 1)}
    if seen != want:
        got["errors"] = [f"the panel still shows {seen} {PANEL_WAIT_S:.0f} s after the {verb}"]
    return got


def admit(run: Run, step: VisitorStep) -> dict[str, Any]:
    """The guard opens for the approved walk-in; what the gate decided."""
    held = run.walkins.get(str(step.admit))
    if held is None:
        return {"action": "visitor", "errors": [f"no walk-in {step.admit!r} asked earlier"]}
    c = signed_in(run, _site_of(run, held["gate"]), step.who)
    cursor = run.stack.edge_last_event()
    r = c.post(f"/visitors/requests/{held['id']}/open", data={
        "csrf": csrf(c.get("/visitors").text), "gate": held["gate"]})
    got: dict[str, Any] = {"action": "visitor", "admit": step.admit, "status": r.status_code}
    if "error=" in r.headers.get("location", ""):
        return got | NOTHING | {"request": _panel_status(run, step.who, held["id"])}
    return got | decided(run, cursor, lambda e: e.get("reason") == "visitor_approved" and (
        e.get("visitor") or {}).get("request") == held["id"])[0]

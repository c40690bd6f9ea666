"""Walk-in visitors in scenarios: the guard asks a flat from the panel's Visitors page
(``visitor: {who: GUARD, walk_in: {ref, gate, flat, name, kind?, phone?, vrn?}}``), a resident
of the flat approves or denies in the app (``visitor: {who: RESIDENT, approve | deny: REF}``,
which also waits until the panel shows the answer: ``panel_ms``), and the guard opens for the
approved visitor (``visitor: {who: GUARD, admit: REF}``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from gatepost.scenario.guard import NOTHING, _csrf, _signed_in, decided

if TYPE_CHECKING:
    from gatepost.scenario.runner import ScenarioRun
    from gatepost.scenario.schema import VisitorStep

PANEL_WAIT_S = 5.0


def _site_of(run: ScenarioRun, gate: str) -> str:
    return next((s.id for s in run.sc.all_sites if any(g.id == gate for g in s.gates)),
                run.sites[0])


def _panel_status(run: ScenarioRun, user: str, rid: str) -> str:
    c = run.guard_clients[user]
    r = c.get(f"/visitors/requests/{rid}")
    return str(r.json().get("status")) if r.status_code in (200, 503) else f"http {r.status_code}"


def walk_in(run: ScenarioRun, step: VisitorStep) -> dict[str, Any]:
    """The guard asks the flat; the request as the panel shows it."""
    p = step.walk_in or {}
    gate = str(p["gate"])
    c = _signed_in(run, _site_of(run, gate), step.who)
    page = c.get("/visitors")
    r = c.post("/visitors/ask", data={
        "csrf": _csrf(page.text), "gate": gate, "flat": str(p["flat"]),
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


def answer(run: ScenarioRun, step: VisitorStep) -> dict[str, Any]:
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


def admit(run: ScenarioRun, step: VisitorStep) -> dict[str, Any]:
    """The guard opens for the approved walk-in; what the gate decided."""
    held = run.walkins.get(str(step.admit))
    if held is None:
        return {"action": "visitor", "errors": [f"no walk-in {step.admit!r} asked earlier"]}
    c = _signed_in(run, _site_of(run, held["gate"]), step.who)
    cursor = run.stack.edge_last_event()
    r = c.post(f"/visitors/requests/{held['id']}/open", data={
        "csrf": _csrf(c.get("/visitors").text), "gate": held["gate"]})
    got: dict[str, Any] = {"action": "visitor", "admit": step.admit, "status": r.status_code}
    if "error=" in r.headers.get("location", ""):
        return got | NOTHING | {"request": _panel_status(run, step.who, held["id"])}
    return got | decided(run, cursor, lambda e: e.get("reason") == "visitor_approved" and (
        e.get("visitor") or {}).get("request") == held["id"])[0]

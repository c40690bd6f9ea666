"""The panel's Visitors page: who is expected today (the visitor passes of the box's sites),
who is inside now (let in by a pass or a flat's approval, not out yet) with a manual exit, a
code box, and walk-in requests: the guard asks a flat, sees the answer the moment a resident
gives it (the page asks the box every half second; the box asks the cloud), and opens for an
approved visitor (``edge.adapters.walkins``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from edge.adapters.walkins import CloudUnreachable, Refused
from edge.faces.panel.times import Times
from shared.vocab import Direction, Reason

if TYPE_CHECKING:
    from edge.faces.panel.sessions import Session
    from edge.faces.port import Box

KINDS = ("guest", "delivery", "cab", "helper")
# The page shows one of these or nothing: never text from the request.
NOTES = {"exit": "Marked as left.", "opened": "Gate opened for the visitor.",
         "asked": "The flat has been asked: the answer shows below.",
         "code_open": "Code valid: the gate opens.", "code_deny": "Code refused."}


def today(box: Box, site: str) -> tuple[datetime, datetime]:
    """Today on the site's clock (``edge.faces.panel.times``: the box's ``api.timezone`` or its own
    when the cloud sent no zone for the site yet)."""
    times = Times.of(box)
    local = times.now.astimezone(times.zone(site=site))
    start = datetime.combine(local.date(), time(0), local.tzinfo)
    return start, start + timedelta(days=1)


def context(box: Box) -> dict[str, Any]:
    """What the Visitors page shows."""
    assert box.reads is not None
    sites = box.config.sites
    expected: list[dict[str, Any]] = []
    for site in sites:
        start, end = today(box, site)
        expected += box.reads.expected_visitors(site, start, end)
    entry = [g.id for g in box.config.gates if g.direction is not Direction.EXIT]
    return {"expected": expected, "inside": box.reads.visitors_inside(sites),
            "gates": entry, "all_gates": list(box.lanes), "kinds": KINDS,
            "requests": box.walkins.recent()}


def mount_visitors(app: FastAPI, box: Box, session: Callable[..., Session],
                   checked: Callable[[Request, str | None], Session],
                   page: Callable[..., Response]) -> None:
    """Add the Visitors page and its forms to the panel."""

    @app.get("/visitors")
    def visitors_page(request: Request, note: str = "", error: str = "",
                      request_id: str = "", reason: str = "") -> Response:
        """Expected today, inside now, walk-in requests, and a code box."""
        s = session(request)
        ctx = context(box)
        known = {r["id"] for r in ctx["requests"]}
        why = f" ({reason})" if reason in {r.value for r in Reason} else ""
        return page(request, "visitors.html", s, **ctx, note=NOTES.get(note, "") + why,
                    error=error if error in ERRORS else "", error_text=ERRORS.get(error, ""),
                    watch=request_id if request_id in known else "")

    @app.post("/visitors/ask")
    def ask(request: Request, csrf: str = Form(""), gate: str = Form(...),
            flat: str = Form(...), name: str = Form(...), kind: str = Form("guest"),
            phone: str = Form(""), vrn: str = Form("")) -> Response:
        """Ask a flat's residents to let a walk-in visitor in."""
        s = checked(request, csrf)
        lane = box.lanes.get(gate)
        if lane is None or kind not in KINDS:
            raise HTTPException(404, f"no entry gate {gate} on this box")
        try:
            got = box.walkins.ask(lane.cfg.site, gate, flat.strip()[:20], name.strip()[:120],
                                     kind, s.user, phone.strip()[:32], vrn.strip()[:20])
        except CloudUnreachable:
            box.counters.inc("walkin_cloud_unreachable")
            return RedirectResponse("/visitors?error=offline", status_code=303)
        except Refused as exc:
            box.counters.inc("walkin_refused")
            return RedirectResponse("/visitors?error=" + (
                "flat" if "nobody lives" in str(exc) else "refused"), status_code=303)
        box.counters.inc("walkin_asked")
        return RedirectResponse(f"/visitors?note=asked&request_id={got['id']}",
                                status_code=303)

    @app.get("/visitors/requests/{rid}")
    def request_status(request: Request, rid: str) -> Response:
        """A walk-in request as the cloud holds it now (the page polls this)."""
        session(request, touch=False)
        try:
            return JSONResponse(box.walkins.status(rid))
        except KeyError as exc:
            raise HTTPException(404, "no such request from this box") from exc
        except CloudUnreachable:
            return JSONResponse({"id": rid, "status": "unreachable"}, status_code=503)

    @app.post("/visitors/requests/{rid}/open")
    def open_for(request: Request, rid: str, csrf: str = Form(""),
                 gate: str = Form(...)) -> Response:
        """Open for a walk-in the flat approved: once."""
        s = checked(request, csrf)
        try:
            box.visitor_open(gate, rid, s.user, s.role)
        except KeyError as exc:
            raise HTTPException(404, "no such request or gate on this box") from exc
        except Refused:
            return RedirectResponse("/visitors?error=not_approved", status_code=303)
        return RedirectResponse("/visitors?note=opened", status_code=303)

    @app.post("/visitors/exit")
    def exit_by_hand(request: Request, csrf: str = Form(""), key: str = Form(...)) -> Response:
        """The guard marks a visitor as gone."""
        s = checked(request, csrf)
        if not box.visitor_left(key, s.user):
            raise HTTPException(404, "that visitor is not recorded inside")
        return RedirectResponse("/visitors?note=exit", status_code=303)


ERRORS = {
    "offline": "The cloud cannot be reached: call the flat, then open with a reason "
               "(Live → Open).",
    "flat": "Nobody lives in that flat: check the number with the visitor.",
    "refused": "The cloud refused the request.",
    "not_approved": "Not opened: the request is not approved (or was used already).",
}

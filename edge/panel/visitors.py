"""The panel's Visitors page: who is expected today (the visitor passes of the box's sites),
who is inside now (let in by a pass or a flat's approval, not out yet) with a manual exit, a
code box, and walk-in requests: the guard asks a flat, sees the answer the moment a resident
gives it (the page asks the box every half second; the box asks the cloud), and opens for an
approved visitor (``edge.visitors``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from edge.panel.times import Times
from edge.store import codes as codes_store
from edge.store import visitors as store
from edge.visitors import CloudUnreachable, Refused
from shared.vocab import Direction, EventType, Reason

if TYPE_CHECKING:
    from edge.daemon import EdgeDaemon
    from edge.panel.sessions import Session

KINDS = ("guest", "delivery", "cab", "helper")
# The page shows one of these or nothing: never text from the request.
NOTES = {"exit": "Marked as left.", "opened": "Gate opened for the visitor.",
         "asked": "The flat has been asked: the answer shows below.",
         "code_open": "Code valid: the gate opens.", "code_deny": "Code refused."}


def today(daemon: EdgeDaemon, site: str) -> tuple[datetime, datetime]:
    """Today on the site's clock (``edge.panel.times``: the box's ``api.timezone`` or its own
    when the cloud sent no zone for the site yet)."""
    times = Times.of(daemon)
    local = times.now.astimezone(times.zone(site=site))
    start = datetime.combine(local.date(), time(0), local.tzinfo)
    return start, start + timedelta(days=1)


def context(daemon: EdgeDaemon) -> dict[str, Any]:
    """What the Visitors page shows."""
    assert daemon.db is not None
    sites = daemon.config.sites
    expected: list[dict[str, Any]] = []
    for site in sites:
        start, end = today(daemon, site)
        expected += codes_store.expected(daemon.db.conn, [site], start, end)
    entry = [g.id for g in daemon.config.gates if g.direction is not Direction.EXIT]
    return {"expected": expected, "inside": store.inside(daemon.db.conn, sites),
            "gates": entry, "all_gates": list(daemon.lanes), "kinds": KINDS,
            "requests": daemon.walkins.recent()}


def manual_exit(daemon: EdgeDaemon, key: str, user: str) -> bool:
    """The guard marks a visitor as gone; the cloud hears of it as a ``presence`` event of
    the gate the visitor came in by. False if the visitor was not inside."""
    assert daemon.db is not None and daemon.recorder is not None
    who = store.get(daemon.db.conn, key)
    if who is None:
        return False
    data = {"visitor": key, "label": who.label, "flat": who.flat, "inside": False, "by": user}

    def gone(c: Any) -> None:
        store.went_out(c, key)

    daemon.recorder.event(who.gate, EventType.PRESENCE, daemon.clock.now(), data, also=gone)
    return True


def mount_visitors(app: FastAPI, daemon: EdgeDaemon, session: Callable[..., Session],
                   checked: Callable[[Request, str | None], Session],
                   page: Callable[..., Response]) -> None:
    """Add the Visitors page and its forms to the panel."""

    @app.get("/visitors")
    def visitors_page(request: Request, note: str = "", error: str = "",
                      request_id: str = "", reason: str = "") -> Response:
        """Expected today, inside now, walk-in requests, and a code box."""
        s = session(request)
        ctx = context(daemon)
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
        lane = daemon.lanes.get(gate)
        if lane is None or kind not in KINDS:
            raise HTTPException(404, f"no entry gate {gate} on this box")
        try:
            got = daemon.walkins.ask(lane.cfg.site, gate, flat.strip()[:20], name.strip()[:120],
                                     kind, s.user, phone.strip()[:32], vrn.strip()[:20])
        except CloudUnreachable:
            daemon.counters.inc("walkin_cloud_unreachable")
            return RedirectResponse("/visitors?error=offline", status_code=303)
        except Refused as exc:
            daemon.counters.inc("walkin_refused")
            return RedirectResponse("/visitors?error=" + (
                "flat" if "nobody lives" in str(exc) else "refused"), status_code=303)
        daemon.counters.inc("walkin_asked")
        return RedirectResponse(f"/visitors?note=asked&request_id={got['id']}",
                                status_code=303)

    @app.get("/visitors/requests/{rid}")
    def request_status(request: Request, rid: str) -> Response:
        """A walk-in request as the cloud holds it now (the page polls this)."""
        session(request, touch=False)
        try:
            return JSONResponse(daemon.walkins.status(rid))
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
            daemon.visitor_open(gate, rid, s.user, s.role)
        except KeyError as exc:
            raise HTTPException(404, "no such request or gate on this box") from exc
        except Refused:
            return RedirectResponse("/visitors?error=not_approved", status_code=303)
        return RedirectResponse("/visitors?note=opened", status_code=303)

    @app.post("/visitors/exit")
    def exit_by_hand(request: Request, csrf: str = Form(""), key: str = Form(...)) -> Response:
        """The guard marks a visitor as gone."""
        s = checked(request, csrf)
        if not manual_exit(daemon, key, s.user):
            raise HTTPException(404, "that visitor is not recorded inside")
        return RedirectResponse("/visitors?note=exit", status_code=303)


ERRORS = {
    "offline": "The cloud cannot be reached: call the flat, then open with a reason "
               "(Live → Open).",
    "flat": "Nobody lives in that flat: check the number with the visitor.",
    "refused": "The cloud refused the request.",
    "not_approved": "Not opened: the request is not approved (or was used already).",
}

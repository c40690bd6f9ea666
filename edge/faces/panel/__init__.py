"""The guard's panel, served by the edge daemon: Live, Open, Visitors, Look up, Events,
Alerts.

Server-rendered (Jinja2), a little plain JavaScript, live updates over server-sent events;
no CDN and no build step, so it works on a box with no internet. Every page needs a signed-in
guard or supervisor; every form carries the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from edge.faces.panel import queries
from edge.faces.panel.live import context as live_context
from edge.faces.panel.live import with_plain, with_text, worded
from edge.faces.panel.sessions import COOKIE, LOGIN_COOKIE, Session, Sessions
from edge.faces.panel.throttle import LoginThrottle
from edge.faces.panel.times import Times, zone_name
from edge.faces.panel.visitors import mount_visitors
from edge.store.accounts import Accounts
from shared.vocab import Outcome, Reason

if TYPE_CHECKING:
    from edge.faces.port import Box

HERE = Path(__file__).parent
OPEN_REASONS = ["Visitor let in", "Delivery", "Emergency vehicle", "Reader or camera fault",
                "Resident without tag"]
LIVE_TYPES = {"decision", "open", "pass", "fault", "alert", "presence", "hold"}
# The sign-in page shows one of these or nothing: never text from the request.
LOGIN_ERRORS = {
    "bad_credentials": "Wrong user name or password.",
    "locked": "Too many wrong passwords for this account: wait a little and try again.",
    "throttled": "Too many wrong passwords from this device: wait a little and try again.",
    "expired": "Your session ended. Sign in again.",
}

# Remembers the accounts that signed in from this browser: guessing at an account from there
# is counted there, apart from the account's own count (``edge.store.accounts``).
DEVICE_COOKIE = "gp_device"
DEVICE_DAYS = 365


class _Redirect(Exception):
    def __init__(self, to: str) -> None:
        self.to = to


def mount_panel(app: FastAPI, box: Box) -> Sessions:
    """Add the panel's pages to the edge's app; returns the session store (tests read it)."""
    sessions = Sessions(box.config.api.idle_logout_min * 60)
    throttle = LoginThrottle(base_s=box.config.api.login_wait_s)

    def accounts() -> Accounts:
        assert box.accounts, "the box must be started before the panel serves"
        return box.accounts
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    secure = box.config.api.secure_cookies
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(_Redirect)
    async def redirect(request: Request, exc: _Redirect) -> Response:
        return RedirectResponse(exc.to, status_code=303)

    def session(request: Request, touch: bool = True) -> Session:
        s = sessions.get(request.cookies.get(COOKIE), touch)
        if s is None:
            raise _Redirect("/login")
        role = accounts().role(s.user)
        if role is None:  # the account was removed (in the cloud) since sign-in
            sessions.end_user(s.user)
            raise _Redirect("/login")
        s.role = role
        return s

    def checked(request: Request, csrf: str | None) -> Session:
        s = session(request)
        if not s.csrf_ok(csrf):
            box.counters.inc("panel_csrf_refused")
            raise HTTPException(403, "the form's CSRF token is missing or wrong; reload the page")
        return s

    def page(request: Request, name: str, s: Session | None, **ctx: Any) -> Response:
        ctx = {"edge": box.config.id, "s": s, "nav": name.removesuffix(".html"),
               "t": ctx.get("t") or Times.of(box), **ctx}
        return templates.TemplateResponse(request, name, ctx)

    def set_cookie(resp: Response, key: str, value: str) -> None:
        resp.set_cookie(key, value, httponly=True, samesite="strict", secure=secure, path="/")

    # Sign in and out ----------------------------------------------------------------------
    @app.get("/login")
    def login_form(request: Request, error: str = "") -> Response:
        """The sign-in page (sets a one-off CSRF cookie for the login form). ``error`` is a
        code; only the known ones show a message, never the text given."""
        token = secrets.token_urlsafe(24)
        resp = page(request, "login.html", None, csrf=token, error=LOGIN_ERRORS.get(error, ""),
                    no_accounts=accounts().count() == 0)
        set_cookie(resp, LOGIN_COOKIE, token)
        return resp

    @app.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form(""),
              csrf: str = Form("")) -> Response:
        """Check the password and start a session. Every try slows down its own address
        (``throttle``) and the account, or from a device the account signed in from before,
        that device's count for it (``edge.store.accounts``). A try in an address's, the
        account's or a device's wait is refused unchecked, with 429 and ``Retry-After``; the
        account's wait never holds back a device it signed in from before (the guard's own
        tablet). A slow-down never ends a session that is already signed in."""
        cookie = request.cookies.get(LOGIN_COOKIE) or ""
        if not csrf or not secrets.compare_digest(cookie, csrf):
            box.counters.inc("panel_csrf_refused")
            raise HTTPException(403, "the sign-in form's CSRF token is missing or wrong")
        addr = request.client.host if request.client else "?"
        if (wait := throttle.attempt(addr)) > 0:
            box.counters.inc("panel_login_throttled")
            return slow_down(request, "throttled", wait)
        device = request.cookies.get(DEVICE_COOKIE)
        result = accounts().login(username, password, device)
        box.counters.inc(f"panel_login_{result.reason}")
        if not result.ok:
            throttle.failed(addr, username)  # a sign-in as another user name never forgives it
        if result.wait_s > 0:
            return slow_down(request, "locked", result.wait_s)
        if not result.ok:
            return login_form(request, result.reason)
        throttle.succeeded(addr, result.username)
        s = sessions.create(result.username, result.role)
        resp = RedirectResponse("/", status_code=303)
        set_cookie(resp, COOKIE, s.id)
        resp.set_cookie(DEVICE_COOKIE, accounts().remember(result.username, device),
                        max_age=DEVICE_DAYS * 86400, httponly=True, samesite="strict",
                        secure=secure, path="/")
        resp.delete_cookie(LOGIN_COOKIE, path="/")
        return resp

    def slow_down(request: Request, error: str, wait_s: float) -> Response:
        """The sign-in page again, refused as too many tries: 429 with ``Retry-After``."""
        resp = login_form(request, error)
        resp.status_code = 429
        resp.headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
        return resp

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        """End the session."""
        checked(request, csrf)
        sessions.end(request.cookies.get(COOKIE))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    # Live and Open ------------------------------------------------------------------------
    @app.get("/")
    def live(request: Request, opened: str = "", need_reason: str = "") -> Response:
        """Each lane: the vehicle at the gate, its decision in plain words, the action that
        fits and the lane's devices; below, the latest decisions, who is inside, alerts."""
        s = session(request)
        known = set(box.lanes)  # echo gate ids only, never free text
        return page(request, "live.html", s, **live_context(box), reasons=OPEN_REASONS,
                    opened=opened if opened in known else "",
                    need_reason=need_reason if need_reason in known else "")

    @app.post("/gates/{gate}/open")
    def guard_open(request: Request, gate: str, csrf: str = Form(""), reason: str = Form(""),
                   other: str = Form(""), vrn: str = Form(""), hold: str = Form("")) -> Response:
        """Open a gate for a guard: a reason, confirmed, recorded as ``guard_override``;
        ``hold`` keeps the boom up until Close."""
        s = checked(request, csrf)
        if gate not in box.lanes:
            raise HTTPException(404, f"no gate {gate} on this box")
        why = (other.strip() or reason.strip())
        if not why:  # a clear message on the page, not an error body
            return RedirectResponse(f"/?need_reason={gate}", status_code=303)
        keep = bool(hold) and box.lanes[gate].hold_wired
        box.guard_open(gate, s.user, s.role, why, vrn.strip().upper() or None, hold=keep)
        return RedirectResponse(f"/?opened={gate}", status_code=303)

    @app.post("/gates/{gate}/code")
    def guard_code(request: Request, gate: str, csrf: str = Form(""),
                   code: str = Form(""), back: str = Form("")) -> Response:
        """A code a visitor read out, typed by the guard: decided as at a keypad (the gate
        opens for a valid one); the verdict shows on the lane (or on the Visitors page,
        ``back=visitors``)."""
        s = checked(request, csrf)
        if gate not in box.lanes:
            raise HTTPException(404, f"no gate {gate} on this box")
        d = box.enter_code(gate, code[:40], "guard", s.user)
        if back == "visitors":
            return RedirectResponse(f"/visitors?note=code_{'open' if d.opens else 'deny'}"
                                    f"&reason={d.reason.value}", status_code=303)
        return RedirectResponse("/", status_code=303)

    @app.post("/gates/{gate}/keypad/clear")
    def clear_keypad(request: Request, gate: str, csrf: str = Form("")) -> Response:
        """End the lock wrong codes put on the gate's keypad (and its camera's QR search),
        audited as a ``keypad_cleared`` alert with the guard's name."""
        s = checked(request, csrf)
        if gate not in box.lanes:
            raise HTTPException(404, f"no gate {gate} on this box")
        box.clear_code_lock(gate, s.user)
        return RedirectResponse("/", status_code=303)

    @app.post("/gates/{gate}/release")
    def release(request: Request, gate: str, csrf: str = Form("")) -> Response:
        """Let a held boom close (by its own timer; never onto a vehicle)."""
        s = checked(request, csrf)
        if gate not in box.lanes or not box.lanes[gate].hold_wired:
            raise HTTPException(404, f"no gate {gate} with a hold relay on this box")
        box.release(gate, s.user)
        return RedirectResponse("/", status_code=303)

    @app.get("/panel/stream")
    async def stream(request: Request, after: int = 0) -> Response:
        """Server-sent events: decisions, opens, passes, faults and alerts, and health."""
        session(request, touch=False)
        sid = request.cookies.get(COOKIE)
        start = int(request.headers.get("last-event-id") or after)

        async def events() -> AsyncIterator[str]:
            last = start
            next_health = 0.0
            loop = asyncio.get_running_loop()
            yield "retry: 1000\n\n"
            while not await request.is_disconnected():
                if sessions.get(sid, touch=False) is None:
                    yield "event: logout\ndata: {}\n\n"
                    return
                items = await run_in_threadpool(box.ring.after, last, 0.5, 200)
                # the clocks and the health read the store: never on the event loop
                times = await run_in_threadpool(Times.of, box) if items else None
                for e in items:
                    last = e["local_id"]
                    if e["type"] in LIVE_TYPES and times is not None:
                        if e["type"] == "decision":
                            e = with_plain(box, e, times)
                        elif e["type"] in ("alert", "fault"):
                            e = with_text(e, times)
                        yield f"id: {last}\nevent: {e['type']}\ndata: {json.dumps(e)}\n\n"
                if loop.time() >= next_health:
                    next_health = loop.time() + 1.0
                    h = await run_in_threadpool(live_context, box)
                    small = {"gates": h["health"]["gates"], "inside": h["inside"],
                             "cloud_connected": h["health"]["cloud_connected"],
                             "outbox": h["health"]["outbox"], "cameras": h["health"]["cameras"]}
                    yield f"event: health\ndata: {json.dumps(small)}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    @app.get("/evidence/{name}")
    def evidence(request: Request, name: str) -> Response:
        """A plate crop or frame kept as evidence."""
        session(request)
        path = box.evidence.path(name)
        if path is None:
            raise HTTPException(404, "no such evidence (it may have been evicted)")
        return FileResponse(path, media_type="image/jpeg")

    mount_visitors(app, box, session, checked, page)

    # Look up ------------------------------------------------------------------------------
    @app.get("/lookup")
    def lookup(request: Request, q: str = "", done: str = "") -> Response:
        """A vehicle by plate or tag: tags, locks, inside/outside, last decisions."""
        s = session(request)
        return page(request, "lookup.html", s, q=q, results=queries.lookup(box, q),
                    done=done)

    @app.post("/presence")
    def presence(request: Request, csrf: str = Form(""), site: str = Form(...),
                 vrn: str = Form(...), inside: str = Form(...), q: str = Form("")) -> Response:
        """Supervisors only: correct whether a vehicle is inside."""
        s = checked(request, csrf)
        if s.role != "supervisor":
            raise HTTPException(403, "only a supervisor may correct inside/outside")
        if not any(g.site == site for g in box.config.gates):
            raise HTTPException(404, f"no gate of site {site} on this box")
        box.correct_presence(site, vrn, inside == "inside", s.user)
        return RedirectResponse(f"/lookup?q={q or vrn}&done=presence", status_code=303)

    # Events and alerts --------------------------------------------------------------------
    def event_filter(request: Request) -> queries.EventFilter:
        p = request.query_params
        times = Times.of(box)

        def when(key: str) -> datetime | None:
            # a time typed in the filter is on the site's clock, as the page shows times
            try:
                return times.parse(p[key]) if p.get(key) else None
            except ValueError as exc:
                raise HTTPException(422, f"{key}: not a date and time ({p[key]})") from exc

        return queries.EventFilter(
            since=when("since"), until=when("until"), gate=p.get("gate", ""),
            outcome=p.get("outcome", ""), reason=p.get("reason", ""),
            plate=p.get("plate", ""), tag=p.get("tag", ""), type=p.get("type", ""))

    @app.get("/events")
    def events_page(request: Request) -> Response:
        """The local history, filtered by time, gate, decision, reason, plate or tag."""
        s = session(request)
        f = event_filter(request)
        times = Times.of(box)
        rows = worded(box, queries.events(box, f), times)
        return page(request, "events.html", s, f=f, rows=rows,
                    gates=list(box.lanes), reasons=[r.value for r in Reason],
                    outcomes=[o.value for o in Outcome], query=request.url.query, t=times,
                    zone=zone_name(times.zone()))

    @app.get("/events.csv")
    def events_csv(request: Request) -> Response:
        """The filtered history as a CSV file."""
        session(request)
        rows = queries.events(box, replace(event_filter(request), limit=100_000))
        name = f"gatepost-{box.config.id}-events.csv"
        return Response(queries.events_csv(queries.local_times(rows, Times.of(box))),
                        media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/alerts")
    def alerts_page(request: Request) -> Response:
        """Credential mismatches, barriers that failed to open, devices and cloud link down."""
        s = session(request)
        return page(request, "alerts.html", s, **queries.alerts(box))

    return sessions

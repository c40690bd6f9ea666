"""The edge's local HTTP API (JSON: reads, and a rules resync) and the guard's panel
(``edge.faces.panel``)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from edge.faces.panel import mount_panel
from edge.faces.panel.sessions import COOKIE, Sessions
from edge.faces.port import Box
from edge.peers.routes import mount_peers
from shared.counters import Counters

log = logging.getLogger(__name__)


def loopback(host: str) -> bool:
    """Whether *host* (the configured bind address) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def guard_local_api(app: FastAPI, host: str, token: str | None, sessions: Sessions,
                    counters: Counters) -> None:
    """Bound beyond loopback, the JSON API (events with plates and tags) and ``/metrics``
    answer only a bearer ``api.token`` or a signed-in panel session; on loopback they stay open
    to the box itself."""
    if loopback(host):
        return
    if not token:
        log.warning("the local API is bound to %s with no api.token: /api/* answers signed-in "
                    "panel sessions only", host)

    @app.middleware("http")
    async def need_token(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith("/api/") or request.url.path == "/metrics":
            auth = request.headers.get("authorization", "")
            given = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            ok = bool(token and given and hmac.compare_digest(given, token)) or \
                sessions.get(request.cookies.get(COOKIE), touch=False) is not None
            if not ok:
                counters.inc("api_unauthorised")
                return JSONResponse(status_code=401, content={
                    "detail": "the local API needs api.token or a panel session"})
        response: Response = await call_next(request)
        return response


def create_app(box: Box) -> FastAPI:
    """The local API bound to a running box (the daemon, through its port)."""
    app = FastAPI(title=f"Gatepost edge {box.config.id}", version="1")

    @app.get("/api/health")
    def health() -> dict:
        """Devices, cloud link, rules versions, outbox size and counters."""
        return box.health()

    @app.get("/api/events")
    def events(after: int = Query(0, ge=0), wait: float = Query(0, ge=0, le=30),
               type: str | None = None, gate: str | None = None,
               limit: int = Query(500, ge=1, le=5000)) -> dict:
        """Recent local events after a local id; ``wait`` long-polls for the first one."""
        items = box.ring.after(after, wait, limit)
        last = items[-1]["local_id"] if items else max(after, 0)
        if type:
            items = [e for e in items if e["type"] == type]
        if gate:
            items = [e for e in items if e.get("gate") == gate]
        return {"events": items, "last": last}

    @app.get("/api/tags/{epc}")
    def tag(epc: str) -> dict:
        """Look up a cached tag and its vehicle's presence."""
        assert box.cache and box.presence
        t = box.cache.tag(epc)
        if t is None:
            raise HTTPException(404, f"tag {epc} is not in the local cache")
        return {"epc": t.epc, "site": t.site, "status": t.status.value, "vrn": t.vrn,
                "locked": t.is_locked(box.clock.now()),
                "locked_until": t.locked_until.isoformat() if t.locked_until else None,
                "inside": box.presence.is_inside(t.vrn) if t.vrn else None}

    @app.post("/api/rules/resync")
    def resync() -> dict:
        """Take a snapshot of every site's rules and replace the cache with it, whatever the
        versions say (``gatepost edge resync``)."""
        sites = box.resync()
        if sites is None:
            raise HTTPException(409, "this box has no cloud link to resync from")
        return {"resync": sites}

    app.state.sessions = mount_panel(app, box)
    if box.spends is not None and box.spends.peers:
        mount_peers(app, box.spends)  # the site's other boxes: /peers/claim, /peers/spend
    box.metrics.watch(box, app.state.sessions)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus metrics (docs/metrics.md); beyond loopback, with ``api.token``."""
        body, content_type = box.metrics.render()
        return Response(body, media_type=content_type)

    guard_local_api(app, box.config.api.host, box.config.api.token, app.state.sessions,
                    box.counters)
    return app

"""The edge's local HTTP API (read-only, JSON) and the guard's panel (``edge.panel``)."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Query

from edge.daemon import EdgeDaemon
from edge.panel import mount_panel


def create_app(daemon: EdgeDaemon) -> FastAPI:
    """The local API bound to a running daemon."""
    app = FastAPI(title=f"Gatepost edge {daemon.config.id}", version="1")

    @app.get("/api/health")
    def health() -> dict:
        """Devices, cloud link, rules versions, outbox size and counters."""
        return daemon.health()

    @app.get("/api/events")
    def events(after: int = Query(0, ge=0), wait: float = Query(0, ge=0, le=30),
               type: str | None = None, gate: str | None = None,
               limit: int = Query(500, ge=1, le=5000)) -> dict:
        """Recent local events after a local id; ``wait`` long-polls for the first one."""
        items = daemon.ring.after(after, wait, limit)
        last = items[-1]["local_id"] if items else max(after, 0)
        if type:
            items = [e for e in items if e["type"] == type]
        if gate:
            items = [e for e in items if e.get("gate") == gate]
        return {"events": items, "last": last}

    @app.get("/api/tags/{epc}")
    def tag(epc: str) -> dict:
        """Look up a cached tag and its vehicle's presence."""
        assert daemon.cache and daemon.presence
        t = daemon.cache.tag(epc)
        if t is None:
            raise HTTPException(404, f"tag {epc} is not in the local cache")
        return {"epc": t.epc, "site": t.site, "status": t.status.value, "vrn": t.vrn,
                "locked": t.is_locked(daemon.clock.now()),
                "locked_until": t.locked_until.isoformat() if t.locked_until else None,
                "inside": daemon.presence.is_inside(t.vrn) if t.vrn else None}

    app.state.sessions = mount_panel(app, daemon)
    return app

"""The edge's local HTTP API and a live status page (works with no internet)."""

from __future__ import annotations

import html

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse

from edge.daemon import EdgeDaemon

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatepost — {edge}</title>
<style>
body{{font:20px system-ui,sans-serif;background:#111;color:#f5f5f5;margin:0;padding:16px}}
h1{{font-size:28px;margin:0 0 12px}} table{{border-collapse:collapse;width:100%}}
td,th{{padding:8px 10px;border-bottom:1px solid #333;text-align:left}}
.open{{color:#6f6}} .deny{{color:#f66}} .gates{{display:flex;gap:12px;flex-wrap:wrap}}
.gate{{background:#222;border-radius:10px;padding:12px 16px;min-width:220px}}
</style></head><body>
<h1>Gatepost edge <code>{edge}</code></h1>
<div class="gates" id="gates"></div>
<h2>Recent decisions</h2>
<table><thead><tr><th>Time</th><th>Gate</th><th>Decision</th><th>Reason</th>
<th>Vehicle</th><th>Credential</th></tr></thead><tbody id="rows"></tbody></table>
<script>
let last = 0;
function esc(s){{return String(s ?? "").replace(/[&<>"]/g, c => "&#" + c.charCodeAt(0) + ";");}}
async function gates(){{
  const h = await (await fetch("/api/health")).json();
  document.getElementById("gates").innerHTML = h.gates.map(g =>
    `<div class="gate"><b>${{esc(g.id)}}</b> (${{esc(g.direction)}})<br>` +
    `loop: ${{g.loop ? "occupied" : "clear"}} · boom: ${{g.open_limit ? "up" :
      (g.closed_limit ? "down" : "moving")}}<br>reader: ${{g.reader_ok ? "ok" : "DOWN"}}` +
    ` · relay: ${{g.relay_ok ? "ok" : "DOWN"}}</div>`).join("") +
    `<div class="gate">cloud: ${{h.cloud_connected ? "connected" : "OFFLINE"}}` +
    `<br>outbox: ${{h.outbox}}</div>`;
}}
async function poll(){{
  try {{
    const r = await (await fetch(`/api/events?after=${{last}}&wait=20&type=decision`)).json();
    const body = document.getElementById("rows");
    for (const e of r.events) {{
      if (e.outcome === "ignored") continue;
      const tr = document.createElement("tr");
      tr.innerHTML = `<td>${{esc(e.at.slice(11,19))}}</td><td>${{esc(e.gate)}}</td>` +
        `<td class="${{esc(e.outcome)}}">${{esc(e.outcome)}}</td><td>${{esc(e.reason)}}</td>` +
        `<td>${{esc(e.vrn)}}</td><td>${{esc(e.credential.value)}}</td>`;
      body.prepend(tr);
    }}
    last = r.last;
  }} catch (e) {{ await new Promise(r => setTimeout(r, 1000)); }}
  poll();
}}
gates(); setInterval(gates, 1000); poll();
</script></body></html>"""


def create_app(daemon: EdgeDaemon) -> FastAPI:
    """The local API bound to a running daemon."""
    app = FastAPI(title=f"Gatepost edge {daemon.config.id}", version="1")

    @app.get("/", response_class=HTMLResponse)
    def live() -> str:
        """Live status page for the guard booth."""
        return _PAGE.format(edge=html.escape(daemon.config.id))

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

    return app

// Live page: server-sent events append decisions and refresh each gate's state.
"use strict";
(function () {
  const body = document.getElementById("decisions");
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  // When each decision became visible (epoch ms), for `gatepost bench panel`.
  window.gatepostSeen = {};
  function row(e) {
    const crop = (e.evidence || []).filter((n) => n.endsWith(".crop.jpg"))
      .map((n) => `<img src="/evidence/${encodeURIComponent(n)}" alt="plate crop" class="crop">`)
      .join("");
    const detail = e.guard ? `${e.guard.user}: ${e.guard.reason}` :
      (e.subscription ? `${e.subscription} · ${e.detail}` : e.detail);
    const tr = document.createElement("tr");
    tr.dataset.event = e.event_id;
    tr.className = "fresh";
    tr.innerHTML = `<td>${esc(e.at.slice(11, 19))}</td><td>${esc(e.gate)}</td>` +
      `<td class="${esc(e.outcome)}">${esc(e.outcome)}</td><td>${esc(e.reason)}</td>` +
      `<td>${esc(e.vrn)}${e.flat ? ` <span class="flat">${esc(e.flat)}</span>` : ""}</td>` +
      `<td>${esc(e.credential.kind)} ${esc(e.credential.value)}</td>` +
      `<td>${esc(detail)}</td><td>${crop}</td>`;
    body.prepend(tr);
    while (body.rows.length > 100) body.deleteRow(-1);
    window.gatepostSeen[e.event_id] = performance.timeOrigin + performance.now();
  }
  function text(el, value, bad) {
    if (!el) return;
    el.textContent = value;
    el.classList.toggle("bad", !!bad);
  }
  function health(h) {
    for (const g of h.gates) {
      const card = document.getElementById("gate-" + g.id);
      if (!card) continue;
      text(card.querySelector(".boom"), g.open_limit ? "up" : (g.closed_limit ? "down" : "moving"));
      text(card.querySelector(".loop"), g.loop ? "occupied" : "clear");
      for (const dev of ["reader", "relay"]) {
        const ok = g[dev + "_ok"];
        text(card.querySelector("." + dev), ok ? "ok" : (ok === false ? "DOWN" : "—"), ok === false);
      }
      const cam = h.cameras[g.id];
      if (cam) text(card.querySelector(".camera"), cam.connected ? "ok" : "DOWN", !cam.connected);
    }
    text(document.getElementById("cloud"), h.cloud_connected ? "connected" : "OFFLINE",
         !h.cloud_connected);
    text(document.getElementById("outbox"), h.outbox);
    const banner = document.getElementById("banner");
    banner.textContent = h.cloud_connected ? "" :
      "Cloud link down: the gates keep deciding from the local cache.";
    banner.classList.toggle("down", !h.cloud_connected);
  }
  const source = new EventSource("/panel/stream?after=" + body.dataset.last);
  source.addEventListener("decision", (m) => {
    const e = JSON.parse(m.data);
    if (e.outcome !== "ignored") row(e);
  });
  source.addEventListener("health", (m) => health(JSON.parse(m.data)));
  source.addEventListener("alert", () => {
    document.getElementById("nav-alerts").classList.add("bad");
  });
  source.addEventListener("logout", () => { source.close(); location.href = "/login"; });
})();

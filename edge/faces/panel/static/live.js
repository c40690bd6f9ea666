// Live page: server-sent events update each lane's card, the latest decisions, who is inside
// and the alerts; no framework, no build step.
"use strict";
(function () {
  const list = document.getElementById("decisions");
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  // When each decision became visible (epoch ms), for `gatepost bench panel`.
  window.gatepostSeen = {};
  const crops = (e) => (e.evidence || []).filter((n) => n.endsWith(".crop.jpg"))
    .map((n) => `<img src="/evidence/${encodeURIComponent(n)}" alt="plate crop" class="crop">`)
    .join("");
  const flat = (f) => (f ? ` <span class="flat">${esc(f)}</span>` : "");

  function row(e) {
    const li = document.createElement("li");
    li.dataset.event = e.event_id;
    li.className = `${e.outcome} fresh`;
    // Times come in words from the box, on the site's clock: never sliced out of ISO strings.
    li.innerHTML = `<time datetime="${esc(e.at)}">${esc(e.when)}</time> <b>${esc(e.gate)}</b> ` +
      `<span class="what">${esc(e.plain)}</span> ` +
      `<span class="veh">${esc(e.vrn || (["tag", "plate"].includes(e.credential.kind) ?
        e.credential.value : ""))}${flat(e.flat)}</span> ` +
      `<code class="code">${esc(e.reason)}</code>${crops(e)}`;
    list.prepend(li);
    while (list.children.length > 100) list.lastElementChild.remove();
    window.gatepostSeen[e.event_id] = performance.timeOrigin + performance.now();
  }

  function lane(card, c) {
    // The vehicle at the gate and its decision, in plain words, with the action that fits.
    // The box says which vehicle is in front (a refused car stays while its tag is read).
    const state = c ? c.outcome : "idle";
    card.classList.remove("open", "deny", "ignored", "idle");
    card.classList.add(state);
    const vrn = c ? (c.vrn || (c.credential.kind === "tag" ? "tag " + c.credential.value : "")) :
      "No vehicle";
    card.querySelector(".vrn").textContent = vrn;
    card.querySelector(".vehicle-now .flat").textContent = (c && c.flat) || "";
    card.querySelector(".crop-slot").innerHTML = c ? crops(c) : "";
    card.querySelector(".verdict").textContent = c ? c.plain : "Lane clear";
    const summary = card.querySelector(".open-anyway summary");
    if (summary) summary.textContent = c && c.outcome === "deny" ? "Open anyway" : "Open";
    const hidden = card.querySelector("input[name=vrn]");
    // "Open anyway" is for the refused vehicle at the gate; a plain "Open" names nobody.
    if (hidden) hidden.value = c && c.vrn && c.outcome === "deny" ? c.vrn : "";
  }

  function chip(el, value, bad) {
    if (!el) return;
    el.querySelector("b").textContent = value;
    el.classList.toggle("bad", !!bad);
  }

  let healths = 0;
  function health(h) {
    // How many health updates were applied (tests wait on it after time passed).
    document.getElementById("lanes").dataset.health = String(++healths);
    for (const g of h.gates) {
      const card = document.getElementById("gate-" + g.id);
      if (!card) continue;
      for (const dev of ["reader", "relay"]) {
        const ok = g[dev + "_ok"];
        chip(card.querySelector("." + dev), ok ? "ok" : (ok === false ? "DOWN" : "…"), ok === false);
      }
      const cam = h.cameras[g.id];
      if (cam) chip(card.querySelector(".camera"), cam.connected ? "ok" : "DOWN", !cam.connected);
      card.querySelector(".boom").textContent = g.held_open ? "held" :
        (g.open_limit ? "up" : (g.closed_limit ? "down" : "moving"));
      if (!card.contains(document.activeElement)) lane(card, g.current);
      const release = card.querySelector('form.release[action$="/release"]');
      if (release) release.hidden = !g.held_open;
    }
    const inside = document.getElementById("inside");
    inside.innerHTML = h.inside.length ? h.inside.map((v) =>
      `<li><b>${esc(v.vrn)}</b>${flat(v.flat)} <small>since <time datetime="${esc(v.at)}">` +
      `${esc(v.when)}</time></small></li>`
    ).join("") : '<li class="hint">Nobody recorded inside.</li>';
    document.getElementById("inside-count").textContent = h.inside.length;
    const cloud = document.getElementById("cloud");
    cloud.textContent = h.cloud_connected ? "connected" : "OFFLINE";
    cloud.classList.toggle("bad", !h.cloud_connected);
    document.getElementById("outbox").textContent = h.outbox;
    const banner = document.getElementById("banner");
    banner.textContent = h.cloud_connected ? "" :
      "Cloud link down: the gates keep deciding from the local cache.";
    banner.classList.toggle("down", !h.cloud_connected);
  }

  function alert(e) {
    const ul = document.getElementById("alerts");
    const hint = ul.querySelector(".hint");
    if (hint) hint.remove();
    const li = document.createElement("li");
    li.className = "fresh";
    li.innerHTML = `<time datetime="${esc(e.at)}">${esc(e.when)}</time> <b>${esc(e.gate)}</b> ` +
      esc(e.text);
    ul.prepend(li);
    while (ul.children.length > 8) ul.lastElementChild.remove();
    document.getElementById("nav-alerts").classList.add("bad");
  }

  // A reason before every open: one tap on a reason (or typed), then Confirm open.
  for (const form of document.querySelectorAll(".reasons-form")) {
    form.addEventListener("submit", (ev) => {
      const picked = form.querySelector("input[name=reason]:checked");
      const other = form.querySelector("input[name=other]").value.trim();
      if (!picked && !other) {
        ev.preventDefault();
        let msg = form.querySelector(".need");
        if (!msg) {
          msg = document.createElement("p");
          msg.className = "need error";
          msg.setAttribute("role", "alert");
          form.prepend(msg);
        }
        msg.textContent = "Choose a reason first: tap one, or type one.";
      }
    });
  }

  const source = new EventSource("/panel/stream?after=" + list.dataset.last);
  source.addEventListener("decision", (m) => {
    const e = JSON.parse(m.data);
    if (e.outcome === "ignored") return;
    row(e);
    const card = document.getElementById("gate-" + e.gate);
    if (card && !card.contains(document.activeElement)) lane(card, e);
  });
  source.addEventListener("health", (m) => health(JSON.parse(m.data)));
  source.addEventListener("alert", (m) => alert(JSON.parse(m.data)));
  source.addEventListener("fault", (m) => {
    const e = JSON.parse(m.data);
    if (e.state === "down") alert(e);
  });
  source.addEventListener("logout", () => { source.close(); location.href = "/login"; });
})();

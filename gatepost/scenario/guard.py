"""The ``guard`` scenario step: a guard signs in to the edge's panel over HTTP, as a browser
would (CSRF token and session cookie), and opens a gate with a reason."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from gatepost.scenario.runner import ScenarioRun
    from gatepost.scenario.schema import GuardStep

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _csrf(html: str) -> str:
    m = _CSRF.search(html)
    if m is None:
        raise RuntimeError("the panel page carries no CSRF token")
    return m.group(1)


def _signed_in(run: ScenarioRun, site: str, user: str) -> httpx.Client:
    """A panel session for *user*, creating the account in the cloud on first use."""
    clients = run.guard_clients
    if user in clients:
        return clients[user]
    st = run.stack
    known = {a.username: a.password for a in run.sc.cloud.accounts}
    password = known.get(user) or secrets.token_urlsafe(16)
    if user not in known:
        r = st.cloud.post(f"/api/v1/sites/{site}/accounts",
                          json={"username": user, "role": "guard", "password": password})
        r.raise_for_status()
        st.wait_edge_version(site, r.json()["rules_version"], 15)
    c = httpx.Client(base_url=st.edge_url, timeout=10)
    form = c.get("/login")
    r = c.post("/login", data={"username": user, "password": password,
                               "csrf": _csrf(form.text)})
    if r.status_code != 303:
        raise RuntimeError(f"guard {user} could not sign in to the panel: {r.status_code}")
    clients[user] = c
    return c


def guard_open(run: ScenarioRun, spec: GuardStep) -> dict[str, Any]:
    """Open a gate from the panel and report what the gate did."""
    site = run.site_of_gate[spec.open]
    c = _signed_in(run, site, spec.user)
    cursor = run.stack.edge_last_event()
    live = c.get("/")
    r = c.post(f"/gates/{spec.open}/open", data={"csrf": _csrf(live.text), "reason": spec.reason,
                                                  "vrn": spec.vehicle or ""})
    out: dict[str, Any] = {"gate": spec.open, "status": r.status_code, "user": spec.user}
    if r.status_code != 303:
        return {**out, **NOTHING}
    got, d = decided(run, cursor, lambda e: e["credential"]["kind"] == "guard"
                     and e["credential"]["value"] == spec.user)
    return {**out, **got, "guard": d.get("guard")} if d is not None else {**out, **got}


NOTHING: dict[str, Any] = {"decision": "none", "reason": None, "barrier_opened": False}


def decided(run: ScenarioRun, cursor: int, match: Callable[[dict[str, Any]], bool]
            ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The first decision after *cursor* that *match*es (within 5 s), as a step reports it
    (``decision``, ``reason``, ``barrier_opened``: the open for it acknowledged within 3 s),
    and the decision event itself (None: there was none)."""
    d = run._await(cursor, lambda e: e["type"] == "decision" and match(e), 5)
    if d is None:
        return dict(NOTHING), None
    opened = d["outcome"] == "open" and run._await(
        cursor, lambda e: e["type"] == "open" and e.get("decision") == d["event_id"]
        and e.get("ok"), 3) is not None
    return {"decision": d["outcome"], "reason": d["reason"], "barrier_opened": opened}, d

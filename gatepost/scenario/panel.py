"""The edge's panel as a guard's browser uses it in scenario steps: a session signed in over
HTTP (CSRF token and session cookie), and what the gate decided after an action there."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import httpx

from gatepost.scenario.context import Run

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NOTHING: dict[str, Any] = {"decision": "none", "reason": None, "barrier_opened": False}


def csrf(html: str) -> str:
    """The CSRF token of a panel page."""
    m = _CSRF.search(html)
    if m is None:
        raise RuntimeError("the panel page carries no CSRF token")
    return m.group(1)


def signed_in(run: Run, site: str, user: str) -> httpx.Client:
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
                               "csrf": csrf(form.text)})
    if r.status_code != 303:
        raise RuntimeError(f"guard {user} could not sign in to the panel: {r.status_code}")
    clients[user] = c
    return c


def decided(run: Run, cursor: int, match: Callable[[dict[str, Any]], bool]
            ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The first decision after *cursor* that *match*es (within 5 s), as a step reports it
    (``decision``, ``reason``, ``barrier_opened``: the open for it acknowledged within 3 s),
    and the decision event itself (None: there was none)."""
    d = run.await_event(cursor, lambda e: e["type"] == "decision" and match(e), 5)
    if d is None:
        return dict(NOTHING), None
    opened = d["outcome"] == "open" and run.await_event(
        cursor, lambda e: e["type"] == "open" and e.get("decision") == d["event_id"]
        and e.get("ok"), 3) is not None
    return {"decision": d["outcome"], "reason": d["reason"], "barrier_opened": opened}, d

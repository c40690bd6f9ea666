"""Schedule actions of the ``cloud`` scenario step, and the schedules of the ``cloud:`` set-up.

``set_timezone: {timezone}``, ``set_schedule: {name, windows, holidays, label}``,
``remove_schedule: {name}`` and ``bind_schedule: {schedule, vehicles, tags, subscriptions}``
(``schedule: null`` unbinds; subscriptions by their scenario ``ref``); each takes an optional
``site`` (default: the first).
"""

from __future__ import annotations

from typing import Any

import httpx

from gatepost.scenario.base import ScenarioError
from gatepost.scenario.context import Run

SCHEDULE_ACTIONS = ("set_timezone", "set_schedule", "remove_schedule", "bind_schedule")


def schedule_action(run: Run, action: str, p: dict[str, Any]) -> httpx.Response:
    """Do one schedule action through the cloud API."""
    c = run.stack.cloud
    base = f"/api/v1/sites/{p.get('site') or run.sites[0]}"
    if action == "set_timezone":
        return c.put(f"{base}/timezone", json={"timezone": p["timezone"]})
    if action == "set_schedule":
        body = {k: p[k] for k in ("windows", "holidays", "label") if k in p}
        return c.put(f"{base}/schedules/{p['name']}", json=body)
    if action == "remove_schedule":
        return c.delete(f"{base}/schedules/{p['name']}")
    subs = []
    for ref in p.get("subscriptions", []):
        if ref not in run.refs:
            raise ScenarioError(f"no subscription named {ref!r}")
        subs.append(run.refs[ref])
    return c.post(f"{base}/schedule-bindings", json={
        "schedule": p.get("schedule"), "vehicles": p.get("vehicles", []),
        "tags": p.get("tags", []), "subscriptions": subs})

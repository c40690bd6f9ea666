"""Parking actions of the ``cloud`` scenario step and the parking checks of ``expect_cloud``.

Subscriptions get a ``ref`` name in the scenario (``create_subscription: {ref: kulkarni, …}``);
later steps name them by it.
"""

from __future__ import annotations

from typing import Any

import httpx

from gatepost.scenario.base import ScenarioError
from gatepost.scenario.context import Run

PARKING_ACTIONS = ("add_parking", "add_spaces", "add_tariff", "activate_parking",
                   "create_subscription", "extend_subscription", "deactivate_subscription",
                   "pay_debt", "set_presence", "set_users")


def _sub(run: Run, p: dict[str, Any]) -> str:
    ref = p.get("ref")
    if ref not in run.refs:
        # A refused create_subscription leaves its ref unnamed: the step that names it fails
        # (and says why); the scenario goes on.
        raise ScenarioError(f"no subscription named {ref!r}: no create_subscription step with "
                            "that ref succeeded")
    return run.refs[ref]


def parking_action(run: Run, action: str, p: dict[str, Any]) -> tuple[httpx.Response, str]:
    """Do one parking action through the cloud API; returns the response and the site."""
    c = run.stack.cloud
    site = p.get("site") or run.sites[0]
    keep = {k: v for k, v in p.items() if k not in ("site", "ref", "parking", "new_ref")}
    if action == "add_parking":
        r = c.post(f"/api/v1/sites/{site}/parkings", json=keep)
        if r.status_code < 300:  # the site's gates that name this parking become its barriers
            for s in run.sc.all_sites:
                for g in s.gates:
                    if g.parking == p["id"]:
                        r = c.put(f"/api/v1/sites/{s.id}/gates/{g.id}/parking",
                                  json={"parking": p["id"]})
                        if r.status_code >= 300:
                            return r, site
        return r, site
    parking = p.get("parking")
    if action == "add_spaces":
        return c.post(f"/api/v1/parkings/{parking}/spaces", json=keep), site
    if action == "add_tariff":
        return c.post(f"/api/v1/parkings/{parking}/tariffs", json=keep), site
    if action == "activate_parking":
        return c.post(f"/api/v1/parkings/{parking}/activate"), site
    if action == "create_subscription":
        body = {**keep, "vehicles": [v if isinstance(v, dict) else {"vrn": v}
                                     for v in keep.get("vehicles", [])]}
        body.setdefault("owner", p.get("ref", "resident"))
        resident, pay = body.pop("resident", False), body.pop("pay", True)
        if resident:  # in the app: a draft, then the provider's payment page
            r = c.post(f"/api/v1/parkings/{parking}/subscriptions/resident", json=body)
            if r.status_code < 300 and pay:
                httpx.post(r.json()["payment"]["pay_url"], timeout=10).raise_for_status()
                got = c.get(f"/api/v1/subscriptions/{r.json()['id']}").json()
                version = c.get(f"/api/v1/sites/{site}/rules").json()["version"]
                r = httpx.Response(201, json={**got, "rules_version": version, "site": site})
        else:
            r = c.post(f"/api/v1/parkings/{parking}/subscriptions", json=body)
        if r.status_code < 300:
            run.refs[p["ref"]] = r.json()["id"]
        return r, site
    if action == "extend_subscription":
        r = c.post(f"/api/v1/subscriptions/{_sub(run, p)}/extend", json=keep)
        if r.status_code < 300 and p.get("new_ref"):
            run.refs[p["new_ref"]] = r.json()["id"]
        return r, site
    if action == "deactivate_subscription":
        return c.post(f"/api/v1/subscriptions/{_sub(run, p)}/deactivate", json=keep), site
    if action == "pay_debt":
        return c.post(f"/api/v1/subscriptions/{_sub(run, p)}/pay-debt", json=keep), site
    if action == "set_presence":
        return c.put(f"/api/v1/parkings/{parking}/presence/{p['vrn']}",
                     json={"inside": p["inside"]}), site
    if action == "set_users":
        return c.put(f"/api/v1/subscriptions/{_sub(run, p)}/users",
                     json={"users": p.get("users", [])}), site
    raise KeyError(action)


def check_parking(run: Run, subscription: dict[str, Any] | None,
                  space: dict[str, Any] | None, got: dict[str, Any]) -> bool:
    """Compare a subscription's status/debt/refund and a space's status with the cloud's."""
    c = run.stack.cloud
    ok = True
    c.post("/api/v1/jobs/transitions")
    if subscription:
        want = {k: v for k, v in subscription.items() if k != "ref"}
        s = c.get(f"/api/v1/subscriptions/{_sub(run, subscription)}").json()
        have = {k: s.get(k) for k in want}
        got["subscription"] = have
        ok &= have == want
    if space:
        spaces = c.get(f"/api/v1/parkings/{space['parking']}/spaces").json()["spaces"]
        number: dict[str, Any] = next((x for x in spaces if x["number"] == space["number"]), {})
        got["space"] = {"number": space["number"], "status": number.get("status")}
        ok &= number.get("status") == space["status"]
    return bool(ok)

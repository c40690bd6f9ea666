"""The ``cloud:`` set-up of a scenario: sites, gates, vehicles, tags, schedules and panel
accounts created through the cloud API before the first step, then the edge awaited."""

from __future__ import annotations

from typing import Any

from gatepost.scenario.base import ScenarioError
from gatepost.scenario.context import Run
from gatepost.scenario.steps.codes import setup_codes
from gatepost.scenario.steps.partners import setup_partners
from gatepost.scenario.steps.residents import setup_residents


def setup(run: Run) -> None:
    """Create sites, gates, vehicles, tags, schedules, residents, stickers and accounts through
    the cloud API; wait for the edge."""
    c = run.stack.cloud
    versions: dict[str, int] = {}

    def send(method: str, url: str, **kw: Any) -> dict:
        r = c.request(method, url, **kw)
        if r.status_code >= 300:
            raise ScenarioError(f"set-up {url} refused: {r.status_code} {r.text}")
        data = r.json()
        if "rules_version" in data:
            versions[data.get("site", "")] = data["rules_version"]
        return data

    def post(url: str, body: dict | None = None) -> dict:
        return send("POST", url, json=body)

    def put(url: str, body: dict) -> dict:
        return send("PUT", url, json=body)

    for s in run.sc.all_sites:
        post("/api/v1/sites", {"id": s.id, "name": s.name or s.id, "timezone": s.timezone,
                               **{k: v for k in ("country", "locale", "currency")
                                  if (v := getattr(s, k)) is not None}})
        for g in s.gates:
            post(f"/api/v1/sites/{s.id}/gates", {"id": g.id, "direction": g.direction.value,
                                                "name": g.name})
    for v in run.sc.cloud.vehicles:
        post(f"/api/v1/sites/{v.site or run.sites[0]}/vehicles",
             {"vrn": v.vrn, "type": v.type, "flat": v.flat})
    for t in run.sc.cloud.tags:
        body = {"epc": t.epc, "vrn": t.vrn, "status": t.status,
                "vehicle_type": t.vehicle_type}
        post(f"/api/v1/sites/{t.site or run.sites[0]}/tags", body)
        if t.locked:
            post(f"/api/v1/tags/{t.epc}/lock",
                 {"until": t.locked_until.isoformat() if t.locked_until else None})
    for sd in run.sc.cloud.schedules:
        base = f"/api/v1/sites/{sd.site or run.sites[0]}"
        put(f"{base}/schedules/{sd.name}", {"windows": sd.windows, "holidays": sd.holidays,
                                            "label": sd.label})
        if sd.vehicles or sd.tags:
            post(f"{base}/schedule-bindings", {"schedule": sd.name, "vehicles": sd.vehicles,
                                               "tags": sd.tags})
    setup_residents(run, send)
    setup_partners(run, send)
    setup_codes(run, send)
    for a in run.sc.cloud.accounts:
        post(f"/api/v1/sites/{a.site or run.sites[0]}/accounts",
             {"username": a.username, "role": a.role, "password": a.password})
    for site, version in versions.items():
        run.stack.wait_edge_version(site, version, 10)

"""The ``cloud`` step: staff change the rules through the cloud API (``cloud: {ACTION:
{…}}``); a change the gates need is then waited for at the edge, as in production it would
arrive within ``SYNC_TIMEOUT_S``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gatepost.scenario.base import CloudExpect, ScenarioError, check
from gatepost.scenario.context import Run
from gatepost.scenario.registry import step
from gatepost.scenario.steps.parking import PARKING_ACTIONS, parking_action
from gatepost.scenario.steps.schedules import SCHEDULE_ACTIONS, schedule_action
from shared.clock import FileClock, parse_duration

CLOUD_ACTIONS = ("add_vehicle", "remove_vehicle", "add_tag", "block_tag", "activate_tag",
                 "move_tag",
                 "lock_tag", "unlock_tag", "remove_tag", *PARKING_ACTIONS, *SCHEDULE_ACTIONS)


def _one_known(spec: dict[str, dict[str, Any]]) -> None:
    if len(spec) != 1:
        raise ValueError("a cloud step names exactly one action")
    action = next(iter(spec))
    if action not in CLOUD_ACTIONS:
        raise ValueError(f"unknown cloud action {action!r}; known: {', '.join(CLOUD_ACTIONS)}")


@step("cloud", dict[str, dict[str, Any]], expect=CloudExpect, check=_one_known)
def cloud(run: Run, spec: dict[str, dict[str, Any]], expect: dict[str, Any] | None
          ) -> dict[str, Any]:
    """One change through the cloud API; what it answered, once the edge holds it."""
    action, p = next(iter(spec.items()))
    site = p.get("site") or run.sites[0]
    epc = p.get("epc", "")
    c = run.stack.cloud
    if action in PARKING_ACTIONS:
        try:
            r, site = parking_action(run, action, p)
        except (KeyError, ScenarioError) as exc:
            return {"action": "cloud", "cloud_action": action, "errors": [str(exc)]}
    elif action in SCHEDULE_ACTIONS:
        try:
            r = schedule_action(run, action, p)
        except (KeyError, ScenarioError) as exc:
            return {"action": "cloud", "cloud_action": action, "errors": [str(exc)]}
    elif action == "add_vehicle":
        r = c.post(f"/api/v1/sites/{site}/vehicles", json={"vrn": p["vrn"],
                                                           "type": p.get("type", "4W")})
    elif action == "remove_vehicle":
        r = c.delete(f"/api/v1/sites/{site}/vehicles/{p['vrn']}")
    elif action == "add_tag":
        r = c.post(f"/api/v1/sites/{site}/tags", json={
            k: p[k] for k in ("epc", "vrn", "status", "vehicle_type") if k in p})
    elif action == "lock_tag":
        until = p.get("until")
        if isinstance(until, datetime):
            until = until.isoformat()
        elif isinstance(until, str):
            try:  # a duration from the virtual now, e.g. "2h"
                until = (FileClock(run.stack.clock_file).now()
                         + parse_duration(until)).isoformat()
            except ValueError:
                pass  # an ISO time
        r = c.post(f"/api/v1/tags/{epc}/lock", json={"until": until})
    elif action == "activate_tag":
        r = c.post(f"/api/v1/tags/{epc}/activate", json={"vrn": p.get("vrn")})
    elif action == "move_tag":
        r = c.post(f"/api/v1/tags/{epc}/move", json={"vrn": p.get("vrn"),
                                                      "reason": p.get("reason", "")})
    elif action == "remove_tag":
        r = c.delete(f"/api/v1/tags/{epc}")
    else:  # block_tag, unlock_tag
        r = c.post(f"/api/v1/tags/{epc}/{action.removesuffix('_tag')}")
    body = r.json()
    got: dict[str, Any] = {"action": "cloud", "cloud_action": action, "status": r.status_code}
    errors: list[str] = []
    if action == "create_subscription" and r.status_code < 300:
        got["subscription"] = body["id"]
    if r.status_code < 300:
        # a change gates do not need (spaces, tariffs) has no version to wait for
        version = body.get("rules_version")
        if version is not None:
            got["rules_version"] = version
            got["site"] = body.get("site", site)
        errors += run.wait_synced(got)
    else:
        got["reason"] = body.get("detail", {}).get("reason") if isinstance(
            body.get("detail"), dict) else None
        got["message"] = body.get("detail")
        if expect is None:
            errors.append(f"cloud refused {action}: {r.status_code} {body.get('detail')}")
    return {**got, "errors": errors + check(expect, got)}

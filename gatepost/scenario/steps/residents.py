"""Residents in scenarios: the ``cloud:`` set-up's ``residents`` (each with an app key) and
``stickers``, the vehicle registry's vehicles (``registry:`` at the top) and knobs (a
``registry: {mode, delay_s, which?}`` step), and the ``resident`` step, the resident's app:
``resident: {who: REF, add: {vrn, site?}}``, ``activate`` or ``replace_tag: {vrn, tag_id,
secret}``, ``lock: {vrn, until?}``, ``unlock: {vrn}``, ``lost: {vrn}``, ``opt_in: {vrn}`` or
``opt_out: {vrn}`` (the society's partner app). A resident step that changes rules waits, as a
cloud step does, until the edge holds the new version, and fails if that takes over 1 s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import Field, model_validator

from gatepost.scenario.base import CloudExpect, Model, check
from gatepost.scenario.context import Run
from gatepost.scenario.registry import step

STICKER_HEADER = "tag_id,secret,epc,vehicle_type,kind\n"
RESIDENT_ACTIONS = ("add", "activate", "replace_tag", "lock", "unlock", "lost", "opt_in",
                    "opt_out")


class ResidentStep(Model):
    who: str
    add: dict[str, Any] | None = Field(None, description="{vrn, site?}")
    activate: dict[str, Any] | None = Field(None, description="{vrn, tag_id, secret}")
    replace_tag: dict[str, Any] | None = Field(None, description="{vrn, tag_id, secret}")
    lock: dict[str, Any] | None = Field(None, description="{vrn, until?}")
    unlock: dict[str, Any] | None = Field(None, description="{vrn}")
    lost: dict[str, Any] | None = Field(None, description="{vrn}")
    opt_in: dict[str, Any] | None = Field(None, description="{vrn}")
    opt_out: dict[str, Any] | None = Field(None, description="{vrn}")

    @model_validator(mode="after")
    def _one(self) -> ResidentStep:
        done = [k for k in RESIDENT_ACTIONS if getattr(self, k) is not None]
        if len(done) != 1:
            raise ValueError(f"a resident step does one thing of {', '.join(RESIDENT_ACTIONS)}")
        return self


class RegistryStep(Model):
    mode: Literal["ok", "down", "slow", "malformed"]
    delay_s: float = 0.0
    which: Literal["vehicles", "fastags"] = "vehicles"


def setup_residents(run: Run, send: Callable[..., dict[str, Any]]) -> None:
    """Registry vehicles, residents (and their app keys) and stickers, before the first step;
    *send* is the set-up's ``(method, url, **httpx arguments) → answer``."""
    sc, setup = run.sc, run.sc.cloud
    for v in sc.registry.vehicles:
        run.stack.registry.add(v.vrn, v.type, v.make, v.model)
    for f in sc.registry.fastags:
        run.stack.fastags.issue(f.vrn, f.epc, f.status)
    for r in setup.residents:
        got = send("POST", "/api/v1/residents", json={
            "phone": r.phone, "name": r.name, "flats": [f.model_dump() for f in r.flats]})
        key = send("POST", f"/api/v1/residents/{got['id']}/keys")["key"]
        run.resident_apps[r.ref] = httpx.Client(base_url=str(run.stack.cloud.base_url),
                                                timeout=30, headers={"X-Api-Key": key})
    by_site: dict[str, list[str]] = {}
    for s in setup.stickers:
        by_site.setdefault(s.site or run.sites[0], []).append(
            f"{s.tag_id},{s.secret},{s.epc},{s.vehicle_type},{s.kind}")
    for site, rows in by_site.items():
        send("POST", f"/api/v1/sites/{site}/tags/import",
             content=STICKER_HEADER + "\n".join(rows) + "\n",
             headers={"Content-Type": "text/csv"})


def resident_step(run: Run, step: ResidentStep) -> dict[str, Any]:
    """One call of a resident's app; what it answered."""
    app = run.resident_apps.get(step.who)
    if app is None:
        return {"action": "resident", "errors": [f"no resident {step.who!r} in cloud.residents"]}
    if step.add is not None:
        what, r = "add", app.post("/api/v1/me/vehicles", json=step.add)
    elif step.activate is not None:
        what, r = "activate", app.post("/api/v1/me/tags/activate", json=step.activate)
    elif step.replace_tag is not None:
        what, r = "replace_tag", app.post("/api/v1/me/tags/replace", json=step.replace_tag)
    elif step.opt_in is not None or step.opt_out is not None:
        what = "opt_in" if step.opt_in is not None else "opt_out"
        p = step.opt_in or step.opt_out or {}
        r = app.put(f"/api/v1/me/vehicles/{p['vrn']}/partner", json={"opted_in": what == "opt_in"})
    else:
        what, p = next((k, v) for k in ("lock", "unlock", "lost")
                       if (v := getattr(step, k)) is not None)
        body = {"until": p["until"]} if what == "lock" and p.get("until") else None
        r = app.post(f"/api/v1/me/vehicles/{p['vrn']}/{what}", json=body)
    got, body = app_answer("resident", step.who, what, r)
    if r.status_code >= 300:
        return got
    got.update({k: body[k] for k in ("vrn", "site", "epc", "next", "rules_version")
                if k in body})
    if isinstance(body.get("partner"), dict):  # an activation at a society with a partner
        got["partner"] = body["partner"]["state"]
        got["partner_reason"] = body["partner"].get("reason")
    elif what in ("opt_in", "opt_out"):
        got["partner"] = body.get("state")
        got["partner_reason"] = body.get("reason")
    return got


def app_answer(action: str, who: str, what: str, r: httpx.Response
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A step's line for an answer of the resident app, and the answer's body: its status,
    and its refusal's reason when it refused."""
    body = r.json()
    got: dict[str, Any] = {"action": action, "who": who, "what": what, "status": r.status_code}
    if r.status_code >= 300:
        detail = body.get("detail")
        got["reason"] = detail.get("reason") if isinstance(detail, dict) else None
    return got, body


def registry_step(run: Run, mode: str, delay_s: float,
                  which: str = "vehicles") -> dict[str, Any]:
    """Turn a registry's knob (the vehicle registry's, or the FASTag registry's)."""
    sim = run.stack.registry if which == "vehicles" else run.stack.fastags
    sim.mode = mode  # type: ignore[assignment]
    sim.delay_s = delay_s
    return {"action": "registry", "which": which, "mode": mode}


@step("resident", ResidentStep, expect=CloudExpect)
def resident(run: Run, spec: ResidentStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """The resident does one thing in the app; what it answered, once the edge holds it."""
    got = resident_step(run, spec)
    errors = got.pop("errors", []) + run.wait_synced(got)
    return {**got, "errors": errors + check(expect, got)}


@step("registry", RegistryStep)
def registry(run: Run, spec: RegistryStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """The vehicle or FASTag registry's knobs: up, down, slow or malformed."""
    return registry_step(run, spec.mode, spec.delay_s, spec.which)

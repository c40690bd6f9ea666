"""The ``guard`` step: a guard signs in to the edge's panel over HTTP, as a browser would
(CSRF token and session cookie), and opens a gate with a reason."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gatepost.scenario.base import Model, check
from gatepost.scenario.context import Run
from gatepost.scenario.panel import NOTHING, csrf, decided, signed_in
from gatepost.scenario.registry import step


class GuardStep(Model):
    open: str = Field(description="the gate the guard opens from the panel")
    reason: str = Field(description="why (one of the panel's reasons or free text)")
    user: str = Field("guard", description="the guard's account (created in the cloud and "
                      "synced to the box on first use)")
    vehicle: str | None = None


class GuardExpect(Model):
    decision: Literal["open", "deny", "none"] | None = None
    reason: str | None = None
    barrier_opened: bool | None = None
    status: int | None = None


@step("guard", GuardStep, expect=GuardExpect)
def guard(run: Run, spec: GuardStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """A guard opens a gate from the panel; what the gate did."""
    got = _open(run, spec)
    return {"action": "guard", **got, "errors": check(expect, got)}


def _open(run: Run, spec: GuardStep) -> dict[str, Any]:
    site = run.site_of_gate[spec.open]
    c = signed_in(run, site, spec.user)
    cursor = run.stack.edge_last_event()
    live = c.get("/")
    r = c.post(f"/gates/{spec.open}/open", data={"csrf": csrf(live.text), "reason": spec.reason,
                                                  "vrn": spec.vehicle or ""})
    out: dict[str, Any] = {"gate": spec.open, "status": r.status_code, "user": spec.user}
    if r.status_code != 303:
        return {**out, **NOTHING}
    got, d = decided(run, cursor, lambda e: e["credential"]["kind"] == "guard"
                     and e["credential"]["value"] == spec.user)
    return {**out, **got, "guard": d.get("guard")} if d is not None else {**out, **got}

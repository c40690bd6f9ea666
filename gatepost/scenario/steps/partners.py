"""Partner apps in scenarios: the ``cloud:`` set-up's ``partners`` (a society integrated with
the stack's partner simulator, which learns the society's signing secret and so refuses calls
not signed with it), the simulator's users (``partner: {users}`` at the top), the ``partner:
{mode, delay_s}`` knob, and ``expect_partner: {received, vrn?, kind?, partner?}``: the events
the partner holds that match, exactly, once the cloud has forwarded what it has. A resident
step's ``expect`` tells a link's state (``partner``) and, for ``user_not_found``, its cause
(``partner_reason``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from gatepost.devstack.stack import wait_until
from gatepost.scenario.base import Duration, Model
from gatepost.scenario.context import Run
from gatepost.scenario.registry import step


class PartnerStep(Model):
    mode: Literal["ok", "down", "slow", "error"]
    delay_s: float = 0.0


class PartnerExpectStep(Model):
    received: int = Field(ge=0, description="events the partner holds that match")
    vrn: str | None = None
    kind: Literal["entry", "exit"] | None = None
    partner: str | None = None
    within: Duration = 10.0


def setup_partners(run: Run, send: Callable[..., dict[str, Any]]) -> None:
    """The simulator's users and each society's integration, before the first step."""
    sim = run.stack.partner
    for u in run.sc.partner.users:
        sim.set_user(u.phone, u.outcome, u.partner)
    for p in run.sc.cloud.partners:
        body = {"partner": p.partner, "endpoint": sim.endpoint(p.partner),
                "credential": sim.token} | ({"mode": p.mode} if p.mode else {})
        site = p.site or run.sites[0]
        got = send("PUT", f"/api/v1/sites/{site}/partner", json=body)
        sim.set_secret(p.partner, site, got["signing_secret"])


def partner_step(run: Run, mode: str, delay_s: float) -> dict[str, Any]:
    """Turn the partner simulator's knob."""
    run.stack.partner.mode = mode  # type: ignore[assignment]
    run.stack.partner.delay_s = delay_s
    return {"action": "partner", "mode": mode}


def expect_partner(run: Run, e: PartnerExpectStep) -> dict[str, Any]:
    """Forward what the cloud holds (as its job would), until the partner has the events
    expected; then once more, and the count must still be exact (nothing doubled)."""
    sim = run.stack.partner

    def held() -> int:
        return sum(1 for ev in sim.events(e.partner, e.vrn)
                   if e.kind is None or ev.get("direction") == e.kind)

    def forwarded() -> bool:
        run.stack.cloud.post("/api/v1/jobs/partner-forward").raise_for_status()
        return held() >= e.received

    got: dict[str, Any] = {"action": "expect_partner"}
    try:
        wait_until(forwarded, float(e.within), interval=0.2, what="the partner's events")
    except TimeoutError:
        pass
    forwarded()
    got["received"] = held()
    if got["received"] != e.received:
        got["errors"] = [f"expected the partner to hold {e.received} events "
                         f"{e.model_dump(exclude_none=True, exclude={'within', 'received'})}, "
                         f"it holds {got['received']}"]
    return got


@step("partner", PartnerStep)
def partner(run: Run, spec: PartnerStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """The partner simulator's knob: up, down, slow or answering errors."""
    return partner_step(run, spec.mode, spec.delay_s)


@step("expect_partner", PartnerExpectStep)
def expect_partner_step(run: Run, spec: PartnerExpectStep, expect: dict[str, Any] | None
                        ) -> dict[str, Any]:
    """Wait until the partner holds exactly the events that match."""
    return expect_partner(run, spec)

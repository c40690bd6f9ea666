"""The ``expect_cloud`` step: wait until what the cloud stored matches (decisions and events
counted, every event the edge issued stored exactly once and acted on, a subscription's or a
space's state)."""

from __future__ import annotations

from typing import Any, Literal

from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field

from gatepost.devstack.stack import wait_until
from gatepost.scenario.base import Duration, Model, ScenarioError
from gatepost.scenario.context import Run
from gatepost.scenario.registry import step
from gatepost.scenario.steps.parking import check_parking


class CloudExpectStored(Model):
    decisions: dict[Literal["open", "deny"], int] | None = None
    events: dict[Literal["read", "decision", "open", "pass", "fault", "alert", "presence",
                         "open_unconfirmed", "hold"], int] | None = None
    complete: bool | None = Field(None, description="every event the edge issued is stored "
                                  "exactly once, its outbox is empty, and the cloud's reactions "
                                  "to stored events (presence, passes spent, …) are done")
    within: Duration = 10.0
    site: str | None = None
    subscription: dict[str, Any] | None = Field(None, description="{ref, status?, debt?, "
                                                "refund?, standing?}")
    space: dict[str, Any] | None = Field(None, description="{parking, number, status}")


@step("expect_cloud", CloudExpectStored)
def expect_cloud(run: Run, e: CloudExpectStored, expect: dict[str, Any] | None
                 ) -> dict[str, Any]:
    """Wait until the cloud's stored events (and parking) match."""
    sites = [e.site] if e.site else run.sites
    got: dict[str, Any] = {}

    def matches() -> bool:
        got.clear()
        decisions: dict[str, int] = {}
        types: dict[str, int] = {}
        gates: dict[str, dict] = {}
        for s in sites:
            summ = run.stack.cloud.get(f"/api/v1/sites/{s}/events/summary").json()
            for k, v in summ["decisions"].items():
                decisions[k] = decisions.get(k, 0) + v
            for k, v in summ["types"].items():
                types[k] = types.get(k, 0) + v
            gates.update(summ["gates"])
        ok = True
        if e.decisions is not None:
            got["decisions"] = decisions
            ok &= all(decisions.get(k, 0) == v for k, v in e.decisions.items())
        if e.events is not None:
            got["events"] = types
            ok &= all(types.get(k, 0) == v for k, v in e.events.items())
        if e.subscription or e.space:
            ok &= check_parking(run, e.subscription, e.space, got)
        if e.complete:
            h = run.stack.edge_health()
            issued = {g: s for g, s in h["last_seq"].items()
                      if run.site_of_gate.get(g) in sites}
            got["issued"], got["stored"], got["outbox"] = issued, gates, h["outbox"]
            ok &= h["outbox"] == 0 and all(
                gates.get(g, {}).get("count") == n and gates.get(g, {}).get("max_seq") == n
                for g, n in issued.items())
            # A stored event's reactions (a vehicle put inside, a pass spent) follow in their
            # own transactions: staff act on what the cloud knows once they are done.
            got["reactions"] = reactions = queued_reactions(run)
            ok &= reactions.get("waiting", 0) == 0 and reactions.get("failing", 0) == 0
        return bool(ok)

    try:
        wait_until(matches, float(e.within), interval=0.1, what="the cloud's events")
        return {"action": "expect_cloud", **got}
    except ScenarioError as exc:
        return {"action": "expect_cloud", **got, "errors": [str(exc)]}
    except TimeoutError:
        want = e.model_dump(exclude_none=True, exclude={"within", "site"})
        return {"action": "expect_cloud", **got,
                "errors": [f"expected {want}, cloud has {got}"]}


def queued_reactions(run: Run) -> dict[str, float]:
    """The cloud's reactions to stored events still queued, by state (``waiting``,
    ``failing``, ``parked``): its ``gatepost_cloud_reactions_queued`` gauge."""
    r = run.stack.cloud.get("/metrics")
    r.raise_for_status()
    return {s.labels["state"]: s.value for f in text_string_to_metric_families(r.text)
            if f.name == "gatepost_cloud_reactions_queued" for s in f.samples}

"""A boom that does not rise after a good pulse raises ``barrier_failed``, on the panel and in
the cloud (the real stack: the simulated boom is held by its STOP input)."""

from __future__ import annotations

import pytest

from gatepost.devstack.stack import GateSpec, StackOptions, wait_until

pytestmark = pytest.mark.stack
SITE = "green-acres"
EPC = "E2801160600002040000AB01"
OTHER = "E2801160600002040000AB02"


@pytest.mark.timeout(120)
def test_boom_that_never_rises_raises_barrier_failed(make_stack):
    stack = make_stack([GateSpec("main-in", SITE, "entry")],
                       StackOptions(policy={"open_confirm_s": 1.0}))
    c = stack.cloud
    c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/gates", json={"id": "main-in", "direction": "entry"}
           ).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": "MH12AB1234"}).raise_for_status()
    for epc in (EPC, OTHER):
        v = c.post(f"/api/v1/sites/{SITE}/tags", json={"epc": epc, "vrn": "MH12AB1234",
                                                       "status": "active"}).json()
    stack.wait_edge_version(SITE, v["rules_version"], 10)
    gate = stack.world.gates["main-in"]
    # A boom that rises raises nothing, even once the confirmation time has long passed.
    result = stack.world.vehicle("main-in", OTHER, drive_through=False)
    assert result.opened
    wait_until(lambda: gate.boom.snapshot().closed_limit, 15, what="the boom to close")
    assert "alert_barrier_failed" not in stack.edge_health()["counters"]
    gate.boom.set_stop(True)  # jammed: the contact closes, the boom stays down
    cursor = stack.edge_last_event()
    gate.reader.push_once(EPC)
    alert = None

    def raised() -> bool:
        nonlocal alert, cursor
        events, cursor = stack.edge_events_after(cursor, wait=0.5)
        alert = next((e for e in events if e["type"] == "alert"), alert)
        return alert is not None

    wait_until(raised, 10, what="a barrier_failed alert")
    assert alert is not None and alert["alert"] == "barrier_failed"
    assert alert["detail"] == "the boom did not reach its open limit"
    assert gate.board.pulses, "the relay was pulsed"

    def in_cloud() -> bool:
        got = c.get("/api/v1/events", params={"site": SITE, "type": "alert"}).json()
        return any(e["data"]["alert"] == "barrier_failed" for e in got["events"])

    wait_until(in_cloud, 10, what="the alert in the cloud")
    assert stack.edge_health()["counters"]["alert_barrier_failed"] == 1

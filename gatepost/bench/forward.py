"""The forwarding part of ``gatepost bench onboarding``: a society integrated with MyGate (the
partner simulator, in this process), its residents' vehicles connected on activation and every
fourth one opted out; then, with the partner **down**, the gate's box publishes ``events`` pass
events over Mosquitto as a real box does (``EventBatch`` at QoS 1, with the box's own broker
user, for its own gate), the cloud stores them and queues the connected vehicles' ones in the
same transaction; the partner stays down ``down_s`` more seconds while the cloud's job tries and
backs off, then comes back. Measured: events forwarded (exactly once: each expected key once,
none for an opted-out vehicle, in order per vehicle), the partner's duplicate posts, the time
from the partner's return to the last event, and the drain rate (events/s from the first event
to arrive after the return to the last), next to a ceiling measured in the same run: the same
number of events posted one by one straight to the simulator from this process
(``partner_ceiling_events_per_s``), since the cloud's delivery is one request at a time too.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import paho.mqtt.client as mqtt

from cloud.society.provision import edge_user
from gatepost.devstack.stack import Stack, wait_until
from shared.clock import FileClock
from shared.contract import MAX_BATCH_EVENTS, Topics

FIRST_SEQ = 1_000_000  # far past the gate's own events


def integrate(stack: Stack, site: str, phone: str) -> None:
    """The society integrated with MyGate (opt-out mode); the resident's phone has the app."""
    stack.partner.set_user(phone, "connected")
    stack.cloud.put(f"/api/v1/sites/{site}/partner", json={
        "partner": "mygate", "endpoint": stack.partner.endpoint("mygate"),
        "credential": stack.partner.token}).raise_for_status()


def _publish(stack: Stack, site: str, vrns: list[str], n: int) -> dict[str, list[int]]:
    """*n* passes through gate main-in, round robin over *vrns*; the seqs of each VRN."""
    edge = stack.opt.edge_id
    user = edge_user(edge)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{edge}-bench",
                         protocol=mqtt.MQTTv311)
    client.username_pw_set(user, stack.auth.passwords[user])
    client.connect("127.0.0.1", stack.broker.port)
    client.loop_start()
    # The stack's time: a pass is forwarded as its vehicle's link stood when the car passed.
    at = FileClock(stack.clock_file).now()
    seqs: dict[str, list[int]] = {}
    try:
        for first in range(0, n, MAX_BATCH_EVENTS):
            events = []
            for i in range(first, min(n, first + MAX_BATCH_EVENTS)):
                vrn, seq = vrns[i % len(vrns)], FIRST_SEQ + i
                seqs.setdefault(vrn, []).append(seq)
                events.append({"id": f"main-in:{seq}", "type": "pass", "site": site,
                               "edge": edge, "gate": "main-in", "seq": seq,
                               "at": (at + timedelta(seconds=i)).isoformat(),
                               "data": {"vrn": vrn, "direction": "entry" if i % 2 == 0
                                        else "exit", "attributed": True}})
            info = client.publish(Topics.edge_events(edge), json.dumps(
                {"type": "events", "events": events}), qos=1)
            info.wait_for_publish(30)
    finally:
        client.loop_stop()
        client.disconnect()
    return seqs


def _ceiling(stack: Stack, n: int) -> float:
    """Events per second the partner simulator takes from one client posting one at a time."""
    import httpx

    sim = stack.partner
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {sim.token}"}) as c:
        t0 = time.monotonic()
        for i in range(n):
            c.post(f"{sim.endpoint('zipgrid')}/v1/events", headers={
                "Idempotency-Key": f"ceiling:{i}"}, json={"id": f"ceiling:{i}", "vrn": "X"}
                   ).raise_for_status()
        return n / (time.monotonic() - t0)


def _stored_passes(stack: Stack, site: str) -> int:
    summary = stack.cloud.get(f"/api/v1/sites/{site}/events/summary").json()
    return int(summary["types"].get("pass", 0))


def measure(stack: Stack, site: str, key: str, vrns: list[str], events: int,
            down_s: float) -> dict[str, Any]:
    """Opt out every fourth vehicle, take the partner down, publish, bring it back; the
    figures."""
    import httpx

    app = httpx.Client(base_url=str(stack.cloud.base_url), timeout=30,
                       headers={"X-Api-Key": key})
    opted_out = set(vrns[::4])
    for vrn in opted_out:
        app.put(f"/api/v1/me/vehicles/{vrn}/partner", json={"opted_in": False}
                ).raise_for_status()
    app.close()
    sim = stack.partner
    sim.mode = "down"
    before = _stored_passes(stack, site)
    seqs = _publish(stack, site, vrns, events)
    wait_until(lambda: _stored_passes(stack, site) >= before + events, 120,
               what="the cloud to store the passes")
    time.sleep(down_s)  # the outage itself: the partner stays down while the job backs off
    expected = {f"{site}:{stack.opt.edge_id}:main-in:{s}"
                for vrn, ss in seqs.items() if vrn not in opted_out for s in ss}
    received_before = len(sim.events("mygate"))
    sim.mode = "ok"
    t_up = time.monotonic()
    wait_until(lambda: len(sim.events("mygate")) - received_before >= len(expected), 300,
               interval=0.05, what="the partner to receive every event")
    got = sim.events("mygate")[received_before:]
    arrivals = sim.arrivals[received_before:]
    keys = [e["key"] for e in got]
    last: dict[str, int] = {}
    out_of_order = 0
    for e in got:
        seq = int(e["key"].rsplit(":", 1)[1])
        out_of_order += seq < last.get(e["vrn"], 0)
        last[e["vrn"]] = seq
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    ceiling = _ceiling(stack, min(len(expected), 2000))
    return {"events": events, "vehicles": len(vrns), "opted_out_vehicles": len(opted_out),
            "expected": len(expected), "forwarded": len(set(keys) & expected),
            "missing": len(expected - set(keys)), "unexpected": len(set(keys) - expected),
            "opted_out_received": sum(e["vrn"] in opted_out for e in got),
            "duplicate_posts": sim.duplicates, "out_of_order": out_of_order,
            "partner_down_s": down_s,
            "recovery_s": round(arrivals[-1] - t_up, 2) if arrivals else None,
            "drain_events_per_s": round(len(arrivals) / span, 1) if span else None,
            "partner_ceiling_events_per_s": round(ceiling, 1)}

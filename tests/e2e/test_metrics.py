"""Prometheus metrics on the real stack: the edge's after a tag opened the gate through the
simulated relay board, and the cloud's after it stored the events and made a rules change."""

from __future__ import annotations

import httpx
import pytest

from gatepost.devstack.stack import GateSpec, wait_until
from tests.factories import metric_samples

pytestmark = pytest.mark.stack
SITE = "green-acres"
EPC = "E2801160600002040000AB01"


@pytest.mark.timeout(120)
def test_edge_and_cloud_metrics_after_an_open(make_stack):
    stack = make_stack([GateSpec("main-in", SITE, "entry")])
    c = stack.cloud
    v = stack.site_with_tag(SITE, EPC)
    stack.world.gates["main-in"].reader.push_once(EPC)

    def edge() -> dict:
        return metric_samples(stack.edge.get("/metrics").text)

    count = ("gatepost_edge_open_latency_seconds_count", (("gate", "main-in"),))
    wait_until(lambda: edge().get(count) == 1, 15, what="the open's latency observed")
    m = edge()
    assert m[("gatepost_edge_decisions_total", (("gate", "main-in"), ("kind", "tag"),
                                                ("outcome", "open"),
                                                ("reason", "tag_valid")))] == 1
    assert 0 < m[("gatepost_edge_open_latency_seconds_sum", (("gate", "main-in"),))] < 1
    assert m[("gatepost_edge_relay_up", (("gate", "main-in"),))] == 1
    assert m[("gatepost_edge_reader_up", (("gate", "main-in"),))] == 1
    assert m[("gatepost_edge_reader_frames_total", (("reader", "main-in"),))] >= 1
    assert m[("gatepost_edge_cloud_connected", ())] == 1
    assert m[("gatepost_edge_rules_version", (("site", SITE),))] == v
    epoch = c.get("/api/v1/health").json()["rules_epoch"]
    assert m[("gatepost_edge_rules_epoch_info", (("epoch", epoch), ("site", SITE)))] == 1

    # The cloud's: a key that may read is needed.
    assert httpx.get(f"http://127.0.0.1:{stack.cloud_port}/metrics").status_code == 401

    def cloud() -> dict:
        r = c.get("/metrics")
        assert r.status_code == 200
        return metric_samples(r.text)

    issued = sum(stack.edge_health()["last_seq"].values())
    wait_until(lambda: cloud()[("gatepost_cloud_events_stored_total", ())] >= issued, 15,
               what="the box's events stored")
    cm = cloud()
    assert cm[("gatepost_cloud_event_ack_seconds_count", ())] >= issued
    assert cm[("gatepost_cloud_rules_changes_total", ())] == v  # the vehicle, the tag
    assert cm[("gatepost_cloud_mqtt_connected", ())] == 1
    assert cm[("gatepost_cloud_events_duplicate_total", ())] == 0
    assert ("gatepost_cloud_notifications_pending", ()) in cm

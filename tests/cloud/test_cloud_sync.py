"""Rule sync and event ingest over a real Mosquitto, with the cloud served over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import httpx
import paho.mqtt.client as mqtt
import pytest

from cloud.app import create_app
from cloud.settings import CloudSettings
from edge.adapters.cloud_link import CloudLink
from edge.store.cache import RulesCache
from edge.store.db import EdgeDB
from edge.store.outbox import Outbox
from gatepost.devstack.stack import wait_until
from shared.clock import SystemClock
from shared.contract import Event, EventBatch, RulesDelta, Topics
from shared.vocab import EventType
from shared.webthread import WebThread

SITE = "green-acres"
EPC = "E2801160600002040000AB01"


@pytest.fixture
def cloud(cloud_db, broker):
    app = create_app(CloudSettings(db=cloud_db, mqtt_url=broker.url,
                                   admin_key="gpk_test_admin_key"), SystemClock())
    web = WebThread(app, "127.0.0.1", 0)
    # lifespan is off in WebThread, so start the MQTT side by hand
    app.state.services.link.start(app.state.services.rules)
    web.start()
    assert app.state.services.link.connected.wait(10)
    client = httpx.Client(base_url=web.url, timeout=10,
                          headers={"X-Api-Key": "gpk_test_admin_key"})
    client.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
    client.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": "MH12AB1234"}).raise_for_status()
    app.state.edge_key = client.post("/api/v1/edges", json={"id": "box-1", "sites": [SITE]}
                                     ).json()["key"]
    yield client, app, web
    client.close()
    app.state.services.link.stop()
    web.stop()


@pytest.fixture
def edge(tmp_path, broker, cloud):
    _client, app, web = cloud
    db = EdgeDB(tmp_path / "edge.sqlite")
    cache = RulesCache(db)
    box = Outbox(db, "box-1", {"main-in": SITE})
    link = CloudLink("box-1", [SITE], mqtt_url=broker.url, http_url=web.url, outbox=box,
                     cache=cache, resend_s=1.0, api_key=app.state.edge_key)
    link.start()
    wait_until(lambda: link.subscribed.is_set() and cache.version(SITE) == 1, 10,
               what="first sync")
    yield link, cache, box
    link.stop()
    db.close()


def test_fresh_edge_loads_snapshot_then_follows_deltas_within_1s(cloud, edge):
    client, _, _ = cloud
    link, cache, _ = edge
    assert link.counters["snapshots"] >= 1
    t0 = time.monotonic()
    v = client.post(f"/api/v1/sites/{SITE}/tags", json={
        "epc": EPC, "vrn": "MH12AB1234", "status": "active"}).json()["rules_version"]
    wait_until(lambda: cache.version(SITE) == v, 1.0, interval=0.005, what="delta at the edge")
    assert time.monotonic() - t0 < 1.0
    assert cache.tag(EPC).status.value == "active"
    client.post(f"/api/v1/tags/{EPC}/block").raise_for_status()
    wait_until(lambda: cache.tag(EPC).status.value == "blocked", 1.0, interval=0.005,
               what="revocation at the edge")
    # Both changes came as deltas, not snapshots (counted just after the cache write).
    wait_until(lambda: link.counters["delta_applied"] >= 2, 1.0, what="delta counters")
    assert link.counters["snapshots"] == 1, dict(link.counters)


def test_missed_deltas_are_caught_up_by_snapshot(cloud, edge, broker):
    client, _app, _ = cloud
    link, cache, _ = edge
    link.stop()  # the edge is away while the cloud changes
    for i in range(3):
        client.post(f"/api/v1/sites/{SITE}/tags", json={"epc": f"AAAA000{i}"})
    current = client.get(f"/api/v1/sites/{SITE}/rules").json()["version"]
    assert cache.version(SITE) < current
    link2 = CloudLink("box-1", [SITE], mqtt_url=broker.url, http_url=str(client.base_url),
                      outbox=link.outbox, cache=cache, api_key=link.api_key)
    link2.start()
    try:
        wait_until(lambda: cache.version(SITE) == current, 5, what="catch-up")
        assert cache.tag("AAAA0002") is not None
    finally:
        link2.stop()


def test_events_are_stored_once_and_acknowledged(cloud, edge):
    client, _app, _ = cloud
    link, _, box = edge
    now = datetime.now(UTC)
    for i in range(20):
        box.record("main-in", EventType.DECISION, now, {"outcome": "open" if i % 2 else "deny"})
    link.notify()
    wait_until(lambda: box.size() == 0, 10, what="outbox drained")
    summary = client.get(f"/api/v1/sites/{SITE}/events/summary").json()
    assert summary["decisions"] == {"open": 10, "deny": 10}
    assert summary["gates"]["main-in"] == {"count": 20, "max_seq": 20}
    events = client.get("/api/v1/events", params={"site": SITE, "type": "decision",
                                                  "gate": "main-in", "limit": 5}).json()
    assert [e["seq"] for e in events["events"]] == [1, 2, 3, 4, 5]


def test_duplicates_and_malformed_events(cloud, broker):
    client, app, _ = cloud
    client.post("/api/v1/edges", json={"id": "box-9", "sites": [SITE]}).raise_for_status()
    acks: list[dict] = []
    got = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe")

    def on_message(cl, ud, msg):
        acks.append(json.loads(msg.payload))
        got.set()

    c.on_message = on_message
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    c.subscribe(Topics.edge_acks("box-9"), qos=1)
    ev = Event(id="main-in:1", type=EventType.READ, site=SITE, edge="box-9", gate="main-in",
               seq=1, at=datetime.now(UTC), data={})
    wait_until(lambda: c.is_connected(), 5)
    for _ in range(3):
        c.publish(Topics.edge_events("box-9"), ev.model_dump_json(), qos=1)
    c.publish(Topics.edge_events("box-9"), b"{not json", qos=1)
    c.publish(Topics.edge_events("box-9"), ev.model_copy(update={"edge": "box-8"})
              .model_dump_json(), qos=1)
    counters = app.state.services.link.counters
    wait_until(lambda: counters["stored"] + counters["duplicates"] == 3, 5, what="3 handled")
    wait_until(lambda: counters["rejected_events"] == 2, 5, what="rejections")
    assert counters["stored"] == 1 and counters["duplicates"] == 2
    # Copies that arrive together are acknowledged together, each id once per ack.
    wait_until(lambda: len(acks) >= 1, 5, what="acks")
    assert all(a["ids"] == ["main-in:1"] for a in acks)
    stored = client.get("/api/v1/events", params={"site": SITE}).json()["events"]
    assert len(stored) == 1
    c.loop_stop()
    c.disconnect()


def test_retained_delta_is_refused(cloud, edge, broker):
    client, _, _ = cloud
    link, cache, _ = edge
    held = cache.version(SITE)
    bogus = RulesDelta(site=SITE, from_version=held, to_version=held + 1, changes=[])
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="attacker")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    link.stop()
    # A new session receives a retained copy with the retain flag: refused, not applied.
    # (Live delivery to a connected subscriber carries no retain flag; keeping strangers
    # off the delta topic is the broker ACL's job.)
    pub.publish(Topics.rules_delta(SITE), bogus.model_dump_json(), qos=1,
                retain=True).wait_for_publish(5)
    link2 = CloudLink("box-1", [SITE], mqtt_url=broker.url, http_url=str(client.base_url),
                      outbox=link.outbox, cache=cache, api_key=link.api_key)
    link2.start()
    try:
        wait_until(lambda: link2.counters["rejected_messages"] >= 1, 5, what="refusal")
        assert cache.version(SITE) == held
    finally:
        pub.publish(Topics.rules_delta(SITE), b"", qos=1, retain=True).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        link2.stop()


def test_malformed_commands_are_counted_not_fatal(cloud, edge, broker):
    link, _, _ = edge
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="noise")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        for junk in (b"{not json", b"[1, 2]", b'{"no": "id"}'):
            pub.publish(Topics.edge_commands("box-1"), junk, qos=1).wait_for_publish(5)
        wait_until(lambda: link.counters["rejected_messages"] >= 3, 5, what="three rejections")
        assert link.connected
    finally:
        pub.loop_stop()
        pub.disconnect()


def test_a_sites_rules_are_for_its_own_boxes_and_device_staff_only(cloud):
    client, _app, web = cloud
    client.post("/api/v1/sites", json={"id": "other-site"}).raise_for_status()
    url = f"/api/v1/sites/{SITE}/rules"
    anonymous = httpx.get(f"{web.url}{url}", timeout=10)
    assert anonymous.status_code == 401 and "command_key" not in anonymous.text
    other_box = client.post("/api/v1/edges", json={"id": "box-2", "sites": ["other-site"]})
    other = {"Authorization": f"Bearer {other_box.json()['key']}"}
    assert httpx.get(f"{web.url}{url}", headers=other, timeout=10).status_code == 403
    assert httpx.get(f"{web.url}/api/v1/sites/other-site/rules", headers=other,
                     timeout=10).status_code == 200
    # an edge key reads rules and nothing else
    assert httpx.get(f"{web.url}/api/v1/events", headers=other, timeout=10).status_code == 403
    viewer = client.post("/api/v1/staff", json={"name": "V", "roles": ["view_parkings"]})
    assert httpx.get(f"{web.url}{url}", timeout=10, headers={
        "X-Api-Key": viewer.json()["key"]}).status_code == 403
    devices = client.post("/api/v1/staff", json={"name": "D", "roles": ["manage_devices"]})
    assert httpx.get(f"{web.url}{url}", timeout=10, headers={
        "X-Api-Key": devices.json()["key"]}).status_code == 200


def test_an_event_whose_data_does_not_fit_is_refused_alone_and_its_batch_is_stored(cloud,
                                                                                     broker):
    client, app, _ = cloud
    client.post("/api/v1/edges", json={"id": "box-9", "sites": [SITE]}).raise_for_status()
    acked: list[str] = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe-batch")
    c.on_message = lambda cl, ud, msg: acked.extend(json.loads(msg.payload)["ids"])
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    c.subscribe(Topics.edge_acks("box-9"), qos=1)
    wait_until(lambda: c.is_connected(), 5)

    def decision(seq: int, data: dict) -> str:
        return Event(id=f"main-in:{seq}", type=EventType.DECISION, site=SITE, edge="box-9",
                     gate="main-in", seq=seq, at=datetime.now(UTC), data=data
                     ).model_dump_json()

    # A newer box's outcome and direction are read; a vrn that is not text does not fit.
    batch = EventBatch.join([
        decision(1, {"outcome": "queued", "direction": "sideways", "reason": "tomorrow"}),
        decision(2, {"outcome": "deny", "vrn": 1234}),
        decision(3, {"outcome": "open", "reason": "tag_valid", "vrn": "MH12AB1234"})])
    c.publish(Topics.edge_events("box-9"), batch, qos=1)
    counters = app.state.services.link.counters
    wait_until(lambda: sorted(acked) == ["main-in:1", "main-in:3"], 5, what="the two acks")
    assert counters["stored"] == 2 and counters["rejected_events"] == 1
    stored = client.get("/api/v1/events", params={"site": SITE}).json()["events"]
    assert sorted(e["id"] for e in stored) == ["main-in:1", "main-in:3"]
    c.loop_stop()
    c.disconnect()

"""Home Assistant's MQTT discovery, read the way Home Assistant reads it: as the provisioned
`homeassistant` user of the real locked-down Mosquitto, from retained messages, while a real
edge daemon drives the simulated gate."""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as mqtt
import pytest

from cloud.society.provision import edge_user, ha_user
from gatepost.devstack.stack import GateSpec, StackOptions, wait_until
from shared.contract import Topics

pytestmark = pytest.mark.stack
SITE = "green-acres"
EPC = "E2801160600002040000AB01"
EDGE = "edge-1"


class HomeAssistantView:
    """What a Home Assistant instance would hold: the last retained payload per topic."""

    def __init__(self, port: int, user: str, password: str, *topics: str) -> None:
        self.seen: dict[str, str] = {}
        self.lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ha-view-{user}")
        self.c.username_pw_set(user, password)
        self.subscribed = threading.Event()
        self.c.on_message = self._on_message
        self.c.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def wait_subscribed(self, timeout: float = 10) -> None:
        """Block until the broker granted the subscriptions: a live (not retained) message sent
        before then would never reach this view."""
        if not self.subscribed.wait(timeout):
            raise TimeoutError(f"the broker did not answer the view's subscription in {timeout}s")

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.seen[msg.topic] = msg.payload.decode()

    def get(self, topic: str) -> str | None:
        with self.lock:
            return self.seen.get(topic)

    def configs(self) -> dict[str, dict]:
        with self.lock:
            return {t: json.loads(p) for t, p in self.seen.items() if t.endswith("/config") and p}

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.mark.timeout(120)
def test_discovery_and_states_as_home_assistant_reads_them(make_stack):
    stack = make_stack([GateSpec("main-in", SITE, "entry")], StackOptions(
        edge_id=EDGE, edge_toml="\n[homeassistant]\nenabled = true\n"))
    ha = HomeAssistantView(stack.broker.port, ha_user(SITE), stack.auth.passwords[ha_user(SITE)],
                           "homeassistant/#", "gatepost/v1/edge/+/state/#",
                           "gatepost/v1/edge/+/available")
    try:
        stack.site_with_tag(SITE, EPC)
        wait_until(lambda: len(ha.configs()) == 7, 15, what="the discovery configs")
        configs = ha.configs()
        node = f"homeassistant/binary_sensor/gatepost-{EDGE}"
        barrier = configs[f"{node}/main-in_barrier/config"]
        assert barrier["device_class"] == "opening"
        assert barrier["state_topic"] == Topics.edge_state(EDGE, "main-in", "barrier")
        assert barrier["availability"][0]["topic"] == Topics.edge_available(EDGE)
        assert {c["device"]["identifiers"][0] for c in configs.values()} == {f"gatepost_{EDGE}"}
        assert {c["unique_id"] for c in configs.values()} == {
            f"gatepost_{EDGE}_{x}" for x in ("main-in_barrier", "main-in_loop", "main-in_reader",
                                              "main-in_relay", "main-in_last_decision", "cloud",
                                              "outbox")}
        # Nothing Home Assistant can send opens a gate: no entity takes commands.
        assert not any(k.startswith("command") for c in configs.values() for k in c)
        assert ha.get(Topics.edge_available(EDGE)) == "online"

        def state(*parts: str) -> str | None:
            return ha.get(Topics.edge_state(EDGE, *parts))

        wait_until(lambda: state("main-in", "relay") == "ON" and state("main-in", "reader")
                   == "ON" and state("cloud") == "ON", 15, what="devices and link up")
        assert state("main-in", "barrier") == "OFF" and state("main-in", "loop") == "OFF"
        stack.world.gates["main-in"].reader.push_once(EPC)
        wait_until(lambda: json.loads(state("main-in", "last_decision") or "{}").get(
            "outcome") == "open", 15, what="the decision in Home Assistant")
        last = json.loads(state("main-in", "last_decision") or "{}")
        assert last["reason"] == "tag_valid" and last["vrn"] == "MH12AB1234"
        assert last["credential"] == "tag"
        wait_until(lambda: state("main-in", "barrier") == "ON", 15, what="the boom going up")
        # A box publishes discovery for its own node only.
        rogue = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rogue-ha")
        rogue.username_pw_set(edge_user(EDGE), stack.auth.passwords[edge_user(EDGE)])
        rogue.connect("127.0.0.1", stack.broker.port)
        rogue.loop_start()
        forged = "homeassistant/button/gatepost-other/open/config"
        rogue.publish(forged, json.dumps({"command_topic": "x"}), qos=1,
                      retain=True).wait_for_publish(5)
        mine = f"homeassistant/sensor/gatepost-{EDGE}/probe/config"
        rogue.publish(mine, "{}", qos=1, retain=True).wait_for_publish(5)
        wait_until(lambda: ha.get(mine) is not None, 5, what="the box's own topic delivered")
        assert ha.get(forged) is None  # the broker dropped another node's config
        rogue.publish(mine, b"", qos=1, retain=True).wait_for_publish(5)
        rogue.loop_stop()
        rogue.disconnect()
    finally:
        ha.close()


@pytest.mark.timeout(120)
def test_a_societys_home_assistant_reads_its_own_boxes_alone(make_stack):
    """On a fleet broker, another society's Home Assistant subscribed to everything it can
    gets none of this box's configs, states or plates; its own box's topics do reach it."""
    other, other_edge = "blue-oaks", "edge-2"
    stack = make_stack([GateSpec("main-in", SITE, "entry")], StackOptions(
        edge_id=EDGE, edge_toml="\n[homeassistant]\nenabled = true\n",
        other_edges={other_edge: (other,)}))
    mine = HomeAssistantView(stack.broker.port, ha_user(SITE),
                             stack.auth.passwords[ha_user(SITE)], "homeassistant/#",
                             "gatepost/v1/edge/+/state/#", "gatepost/v1/edge/+/available")
    theirs = None
    box2 = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="edge-2-probe")
    try:
        stack.site_with_tag(SITE, EPC)
        stack.world.gates["main-in"].reader.push_once(EPC)
        wait_until(lambda: json.loads(mine.get(Topics.edge_state(EDGE, "main-in",
                                                                 "last_decision")) or "{}"
                                      ).get("vrn") == "MH12AB1234", 20,
                   what="the decision in the society's own Home Assistant")
        theirs = HomeAssistantView(stack.broker.port, ha_user(other),
                                   stack.auth.passwords[ha_user(other)], "homeassistant/#",
                                   "gatepost/v1/edge/+/state/#", "gatepost/v1/edge/+/available",
                                   "gatepost/v1/#", "#")
        theirs.wait_subscribed()
        # A marker from the other society's own box, sent after every retained message of
        # edge-1 would have been delivered: once it arrives, nothing of edge-1 is on its way.
        box2.username_pw_set(edge_user(other_edge), stack.auth.passwords[edge_user(other_edge)])
        box2.connect("127.0.0.1", stack.broker.port)
        box2.loop_start()
        marker = Topics.edge_state(other_edge, "cloud")
        box2.publish(marker, "ON", qos=1, retain=False).wait_for_publish(5)
        wait_until(lambda: theirs is not None and theirs.get(marker) == "ON", 10,
                   what="the other society's own box reaching its Home Assistant")
        leaked = [t for t in theirs.seen if EDGE + "/" in t or f"gatepost-{EDGE}/" in t]
        assert leaked == []
        assert any(f"gatepost-{EDGE}/" in t for t in mine.seen)
    finally:
        box2.loop_stop()
        box2.disconnect()
        mine.close()
        if theirs is not None:
            theirs.close()

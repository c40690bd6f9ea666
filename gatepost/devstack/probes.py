"""A client that plays a compromised box: real credentials of a provisioned box, on its own
topics at the real broker, saying whatever it likes (the trust tests and ``bench faults``)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from cloud.society.provision import edge_user
from shared.contract import CommandResponse, EdgeGates, Event, Topics
from shared.vocab import EventType


class ProbeBox:
    """An MQTT client with a provisioned box's credentials, doing what a compromised box could:
    publish on its own topics whatever it likes, and answer commands it sees."""

    def __init__(self, port: int, edge: str, password: str) -> None:
        self.edge = edge
        self.acks: list[str] = []
        self.commands: list[dict] = []
        self.answer = True
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{edge}")
        self.c.username_pw_set(edge_user(edge), password)
        self.c.on_message = self._on_message
        self.dropped = threading.Event()
        self.c.on_disconnect = lambda *a: self.dropped.set()
        self.ready = threading.Event()
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.c.subscribe([(Topics.edge_acks(edge), 1), (Topics.edge_commands(edge), 1)])
        if not self.ready.wait(5):
            raise TimeoutError(f"{edge}: no subscription at the broker")

    def _on_message(self, client, userdata, msg) -> None:
        body = json.loads(msg.payload)
        if msg.topic == Topics.edge_acks(self.edge):
            self.acks += body["ids"]
        else:
            self.commands.append(body)
            if self.answer:
                self.respond(body["id"])

    def respond(self, transaction: str) -> None:
        """Answer a command as done."""
        self.c.publish(Topics.edge_responses(self.edge), CommandResponse(
            transaction=transaction, status="ok", data={"opened": True}).model_dump_json(), qos=1)

    def event(self, site: str, gate: str, seq: int, type_: EventType = EventType.DECISION,
              **data) -> None:
        """Publish an event naming any site and gate."""
        ev = Event(id=f"{gate}:{seq}", type=type_, site=site, edge=self.edge, gate=gate,
                   seq=seq, at=datetime.now(UTC), data=data)
        self.c.publish(Topics.edge_events(self.edge), ev.model_dump_json(),
                       qos=1).wait_for_publish(5)

    def claim(self, *gates: tuple[str, str]) -> None:
        """Claim gates, retained, as a box announces its own."""
        self.c.publish(Topics.edge_gates(self.edge), EdgeGates(
            edge=self.edge, gates=[{"site": s, "gate": g} for s, g in gates]).model_dump_json(),
            qos=1, retain=True).wait_for_publish(5)

    def close(self) -> None:
        """Clear the retained claim and disconnect."""
        if self.c.is_connected():  # clear the retained claim (the broker is removed anyway)
            self.c.publish(Topics.edge_gates(self.edge), b"", qos=1,
                           retain=True).wait_for_publish(5)
        self.c.loop_stop()
        self.c.disconnect()

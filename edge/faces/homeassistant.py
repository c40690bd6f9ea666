"""Home Assistant's MQTT discovery for a box (``[homeassistant] enabled``).

On the box's own broker connection, retained: a discovery config per entity under
``<prefix>/<component>/gatepost-<edge>/<object>/config`` and its state under
``gatepost/v1/edge/<edge>/state/…``, published again after every reconnect, and a state
published only when it changed (looked at once a second). Per gate: the barrier (open or
closed), the presence loop, the reader, relay board and camera (connected or not), and the last
decision (its outcome, with reason, plate and credential as attributes); per box: the cloud
link and the events waiting for it. Every entity's availability is the box's ``available``
topic, and the box is one device.

There is **no command entity**: nothing Home Assistant publishes can open a gate. Opening from
outside the box goes only through the cloud's signed remote open.
"""

from __future__ import annotations

import json
import logging
import threading
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from shared.contract import Topics

if TYPE_CHECKING:
    from edge.faces.port import Box

log = logging.getLogger(__name__)


def _sw() -> str:
    try:
        return version("gatepost")
    except PackageNotFoundError:
        return "unknown"


def _on(value: bool | None) -> str:
    return "None" if value is None else ("ON" if value else "OFF")


class HomeAssistant:
    """Discovery configs and states of one box, kept up to date on its broker connection."""

    def __init__(self, box: Box, prefix: str) -> None:
        self.d = box
        self.edge = box.config.id
        self.prefix = prefix
        self.sent: dict[str, str] = {}
        self._connects = -1
        self._last: dict[str, dict[str, Any]] = {}  # gate → its last decision
        self._after = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # What Home Assistant reads ---------------------------------------------------------------
    def _entity(self, component: str, object_id: str, name: str, state: str,
                **more: Any) -> tuple[str, dict[str, Any]]:
        avail = Topics.edge_available(self.edge)
        config = {
            "name": name, "unique_id": f"gatepost_{self.edge}_{object_id}",
            "object_id": f"gatepost_{self.edge}_{object_id}", "state_topic": state,
            "availability": [{"topic": avail, "value_template":
                              "{{ 'online' if value == 'online' else 'offline' }}"}],
            "device": {"identifiers": [f"gatepost_{self.edge}"], "name": f"Gatepost {self.edge}",
                       "manufacturer": "Gatepost", "model": "edge gate controller",
                       "sw_version": _sw()},
            **more}
        return Topics.ha_config(self.prefix, component, self.edge, object_id), config

    def configs(self) -> dict[str, dict[str, Any]]:
        """Every entity's discovery config, by topic."""
        out: dict[str, dict[str, Any]] = {}

        def add(component: str, object_id: str, name: str, state: str, **more: Any) -> None:
            topic, config = self._entity(component, object_id, name, state, **more)
            out[topic] = config

        diag = {"entity_category": "diagnostic"}
        for g in self.d.config.gates:
            def st(what: str, gate: str = g.id) -> str:
                return Topics.edge_state(self.edge, gate, what)

            add("binary_sensor", f"{g.id}_barrier", f"{g.id} barrier", st("barrier"),
                device_class="opening")
            add("binary_sensor", f"{g.id}_loop", f"{g.id} loop", st("loop"),
                device_class="occupancy")
            for device, present in (("reader", g.reader), ("relay", g.relay),
                                    ("camera", g.camera)):
                if present is not None:
                    add("binary_sensor", f"{g.id}_{device}", f"{g.id} {device}", st(device),
                        device_class="connectivity", **diag)
            add("sensor", f"{g.id}_last_decision", f"{g.id} last decision",
                st("last_decision"), value_template="{{ value_json.outcome }}",
                json_attributes_topic=st("last_decision"), icon="mdi:boom-gate")
        add("binary_sensor", "cloud", "cloud link", Topics.edge_state(self.edge, "cloud"),
            device_class="connectivity", **diag)
        add("sensor", "outbox", "events waiting", Topics.edge_state(self.edge, "outbox"),
            unit_of_measurement="events", state_class="measurement", **diag)
        return out

    def states(self) -> dict[str, str]:
        """Every entity's state now, by topic."""
        h = self.d.health()
        out: dict[str, str] = {}
        for g in h["gates"]:
            def st(what: str, gate: str = g["id"]) -> str:
                return Topics.edge_state(self.edge, gate, what)

            boom = g["boom"]
            out[st("barrier")] = "None" if boom == "unknown" else _on(boom != "down")
            out[st("loop")] = _on(g["loop"])
            out[st("reader")] = _on(g["reader_ok"])
            out[st("relay")] = _on(g["relay_ok"])
            last = self._last.get(g["id"])
            out[st("last_decision")] = json.dumps(last or {"outcome": "none"})
        for gate, cam in h["cameras"].items():
            out[Topics.edge_state(self.edge, gate, "camera")] = _on(cam.get("connected"))
        out[Topics.edge_state(self.edge, "cloud")] = _on(h["cloud_connected"])
        out[Topics.edge_state(self.edge, "outbox")] = str(h["outbox"] or 0)
        return out

    # Keeping it up to date -------------------------------------------------------------------
    def _decisions(self) -> None:
        for e in self.d.ring.after(self._after, 0.0, 5000):
            self._after = e["local_id"]
            if e["type"] == "decision" and e.get("gate"):
                cred = e.get("credential") or {}
                self._last[e["gate"]] = {
                    "outcome": e.get("outcome"), "reason": e.get("reason"),
                    "vrn": e.get("vrn"), "credential": cred.get("kind"), "at": e.get("at")}

    def tick(self) -> int:
        """Publish what changed (everything after a reconnect); messages published."""
        link = self.d.link
        if link is None or not link.connected:
            return 0
        self._decisions()
        connects = link.counters["connects"]
        if connects != self._connects:  # a new session: configs and states again
            self.sent.clear()
            for topic, config in self.configs().items():
                if not link.publish_retained(topic, json.dumps(config)):
                    return 0
            self._connects = connects
        n = 0
        for topic, payload in self.states().items():
            if self.sent.get(topic) != payload and link.publish_retained(topic, payload):
                self.sent[topic] = payload
                n += 1
        return n

    def start(self) -> None:
        """Look once a second, in a thread of its own."""
        self._thread = threading.Thread(target=self._run, name="homeassistant", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.tick()
            except Exception:  # the gate must never notice: log and try again next second
                log.exception("Home Assistant update failed")

    def stop(self) -> None:
        """Stop looking."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

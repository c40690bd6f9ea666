"""Many simulated edge boxes publishing events as real ones do: from an outbox, at most
``window`` unacknowledged at a time, resending what is not acknowledged within the resend
timeout the edge uses (``shared.rto``: at least ``resend_s``, longer while acks are slow).

One process drives hundreds of boxes over one selector loop (paho's external-loop calls), so
the load generator stays light next to the broker and the cloud it measures. Each box has its
own broker user and its own site, so event ids never collide across boxes.
"""

from __future__ import annotations

import json
import random
import selectors
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from shared.contract import Topics
from shared.rto import ResendTimer

AT = "2026-12-05T08:00:00+00:00"


@dataclass(frozen=True)
class EdgeSpec:
    """A box: its id and broker credentials."""

    edge: str
    username: str
    password: str


@dataclass
class _Box:
    spec: EdgeSpec
    client: mqtt.Client
    site: str
    gate: str
    connected: bool = False
    generated: int = 0
    outbox: deque[int] = field(default_factory=deque)
    inflight: dict[int, list[float]] = field(default_factory=dict)  # seq → [first, last]
    acked: int = 0
    resends: int = 0
    last_ack: float = 0.0
    latencies: list[float] = field(default_factory=list)
    jitter: float = field(default_factory=random.random)  # spreads the boxes' ticks
    rto: ResendTimer = field(default_factory=ResendTimer)  # as the edge's (``shared.rto``)

    def payload(self, seq: int) -> str:
        return (f'{{"id":"{self.gate}:{seq}","type":"decision","site":"{self.site}",'
                f'"edge":"{self.spec.edge}","gate":"{self.gate}","seq":{seq},"at":"{AT}",'
                f'"data":{{"outcome":"open","reason":"tag_valid"}}}}')


class EdgeLoad:
    """Boxes on one selector loop; ``run`` returns what they sent and what was acknowledged."""

    def __init__(self, host: str, port: int, edges: list[EdgeSpec], *, rate_per_edge: float,
                 backlog: int = 0, window: int = 50, resend_s: float = 5.0) -> None:
        self.host, self.port = host, port
        self.specs = edges
        self.rate = rate_per_edge
        self.backlog = backlog
        self.window = window
        self.resend_s = resend_s
        self.boxes: list[_Box] = []

    def _connect(self) -> selectors.DefaultSelector:
        sel = selectors.DefaultSelector()
        for spec in self.specs:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"load-{spec.edge}",
                            clean_session=True)
            c.username_pw_set(spec.username, spec.password)
            box = _Box(spec, c, site=f"s-{spec.edge}", gate="g1",
                       rto=ResendTimer(floor_s=self.resend_s))
            c.on_connect = self._on_connect(box)
            c.on_message = self._on_message(box)
            c.connect(self.host, self.port, keepalive=60)
            sel.register(c.socket(), selectors.EVENT_READ, box)  # type: ignore[arg-type]
            self.boxes.append(box)
        return sel

    @staticmethod
    def _on_connect(box: _Box) -> Any:
        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            if not reason_code.is_failure:
                client.subscribe(Topics.edge_acks(box.spec.edge), qos=1)
                box.connected = True

        return on_connect

    @staticmethod
    def _on_message(box: _Box) -> Any:
        def on_message(client, userdata, msg) -> None:
            now = time.time()
            for i in json.loads(msg.payload)["ids"]:
                seq = int(i.rsplit(":", 1)[1])
                sent = box.inflight.pop(seq, None)
                if sent is not None:
                    if sent[0] == sent[1]:  # sent once: a sample for its resend timeout
                        box.rto.sample(now - sent[0])
                    box.latencies.append((now - sent[0]) * 1000)
                    box.acked += 1
                    box.last_ack = now

        return on_message

    def _pump(self, sel: selectors.BaseSelector, timeout: float) -> None:
        for key, _ in sel.select(timeout):
            key.data.client.loop_read()
        for box in self.boxes:
            if box.client.want_write():
                box.client.loop_write()

    def run(self, start_at: float, seconds: float, drain_timeout: float = 120.0) -> dict:
        """Connect, wait for *start_at* (wall clock, shared by the load processes), generate
        for *seconds*, then wait until everything is acknowledged (or *drain_timeout*)."""
        sel = self._connect()
        deadline = time.time() + 30
        while not all(b.connected for b in self.boxes) and time.time() < deadline:
            self._pump(sel, 0.01)
        for box in self.boxes:
            box.outbox.extend(range(1, self.backlog + 1))
            box.generated = self.backlog
        while time.time() < start_at:
            self._pump(sel, min(0.05, max(0.0, start_at - time.time())))
        t0 = time.time()
        stop_gen = t0 + seconds
        next_misc = next_resend = t0
        while True:
            now = time.time()
            if now < stop_gen and self.rate > 0:
                for box in self.boxes:
                    due = int((now - t0) * self.rate + box.jitter)
                    while box.generated - self.backlog < due:
                        box.generated += 1
                        box.outbox.append(box.generated)
            elif now < stop_gen and self.backlog == 0:  # flat out: keep every window full
                for box in self.boxes:
                    while len(box.inflight) + len(box.outbox) < self.window:
                        box.generated += 1
                        box.outbox.append(box.generated)
            resend = now >= next_resend
            for box in self.boxes:
                if resend:
                    timeout, again = box.rto.timeout_s, 0
                    for seq, sent in box.inflight.items():
                        if now - sent[1] > timeout:
                            sent[1] = now
                            again += 1
                            box.client.publish(Topics.edge_events(box.spec.edge),
                                               box.payload(seq), qos=1)
                    if again:
                        box.resends += again
                        box.rto.timed_out()
                while box.outbox and len(box.inflight) < self.window:
                    seq = box.outbox.popleft()
                    box.inflight[seq] = [now, now]
                    box.client.publish(Topics.edge_events(box.spec.edge), box.payload(seq),
                                       qos=1)
            if resend:
                next_resend = now + 0.5
            self._pump(sel, 0.002)
            if now >= next_misc:
                for box in self.boxes:
                    box.client.loop_misc()
                next_misc = now + 1.0
            idle = all(not b.inflight and not b.outbox for b in self.boxes)
            if now >= stop_gen and (idle or now > stop_gen + drain_timeout):
                break
        for box in self.boxes:
            box.client.disconnect()
            box.client.loop_write()
        lat = [x for b in self.boxes for x in b.latencies]
        return {
            "published": sum(b.generated for b in self.boxes),
            "acked": sum(b.acked for b in self.boxes),
            "unacked": sum(len(b.inflight) + len(b.outbox) for b in self.boxes),
            "resends": sum(b.resends for b in self.boxes),
            "not_connected": sum(not b.connected for b in self.boxes),
            "t0": t0, "last_ack": max((b.last_ack for b in self.boxes), default=t0),
            "latencies_ms": lat,
        }


def run_load(host: str, port: int, edges: list[EdgeSpec], kw: dict, start_at: float,
             seconds: float, drain_timeout: float, out: Any) -> None:
    """A load process's body: run the boxes and put the result on *out* (a queue)."""
    try:
        out.put(EdgeLoad(host, port, edges, **kw).run(start_at, seconds, drain_timeout))
    except Exception as exc:  # reported by the parent, which waits on the queue
        out.put({"error": repr(exc)})

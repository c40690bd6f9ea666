"""Many simulated edge boxes publishing events as real ones do: from an outbox, at most
``window`` unacknowledged at a time, resending what is not acknowledged within the resend
timeout the edge uses (``shared.rto``: at least ``resend_s``, longer while acks are slow).

One process drives hundreds of boxes over one selector loop, each box a bare MQTT 3.1.1
connection (``gatepost.bench.mqttwire``), so the load generator stays light next to the broker
and the cloud it measures: events are made on a 5 ms tick, a box's window is refilled when its
acks arrive, and only boxes that have something to send are written. Each box has its own broker
user and its own site, so event ids never collide across boxes.
"""

from __future__ import annotations

import json
import random
import selectors
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gatepost.bench.mqttwire import CONNACK, PUBLISH, WireClient
from shared.contract import Topics
from shared.rto import ResendTimer

AT = "2026-12-05T08:00:00+00:00"
TICK_S = 0.005  # how often events are made and resends looked for
KEEPALIVE_S = 60  # each box's MQTT keepalive (a broker-side timeout at 1.5 times it)


@dataclass(frozen=True)
class EdgeSpec:
    """A box: its id and broker credentials."""

    edge: str
    username: str
    password: str


@dataclass
class _Box:
    spec: EdgeSpec
    client: WireClient
    site: str
    gate: str
    index: int
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

    def payload(self, seq: int) -> bytes:
        return (f'{{"id":"{self.gate}:{seq}","type":"decision","site":"{self.site}",'
                f'"edge":"{self.spec.edge}","gate":"{self.gate}","seq":{seq},"at":"{AT}",'
                f'"data":{{"outcome":"open","reason":"tag_valid"}}}}').encode()


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
        self._acked: set[int] = set()  # boxes (by index) whose window an ack freed
        self._dirty: set[int] = set()  # boxes (by index) that may have packets to write

    def _connect(self) -> selectors.DefaultSelector:
        sel = selectors.DefaultSelector()
        for spec in self.specs:
            c = WireClient(f"load-{spec.edge}", spec.username, spec.password, KEEPALIVE_S)
            box = _Box(spec, c, site=f"s-{spec.edge}", gate="g1", index=len(self.boxes),
                       rto=ResendTimer(floor_s=self.resend_s))
            c.connect(self.host, self.port)
            sel.register(c, selectors.EVENT_READ, box)
            self._dirty.add(box.index)  # its CONNECT waits to be written
            self.boxes.append(box)
        return sel

    def _received(self, box: _Box) -> None:
        now = time.time()
        for kind, mid, _topic, payload in box.client.read():
            if kind == CONNACK:
                if mid != 0:
                    raise ConnectionError(f"{box.spec.edge}: the broker refused it ({mid})")
                box.client.subscribe(Topics.edge_acks(box.spec.edge), qos=1)
                box.connected = True
            elif kind == PUBLISH:  # an ack
                self._acked.add(box.index)
                for i in json.loads(payload)["ids"]:
                    sent = box.inflight.pop(int(i.rsplit(":", 1)[1]), None)
                    if sent is not None:
                        if sent[0] == sent[1]:  # sent once: a sample for its resend timeout
                            box.rto.sample(now - sent[0])
                        box.latencies.append((now - sent[0]) * 1000)
                        box.acked += 1
                        box.last_ack = now
        self._dirty.add(box.index)  # a read may call for an answer (a PUBACK, a SUBSCRIBE)

    def _pump(self, sel: selectors.BaseSelector, timeout: float) -> None:
        for key, _ in sel.select(timeout):
            self._received(key.data)
        if self._acked:  # acks freed room in these windows: send what waits
            now = time.time()
            for i in self._acked:
                self._send(self.boxes[i], now)
            self._acked.clear()
        for i in self._dirty:
            self.boxes[i].client.flush()
        self._dirty.clear()

    def _send(self, box: _Box, now: float) -> None:
        self._dirty.add(box.index)
        while box.outbox and len(box.inflight) < self.window:
            seq = box.outbox.popleft()
            box.inflight[seq] = [now, now]
            box.client.publish(Topics.edge_events(box.spec.edge), box.payload(seq))

    def _tick(self, now: float, t0: float, stop_gen: float, resend: bool) -> None:
        """Make the events due by *now*, send them as windows allow, and (with *resend*) send
        again what waited longer than its box's resend timeout."""
        for box in self.boxes:
            if now < stop_gen and self.rate > 0:
                due = int((now - t0) * self.rate + box.jitter)
                while box.generated - self.backlog < due:
                    box.generated += 1
                    box.outbox.append(box.generated)
            elif now < stop_gen and self.backlog == 0:  # flat out: keep every window full
                while len(box.inflight) + len(box.outbox) < self.window:
                    box.generated += 1
                    box.outbox.append(box.generated)
            if resend:
                timeout, again = box.rto.timeout_s, 0
                for seq, sent in box.inflight.items():
                    if now - sent[1] > timeout:
                        sent[1] = now
                        again += 1
                        box.client.publish(Topics.edge_events(box.spec.edge),
                                           box.payload(seq))
                if again:
                    box.resends += again
                    box.rto.timed_out()
            self._send(box, now)

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
        next_ping = next_resend = next_tick = t0
        while True:
            now = time.time()
            if now >= next_tick:
                self._tick(now, t0, stop_gen, now >= next_resend)
                if now >= next_resend:
                    next_resend = now + 0.5
                next_tick = now + TICK_S
            self._pump(sel, max(0.0, next_tick - time.time()))
            if now >= next_ping:  # keepalive: a ping every half of it
                for box in self.boxes:
                    box.client.ping()
                    self._dirty.add(box.index)
                next_ping = now + KEEPALIVE_S / 2
            if now >= stop_gen and (now > stop_gen + drain_timeout or all(
                    not b.inflight and not b.outbox for b in self.boxes)):
                break
        for box in self.boxes:
            box.client.disconnect()
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

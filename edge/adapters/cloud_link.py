"""The edge's link to the cloud: MQTT (paho, callback API v2) for events and rule deltas,
HTTP (httpx) for full snapshots.

Reconnect is the normal path: connected only on a successful CONNACK, then resubscribe,
republish ``available``, and resend everything still in the outbox. Rule messages are handled
in order on one thread. A delta or version of another epoch (the cloud's rules history was
restored, re-created or reset), a delta that does not follow the held version, a version other
than the held one, a fresh cache, or ``resync`` trigger a snapshot, which replaces the cache.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from pydantic import ValidationError

from edge.adapters.snapshot import take_snapshot
from edge.store.cache import RESYNC, RulesCache
from edge.store.outbox import Outbox
from shared.contract import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    Ack,
    CommandResponse,
    EdgeGates,
    EventBatch,
    RulesDelta,
    RulesVersion,
    Topics,
)
from shared.counters import Counters
from shared.mqtt_buffered import Client as BufferedClient
from shared.mqtt_tls import broker_address, use_tls
from shared.retry import backoff_s
from shared.rto import ResendTimer
from shared.wire.commands import OpenCommand
from shared.wire.topics import Party, subscriptions

log = logging.getLogger(__name__)


class CloudLink:
    """MQTT session, outbox publisher and rules synchroniser of one edge box."""

    def __init__(self, edge_id: str, sites: list[str], *, mqtt_url: str, http_url: str,
                 outbox: Outbox, cache: RulesCache, username: str | None = None,
                 password: str | None = None, api_key: str | None = None,
                 max_inflight: int = 2000, resend_s: float = 5.0, batch_max: int = 200,
                 drain_rate: float = 0.0,
                 on_rules: Callable[[str, int], None] | None = None,
                 gates: list[tuple[str, str]] | None = None,
                 on_command: Callable[[OpenCommand, bool], CommandResponse] | None = None,
                 tls: tuple[Path | None, Path | None, Path | None] = (None, None, None),
                 ) -> None:
        self.edge_id = edge_id
        self.sites = sites
        self.mqtt_url = mqtt_url
        self.http_url = http_url.rstrip("/")
        self.outbox = outbox
        self.cache = cache
        self.username = username
        self.password = password
        self.api_key = api_key  # the box's cloud API key: its sites' rules are not public
        self.max_inflight = max_inflight  # events sent and not yet acknowledged, at most
        self.batch_max = max(1, min(batch_max, MAX_BATCH_EVENTS))  # events per message
        self._rewind = False
        self.drain_rate = drain_rate  # events a second, at most (0: unpaced)
        self._paced_until = 0.0
        self.resend_s = resend_s  # the floor of the resend timeout (``shared.rto``)
        self.rto = ResendTimer(floor_s=resend_s)
        self.on_rules = on_rules
        self.gates = gates or []
        self.on_command = on_command
        self.tls = tls  # the broker's CA, this box's certificate and key
        self.connected = False
        self.subscribed = threading.Event()  # SUBACK received: deltas will reach us
        self.counters = Counters()
        self._inflight: dict[str, float] = {}
        self._resent: set[str] = set()  # sent more than once: their acks are not timed
        self._inflight_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._sync_q: queue.Queue[tuple] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._snapshot_failing: set[str] = set()
        self._version_seq: dict[str, int] = {}  # version messages seen per site
        self._retrying: set[str] = set()
        self._failures: dict[str, int] = {}  # snapshot failures in a row, per site
        self._client: mqtt.Client | None = None

    # Life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background and start the publisher and sync threads."""
        host, port, _ = broker_address(self.mqtt_url)
        c = BufferedClient(mqtt.CallbackAPIVersion.VERSION2,
                           client_id=f"gatepost-edge-{self.edge_id}", clean_session=True)
        use_tls(c, self.mqtt_url, *self.tls)
        if self.username:
            c.username_pw_set(self.username, self.password)
        c.will_set(Topics.edge_available(self.edge_id), "offline", qos=1, retain=True)
        # paho types the delays as int but computes with floats; 0.2 s keeps reconnects snappy
        c.reconnect_delay_set(min_delay=0.2, max_delay=2)  # type: ignore[arg-type]
        c.max_inflight_messages_set(max(20, -(-self.max_inflight // self.batch_max) * 2))
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self._client = c
        # Queued before connecting, so a retained version that arrives first finds it
        # and one snapshot serves both.
        for site in self.sites:
            self._sync_q.put(("fresh", site))
        c.connect_async(host, port, keepalive=10)
        c.loop_start()
        for fn, name in ((self._publish_loop, "publish"), (self._sync_loop, "sync")):
            t = threading.Thread(target=fn, name=f"cloud-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Say ``stopped``, disconnect and join."""
        self._stop.set()
        self._wake.set()
        self._sync_q.put(("stop",))
        c = self._client
        if c is not None:
            if self.connected:
                info = c.publish(Topics.edge_available(self.edge_id), "stopped", qos=1,
                                 retain=True)
                try:
                    info.wait_for_publish(2)
                except (RuntimeError, ValueError):
                    pass
            c.disconnect()
            c.loop_stop()
        for t in self._threads:
            t.join(5)

    def notify(self) -> None:
        """New events are in the outbox."""
        self._wake.set()

    def alive(self) -> bool:
        """Whether the publisher and sync threads run (paho reconnects on its own)."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    # MQTT callbacks (paho's thread) ---------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the edge: %s", reason_code)
            return
        client.subscribe(subscriptions(Party.EDGE, edge=self.edge_id, sites=self.sites))
        client.publish(Topics.edge_available(self.edge_id), "online", qos=1, retain=True)
        client.publish(Topics.edge_gates(self.edge_id), EdgeGates(
            edge=self.edge_id, gates=[{"site": s, "gate": g} for s, g in self.gates],
        ).model_dump_json(), qos=1, retain=True)
        with self._inflight_lock:
            self._inflight.clear()
            self._resent.clear()
            self._rewind = True
        self.connected = True
        self.counters.inc("connects")
        log.info("cloud link up (%s)", self.mqtt_url)
        self._wake.set()

    def publish_retained(self, topic: str, payload: str) -> bool:
        """Publish a retained message on the box's connection (Home Assistant's discovery and
        states); False while the link is down."""
        client = self._client
        if not self.connected or client is None:
            return False
        return client.publish(topic, payload, qos=1, retain=True).rc == mqtt.MQTT_ERR_SUCCESS

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(rc.is_failure for rc in reason_codes):
            log.error("broker refused a subscription: %s", reason_codes)
            return
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.subscribed.clear()
        if self.connected:
            log.error("cloud link down: %s", reason_code)
        self.connected = False
        with self._inflight_lock:
            self._inflight.clear()
            self._resent.clear()

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        try:
            self._handle_message(msg)
        except Exception:
            # paho would otherwise end its network thread: count, log, carry on.
            self.counters.inc("message_errors")
            log.exception("handling a message on %s failed", msg.topic)

    def _handle_message(self, msg: mqtt.MQTTMessage) -> None:
        try:
            if msg.topic == Topics.edge_acks(self.edge_id):
                ack = Ack.model_validate_json(msg.payload)
                self.outbox.ack(ack.ids)
                now = time.monotonic()
                with self._inflight_lock:
                    for i in ack.ids:
                        sent = self._inflight.pop(i, None)
                        if i in self._resent:
                            self._resent.discard(i)
                        elif sent is not None:
                            self.rto.sample(now - sent)
                self.counters.inc("acked", len(ack.ids))
                self._wake.set()
            elif msg.topic == Topics.edge_commands(self.edge_id):
                cmd = OpenCommand.model_validate_json(msg.payload)
                if self.on_command is not None:
                    resp = self.on_command(cmd, bool(msg.retain))
                    if self._client is not None:
                        self._client.publish(Topics.edge_responses(self.edge_id),
                                             resp.model_dump_json(), qos=1)
            elif msg.topic.endswith("/rules/delta"):
                if msg.retain:
                    raise ValueError("retained delta refused (deltas are never retained)")
                self._sync_q.put(("delta", RulesDelta.model_validate_json(msg.payload)))
            elif msg.topic.endswith("/rules/version"):
                v = RulesVersion.model_validate_json(msg.payload)
                # Only the newest word per site counts, and where it stands in the queue:
                # the deltas before it are applied first; older versions still queued (a
                # snapshot may have gone past them) are skipped.
                with self._inflight_lock:
                    n = self._version_seq.get(v.site, 0) + 1
                    self._version_seq[v.site] = n
                self._sync_q.put(("version", v, bool(msg.retain), n))
        except (ValidationError, ValueError) as exc:
            self.counters.inc("rejected_messages")
            log.warning("rejected message on %s: %s", msg.topic, exc)
            if msg.topic == Topics.edge_commands(self.edge_id):
                self._answer_malformed(msg.payload, exc)

    def _answer_malformed(self, payload: bytes | bytearray, exc: Exception) -> None:
        """Answer ``error`` to a command refused unread, when its id can be read, so that the
        cloud hears why at once instead of waiting out the command's deadline."""
        try:
            cid = json.loads(payload).get("id")
        except (ValueError, AttributeError):
            return
        if not isinstance(cid, str) or not 0 < len(cid) <= 100 or self._client is None:
            return
        # As the lane answers a command it cannot read (``malformed``), with what did not fit.
        resp = CommandResponse(transaction=cid, status="error", error="malformed",
                               data={"reason": "command_rejected",
                                     "detail": str(exc).splitlines()[0][:200]})
        self._client.publish(Topics.edge_responses(self.edge_id), resp.model_dump_json(), qos=1)

    # Publisher ------------------------------------------------------------------------------
    def _publish_loop(self) -> None:
        topic = Topics.edge_events(self.edge_id)
        cursor = 0  # the log position of the last event sent
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            if not self.connected or self._client is None:
                cursor = 0
                continue
            now = time.monotonic()
            with self._inflight_lock:
                timeout = self.rto.timeout_s
                expired = [i for i, sent in self._inflight.items() if now - sent > timeout]
                for i in expired:
                    del self._inflight[i]
                self._resent.update(expired)
                if expired:
                    self.rto.timed_out()
                if expired or self._rewind:  # unacknowledged: send again, oldest first
                    cursor, self._rewind = 0, False
                room = self.max_inflight - len(self._inflight)
                busy = set(self._inflight)
            if room <= 0:
                continue
            try:
                rows = self.outbox.waiting_json(cursor, room + (len(busy) if cursor == 0
                                                                else 0))
            except Exception:
                log.exception("outbox read failed")
                continue
            rows = [r for r in rows if r[1] not in busy][:room]
            for chunk in self._chunks(rows):
                payload = chunk[0][2] if len(chunk) == 1 else \
                    EventBatch.join([r[2] for r in chunk])
                info = self._client.publish(topic, payload, qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                sent = time.monotonic()
                with self._inflight_lock:
                    for r in chunk:
                        self._inflight[r[1]] = sent
                cursor = max(cursor, chunk[-1][0])
                self.counters.inc("published", len(chunk))
                self.counters.inc("messages")
                self._pace(len(chunk))
            if len(rows) == room:
                self._wake.set()

    def _pace(self, events: int) -> None:
        """Keep a drain at ``drain_rate`` events a second: the gate's own work comes first on
        a small box (0: as fast as the link goes). Always yields the interpreter."""
        if self.drain_rate <= 0:
            time.sleep(0)
            return
        self._paced_until = max(self._paced_until, time.monotonic()) + events / self.drain_rate
        time.sleep(max(0.0, self._paced_until - time.monotonic()))

    def _chunks(self, rows: list[tuple[int, str, str]]) -> Iterator[list[tuple[int, str, str]]]:
        """Messages of up to ``batch_max`` events and ``MAX_BATCH_BYTES``."""
        chunk: list[tuple[int, str, str]] = []
        size = 40
        for r in rows:
            if chunk and (len(chunk) >= self.batch_max or size + len(r[2]) > MAX_BATCH_BYTES):
                yield chunk
                chunk, size = [], 40
            chunk.append(r)
            size += len(r[2]) + 1
        if chunk:
            yield chunk

    # Rules ----------------------------------------------------------------------------------
    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            item = self._sync_q.get()
            kind = item[0]
            try:
                if kind == "stop":
                    return
                if kind == "delta":
                    delta: RulesDelta = item[1]
                    result = self.cache.apply_delta(delta)
                    self.counters.inc(f"delta_{result}")
                    if result in ("gap", "epoch"):
                        self._snapshot(delta.site)
                    elif result == "applied" and self.on_rules:
                        self.on_rules(delta.site, delta.to_version)
                elif kind == "version":
                    v, retained, n = item[1], item[2], item[3]
                    with self._inflight_lock:
                        newest = self._version_seq.get(v.site) == n
                    if newest and v.site in self.sites and (
                            self._stale(v, retained) or self.cache.needs_code_key(v.site)):
                        self._snapshot(v.site)
                elif kind == "fresh":
                    site = item[1]
                    # A started box holds no code pepper: a snapshot brings it.
                    if self.cache.version(site) == 0 or self.cache.epoch(site) == RESYNC or \
                            self.cache.needs_code_key(site):
                        self._snapshot(site)
                elif kind == "snapshot":
                    self._snapshot(item[1])
            except Exception:
                log.exception("rules sync step %s failed", kind)

    def _stale(self, v: RulesVersion, retained: bool) -> bool:
        """Whether the cloud's current version says the held rules are not its rules: another
        epoch (a restored, re-created or reset cloud), a newer version, or an older one held
        at the broker (a history that went back without a new epoch: the cloud's word wins).
        A live version older than the held one is old news (a snapshot went past it)."""
        held, epoch = self.cache.version(v.site), self.cache.epoch(v.site)
        if v.epoch != epoch:
            self.counters.inc("version_epoch")
            return True
        if v.version < held and retained:
            self.counters.inc("version_rewound")
            log.warning("the cloud's rules of %s are at v%s, behind the v%s held: resyncing",
                        v.site, v.version, held)
            return True
        return v.version > held

    def resync(self) -> list[str]:
        """Take a snapshot of every site's rules now and replace the cache with it, whatever
        the versions say (``gatepost edge resync``); the sites."""
        self.counters.inc("resyncs")
        for site in self.sites:
            self._sync_q.put(("snapshot", site))
        return list(self.sites)

    def _snapshot(self, site: str) -> None:
        """Replace the site's cached rules with the cloud's (``take_snapshot``); retry in
        the background while the cloud is away or the snapshot comes cut short."""
        try:
            head = take_snapshot(self.http_url, site, self.api_key, self.cache)
        except (httpx.HTTPError, ValidationError, ValueError, OSError) as exc:
            self.counters.inc("snapshot_failures")
            if site not in self._snapshot_failing:
                log.warning("rules snapshot of %s failed: %s; retrying with back-off", site,
                            exc)
                self._snapshot_failing.add(site)
            self._retry_later(site)
            return
        if site in self._snapshot_failing:
            self._snapshot_failing.discard(site)
            log.info("rules snapshot of %s recovered", site)
        self._failures.pop(site, None)
        # The cloud's whole rule set as of now replaced what was held, whatever the numbers:
        # steps run one at a time, so nothing newer was applied since it was asked for.
        self.counters.inc("snapshots")
        if self.on_rules:
            self.on_rules(site, head.version)

    def _retry_later(self, site: str) -> None:
        """One snapshot retry per site at a time, however many steps failed, after the back-off
        of its failures in a row (``shared.retry``: 1 s doubling to 60 s, jittered)."""
        with self._inflight_lock:
            if site in self._retrying:
                return
            self._retrying.add(site)
            self._failures[site] = failures = self._failures.get(site, 0) + 1

        def fire() -> None:
            with self._inflight_lock:
                self._retrying.discard(site)
            if site in self._snapshot_failing:  # not taken since by another step
                self._sync_q.put(("snapshot", site))

        retry = threading.Timer(backoff_s(failures), fire)
        retry.daemon = True
        retry.start()

    def retrying(self) -> list[str]:
        """Sites whose snapshot failed and is tried again shortly."""
        with self._inflight_lock:
            return sorted(self._retrying | self._snapshot_failing)

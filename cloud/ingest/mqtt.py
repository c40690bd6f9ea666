"""The cloud's MQTT side: ingest events exactly once and acknowledge them; publish rules.

Events are stored idempotently on (site, box, id), only for gates assigned to the box that
sends them (``cloud.fleet``), and acknowledged after the row commits, so an
edge that resends (after a crash or an outage) never creates a duplicate. Rule deltas go out
QoS 1; the retained version is republished on every (re)connect so an edge that missed a delta
sees it is behind.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from cloud.fleet import Fleet
from cloud.ingest.reactions import Reaction, Reactions
from cloud.ingest.writer import EventWriter, StoredStep
from cloud.settings import CloudSettings
from cloud.society.epoch import reset_epoch
from cloud.society.rules import RulesService
from cloud.storage import Database
from cloud.storage import fleet as fleet_store
from shared.clock import Clock
from shared.contract import (
    MAX_DELTA_BYTES,
    Ack,
    CommandResponse,
    EdgeGates,
    Event,
    RulesDelta,
    RulesVersion,
    Topics,
    parse_events,
)
from shared.counters import Counters
from shared.mqtt_buffered import Client as BufferedClient
from shared.mqtt_tls import broker_address, use_tls
from shared.wire.commands import OpenCommand
from shared.wire.topics import Party, subscriptions

log = logging.getLogger(__name__)

MAX_DELTA_CHANGES = 10_000  # larger changes (or over MAX_DELTA_BYTES) go out as a version bump


class CloudMqtt:
    """One paho session of one cloud process. Several processes (``--workers``, or several
    machines) share the event stream through an MQTT shared subscription; each has its own
    client id and a clean session, so a dead process leaves nothing queued at the broker:
    what it had not acknowledged, the boxes send again to the others."""

    def __init__(self, db: Database, clock: Clock, settings: CloudSettings,
                 fleet: Fleet | None = None, *, counters: Counters | None = None,
                 reactions: Iterable[Reaction] = (), in_tx: Sequence[StoredStep] = (),
                 on_acked: Callable[[float], None] | None = None) -> None:
        """*reactions*: what follows a stored event, queued with it (``cloud.ingest.reactions``);
        *in_tx*: other steps run in the storing transaction; *on_acked*: each event's seconds
        from arrival to acknowledgement."""
        self.db = db
        self.clock = clock
        self.settings = settings
        self.mqtt_url = settings.mqtt_url or ""
        self.rules: RulesService | None = None
        self.connected = threading.Event()
        self.counters = counters if counters is not None else Counters()
        self.fleet = fleet or Fleet(db, clock, counters=self.counters)  # given: counts with us
        self._client: mqtt.Client | None = None
        # command id -> (the command, the box it went to, answered, the answer)
        self._pending: dict[str, tuple[OpenCommand, str, threading.Event,
                                       list[CommandResponse]]] = {}
        self._pending_lock = threading.Lock()
        # What follows a stored event: queued with it, drained by a thread of its own.
        self.reactions = Reactions(db, self.counters, kinds=reactions)
        self.writer = EventWriter(db, clock, self._ack, self.counters, settings.batch_max,
                                  settings.batch_wait_ms / 1000,
                                  in_tx=(self.reactions.enqueue, *in_tx),
                                  after_commit=(self.reactions.kick,), on_acked=on_acked)
        # (site, epoch) -> the highest version published, as this process has seen
        self._seen: dict[tuple[str, str], int] = {}
        self._seen_lock = threading.Lock()
        self._published_epoch = ""
        self._stopping = threading.Event()

    def start(self, rules: RulesService) -> None:
        """Connect in the background."""
        self.rules = rules
        host, port, _ = broker_address(self.mqtt_url)
        c = BufferedClient(mqtt.CallbackAPIVersion.VERSION2,
                           client_id=self.settings.mqtt_client_id, protocol=mqtt.MQTTv5)
        use_tls(c, self.mqtt_url, self.settings.mqtt_tls_ca, self.settings.mqtt_tls_cert,
                self.settings.mqtt_tls_key)
        if self.settings.mqtt_user:
            c.username_pw_set(self.settings.mqtt_user, self.settings.secret("mqtt_password"))
        # paho types the delays as int but computes with floats; 0.2 s keeps reconnects snappy
        c.reconnect_delay_set(min_delay=0.2, max_delay=2)  # type: ignore[arg-type]
        c.max_inflight_messages_set(100)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self._client = c
        self._guarded(self.fleet.warm, "fleet_refresh_errors",  # else: on first messages
                      "reading the boxes' assignments")
        self.writer.start()
        self.reactions.start()
        c.connect_async(host, port, keepalive=10, clean_start=True)
        c.loop_start()
        if self.settings.history_check_s > 0:
            self._every(self.settings.history_check_s, "rules-history", self._history_if_up,
                        "history_check_errors", "checking the rules history")
        # The assignments of the sites boxes speak for, kept fresh off the message thread.
        self._every(1.0, "fleet-refresh", self.fleet.refresh, "fleet_refresh_errors",
                    "reading the boxes' assignments")

    def stop(self) -> None:
        """Store what is queued, then disconnect and stop paho's thread."""
        self._stopping.set()
        self.writer.stop()
        self.reactions.stop()
        if self._client:
            self._client.disconnect()
            self._client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the cloud: %s", reason_code)
            return
        share = f"$share/{self.settings.mqtt_share_group}/"
        # Events are shared: each goes to one process of the group, at QoS 0 from the broker:
        # what makes an event safe is the box's outbox, which sends it again until the ack
        # (sent after commit) comes, so the broker need not track it to this process too;
        # each event costs one packet here instead of two (the PUBACK). The rest every process
        # needs: retained availability and gate claims, and the answers to its own commands.
        # The retained versions too: one of this epoch that the database has not reached
        # says the database went back (a restore), and the epoch must change.
        client.subscribe(subscriptions(Party.CLOUD, share=share))
        self.connected.set()
        log.info("cloud connected to %s as %s", self.mqtt_url, self.settings.mqtt_client_id)
        self.publish_versions()

    def publish_versions(self) -> None:
        """Publish every site's current version and epoch, retained."""
        if self.rules and self._client is not None:
            epoch = self.rules.epoch()
            for site, version in self.rules.versions().items():
                self._publish_version(site, version, epoch)
            self._published_epoch = epoch

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        log.warning("cloud lost the broker: %s", reason_code)

    def _ack(self, edge: str, ids: list[str]) -> None:
        if self._client is not None:
            # QoS 0: an ack lost with a connection is an event the box sends again, which is
            # stored once and acknowledged again.
            self._client.publish(Topics.edge_acks(edge), Ack(ids=ids).model_dump_json(), qos=0)

    def publish_delta(self, delta: RulesDelta) -> None:
        """Send a committed change to the site's edges."""
        if self._client is None:
            return
        if len(delta.changes) <= MAX_DELTA_CHANGES:
            # Fields a change leaves empty are left out: a box from before a field was added
            # (e.g. ``schedule``) still reads every change that does not use it.
            body = delta.model_dump_json(exclude_none=True)
            if len(body) <= MAX_DELTA_BYTES:
                self._client.publish(Topics.rules_delta(delta.site), body, qos=1)
        self._publish_version(delta.site, delta.to_version, delta.epoch)

    def _publish_version(self, site: str, version: int, epoch: str) -> None:
        assert self._client is not None
        msg = RulesVersion(site=site, version=version, epoch=epoch)
        self._client.publish(Topics.rules_version(site), msg.model_dump_json(), qos=1,
                             retain=True)

    # Ingest ---------------------------------------------------------------------------------
    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        try:
            self._handle(client, msg)
        except Exception:
            # paho would otherwise end its network thread: count, log, carry on.
            self.counters.inc("message_errors")
            log.exception("handling a message on %s failed", msg.topic)

    def _handle(self, client: mqtt.Client, msg: mqtt.MQTTMessage) -> None:
        edge = Topics.parse_edge(msg.topic)
        if msg.topic.endswith("/available"):
            self._store_availability(edge, msg.payload)
            return
        if msg.topic.endswith("/gates"):
            self._store_gates(edge, msg.payload)
            return
        if msg.topic.endswith("/responses"):
            self._resolve(edge, msg.topic, msg.payload)
            return
        if msg.topic.endswith("/rules/version"):
            if msg.payload:  # retained (held before this session) or a peer's, or our own
                v = RulesVersion.model_validate_json(msg.payload)
                with self._seen_lock:
                    if v.version > self._seen.get((v.site, v.epoch), -1):
                        self._seen[(v.site, v.epoch)] = v.version
                if msg.retain:  # one per site at connect: check that site alone
                    self.check_history(v.site)
            return
        try:
            events = parse_events(msg.payload)
        except (ValidationError, ValueError) as exc:
            self.counters.inc("rejected_events")
            log.warning("rejected event on %s: %s", msg.topic, str(exc).splitlines()[0])
            return
        for event in events:
            self._accept(edge, msg.topic, event)

    def _accept(self, edge: str | None, topic: str, event: Event) -> None:
        try:
            event.body  # noqa: B018  (the data must fit its type's model)
        except ValidationError as exc:
            # Refused alone and never acknowledged (the others of its batch are stored): the
            # box keeps it, and the count and the log say which event it was.
            self.counters.inc("rejected_events")
            log.warning("rejected event %s on %s: its data does not fit a %s: %s", event.id,
                        topic, event.type, str(exc).splitlines()[0])
            return
        if event.edge != edge:
            self.counters.inc("rejected_events")
            log.warning("rejected event on %s: event of edge %r", topic, event.edge)
            return
        if event.id != f"{event.gate}:{event.seq}":
            self.counters.inc("rejected_events")
            log.warning("rejected event on %s: id %r is not gate:seq", topic, event.id)
            return
        if not self.fleet.may_speak(event.edge, event.site, event.gate):
            # Never stored and never acknowledged: a box that was merely mis-provisioned
            # keeps the event and delivers it once the gate is assigned to it.
            self.fleet.refuse(event.edge, "event", event.site, event.gate, topic, event.id)
            return
        self.writer.put(event)

    def check_history(self, site: str | None = None) -> None:
        """Whether the database went back: a version of its epoch was published (retained at
        the broker, or seen since) that the database has not reached (restored from a
        backup, failed over to a replica that lagged). Then start a new epoch, once across
        processes, so every box replaces its rules. Also republish when the epoch changed
        under this process (``gatepost cloud rules-reset``). *site*: look at that site only."""
        if self.rules is None:
            return
        epoch = self.rules.epoch()
        ours = self.rules.versions(site)
        with self._seen_lock:
            seen = {s: self._seen[(s, epoch)] for s in ours if (s, epoch) in self._seen}
        ahead = [(s, v) for s, v in seen.items() if v > ours[s]]
        if ahead:
            where, v = ahead[0]
            self.counters.inc("history_rewound")
            new = reset_epoch(self.db, self.clock.now().isoformat(),
                              f"restore detected: {where} v{v} was published, the database "
                              f"holds v{ours[where]}", only_if=epoch)
            epoch = new or self.rules.epoch()
        if epoch != self._published_epoch:
            self.publish_versions()

    def _history_if_up(self) -> None:
        if self.connected.is_set():
            self.check_history()

    def _guarded(self, fn: Callable[[], object], counter: str, what: str) -> None:
        try:
            fn()
        except Exception:
            self.counters.inc(counter)
            log.exception("%s failed", what)

    def _every(self, seconds: float, name: str, fn: Callable[[], object], counter: str,
               what: str) -> None:
        """Run *fn* every *seconds* on a thread of its own until the process stops; a failure
        is counted and logged, and the next run comes as usual."""
        def loop() -> None:
            while not self._stopping.wait(seconds):
                self._guarded(fn, counter, what)

        threading.Thread(target=loop, name=name, daemon=True).start()

    def store_event(self, e: Event) -> bool:
        """Store one event at once (acked, its reactions queued, as a batch of one); False
        when it was already stored."""
        return bool(self.writer.write([e]))

    def _store_gates(self, edge: str | None, payload: bytes | bytearray) -> None:
        if not payload or edge is None:
            return
        g = EdgeGates.model_validate_json(payload)
        if g.edge != edge:
            raise ValueError(f"gates of {g.edge} on the topic of {edge}")
        topic = Topics.edge_gates(edge)
        mine = []
        for item in g.gates:
            site, gate = item.get("site", ""), item.get("gate", "")
            if self.fleet.may_speak(edge, site, gate):
                mine.append((site, gate))
            else:
                self.fleet.refuse(edge, "gate_claim", site, gate, topic)
        with self.db.write() as c:
            for site, gate in mine:
                fleet_store.claim(c, site, gate, edge, self.clock.now().isoformat())

    def edge_of(self, site: str, gate: str) -> str | None:
        """The box that serves a gate: assigned to it, or claimed by a box that may."""
        return self.fleet.edge_for(site, gate)

    def _resolve(self, edge: str | None, topic: str, payload: bytes | bytearray) -> None:
        resp = CommandResponse.model_validate_json(payload)
        with self._pending_lock:
            waiter = self._pending.get(resp.transaction)
        if waiter is None:
            return
        cmd, sent_to, done, box = waiter
        if sent_to != edge:  # an answer for a command sent to another box
            self.fleet.refuse(edge or "?", "command_response", cmd.site, cmd.gate, topic,
                              resp.transaction)
            return
        box.append(resp)
        done.set()

    def send_command(self, edge: str, cmd: OpenCommand,
                     timeout: float = 5.0) -> CommandResponse | None:
        """Publish a signed command (never retained) and wait for the box's answer."""
        assert self._client is not None
        done = threading.Event()
        box: list[CommandResponse] = []
        with self._pending_lock:
            self._pending[cmd.id] = (cmd, edge, done, box)
        try:
            self._client.publish(Topics.edge_commands(edge), json.dumps(cmd.wire()), qos=1,
                                 retain=False)
            return box[0] if done.wait(timeout) and box else None
        finally:
            with self._pending_lock:
                self._pending.pop(cmd.id, None)

    def _store_availability(self, edge: str | None, payload: bytes | bytearray) -> None:
        text = payload.decode(errors="replace")
        if edge is None or text not in ("online", "offline", "stopped"):
            self.counters.inc("rejected_available")
            return
        with self.db.write() as c:
            fleet_store.set_availability(c, edge, text, self.clock.now().isoformat())

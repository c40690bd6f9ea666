"""The edge daemon: readers → decide() → barrier pulse → outbox → cloud; loop passes.

The constructor only assigns; ``start()`` starts; ``stop()`` stops every part in a fixed
order, keeps going past a failing part and records the failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from edge.adapters.cloud_link import CloudLink
from edge.adapters.reader import SerialReader
from edge.adapters.relay import BarrierActuator, ModbusBarrier, ModbusBus
from edge.config import EdgeConfig, GateConfig
from edge.core.decide import decide, effective_direction
from edge.core.parking import area_key, inside_area
from edge.core.plate_match import PlateIndex
from edge.core.types import (
    Credential,
    Decision,
    PlateEvidence,
    Policy,
    RecentCredential,
)
from edge.drivers.uhf18 import Rejected
from edge.evidence import EvidenceStore
from edge.ring import EventRing
from edge.state import CacheView, GateState
from edge.store.cache import Presence, RulesCache
from edge.store.db import EdgeDB
from edge.store.outbox import Outbox
from shared.clock import Clock
from shared.contract import CommandResponse
from shared.vocab import Direction, EventType, Outcome, Reason

log = logging.getLogger(__name__)


class EdgeDaemon:
    """One box: its gates, its cache and outbox, its link to the cloud."""

    def __init__(self, config: EdgeConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.policy = Policy(dedup_hold_s=config.policy.dedup_hold_s,
                             plate_min_score=config.alpr.min_score,
                             fusion_window_s=config.policy.fusion_window_s)
        self.gates = {g.id: GateState(g) for g in config.gates}
        self.ring = EventRing(20_000)
        self.counters: Counter[str] = Counter()
        self.failures: list[str] = []
        self.rules_versions: dict[str, int] = {}
        self._seen: dict[tuple[str, str], datetime] = {}
        self._recent: dict[tuple[str, str], RecentCredential] = {}
        self._indexes: dict[str, tuple[int, PlateIndex]] = {}
        self._agreeing: dict[str, tuple[str, int]] = {}
        self.lanes: dict[str, Any] = {}
        self.evidence = EvidenceStore(config.data_dir / "evidence",
                                      config.evidence.max_mb * 1024 * 1024)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.db: EdgeDB | None = None
        self.cache: RulesCache | None = None
        self.presence: Presence | None = None
        self.outbox: Outbox | None = None
        self.link: CloudLink | None = None
        self.readers: dict[str, SerialReader] = {}
        self.barriers: dict[str, BarrierActuator] = {}
        self.buses: dict[str, ModbusBus] = {}
        self._view: CacheView | None = None

    # Life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the store, connect devices and cloud, start the workers."""
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = EdgeDB(cfg.data_dir / "edge.sqlite")
        self.cache = RulesCache(self.db)
        self.presence = Presence(self.db)
        self.outbox = Outbox(self.db, cfg.id, {g.id: g.site for g in cfg.gates})
        self._view = CacheView(self.cache, self.presence, self._seen, self._recent,
                               self._plate_index, {g.id: g.site for g in cfg.gates})
        self.rules_versions = {s: self.cache.version(s) for s in cfg.sites}
        self.outbox.prune_journal(self.clock.now() - timedelta(days=cfg.api.journal_days))
        for g in cfg.gates:
            if g.relay:
                bus = self.buses.setdefault(
                    g.relay.url, ModbusBus(g.relay.url, timeout_s=g.relay.timeout_ms / 1000,
                                           baudrate=g.relay.baud))
                self.barriers[g.id] = ModbusBarrier(
                    bus, unit=g.relay.unit, relay=g.relay.relay, loop_input=g.relay.loop_input,
                    open_input=g.relay.open_input, closed_input=g.relay.closed_input)
        self.link = CloudLink(cfg.id, cfg.sites, mqtt_url=cfg.cloud.mqtt_url,
                              http_url=cfg.cloud.http_url, outbox=self.outbox, cache=self.cache,
                              username=cfg.cloud.username, password=cfg.cloud.password,
                              api_key=cfg.cloud.api_key,
                              on_rules=self._on_rules,
                              gates=[(g.site, g.id) for g in cfg.gates],
                              on_command=self.handle_command)
        self.link.start()
        for url in self.buses:
            t = threading.Thread(target=self._poll_bus, args=(url,), name="inputs", daemon=True)
            t.start()
            self._threads.append(t)
        for g in cfg.gates:
            if g.reader:
                r = self._make_reader(g)
                self.readers[g.id] = r
                r.start()
        self._start_lanes()
        log.info("edge %s started with %d gates", cfg.id, len(cfg.gates))

    def _make_reader(self, g: GateConfig) -> SerialReader:
        assert g.reader is not None
        gid = g.id

        def on_epc(epc: str, frame_ns: int) -> None:
            self.handle_epc(gid, epc, frame_ns)

        def on_reject(rej: Rejected) -> None:
            self.counters[f"reader_rejected_{rej.reason}"] += 1

        def on_state(up: bool, why: str) -> None:
            self._device_state(gid, "reader", up, why)

        return SerialReader(gid, g.reader.url, baud=g.reader.baud, protocol=g.reader.protocol,
                            on_epc=on_epc, on_reject=on_reject, on_state=on_state)

    def _join_pollers(self) -> None:
        for t in self._threads:
            t.join(3)

    def stop(self) -> None:
        """Ordered stop: readers, input pollers, cloud link, buses, store."""
        self._stop.set()
        steps: list[tuple[str, Callable[[], None]]] = [
            (f"reader {k}", r.stop) for k, r in self.readers.items()]
        steps += [(f"camera {k}", lane.stop) for k, lane in self.lanes.items()]
        steps.append(("input pollers", self._join_pollers))
        if self.link:
            steps.append(("cloud link", self.link.stop))
        steps += [(f"bus {u}", b.close) for u, b in self.buses.items()]
        if self.db:
            steps.append(("store", self.db.close))
        for name, fn in steps:
            try:
                fn()
            except Exception as exc:  # keep stopping the rest
                self.failures.append(f"{name}: {exc}")
                log.exception("stopping %s failed", name)
        log.info("edge %s stopped", self.config.id)

    # The hot path ---------------------------------------------------------------------------
    def handle_epc(self, gate_id: str, epc: str, frame_ns: int) -> Decision:
        """Decide on one tag read and act on it."""
        assert self._view
        now = self.clock.now()
        cred = Credential("tag", epc.upper())
        decision = decide(cred, self.gates[gate_id].info, self._view, now, self.policy)
        return self._act(gate_id, decision, now, frame_ns,
                         {"credential": {"kind": cred.kind, "value": cred.value}})

    def handle_plate(self, gate_id: str, evidence: PlateEvidence, frame: Any,
                     box: tuple[int, int, int, int] | None, frame_ns: int,
                     final: bool = True) -> bool:
        """Decide on what a camera read and act on it (``edge.plate_lane.handle_plate``)."""
        from edge.plate_lane import handle_plate

        return handle_plate(self, gate_id, evidence, frame, box, frame_ns, final)

    def handle_command(self, cmd: dict[str, Any], retained: bool) -> CommandResponse:
        """Verify a signed command, re-check local policy, act, and say what happened."""
        from edge.remote import handle_command

        return handle_command(self, cmd, retained)

    def guard_open(self, gate_id: str, user: str, role: str, reason: str,
                   vrn: str | None = None) -> Decision:
        """Open for a guard at the panel: a ``guard_override`` decision with who and why."""
        from edge.remote import guard_open

        return guard_open(self, gate_id, user, role, reason, vrn)

    def _act(self, gate_id: str, decision: Decision, now: datetime, frame_ns: int,
             read: dict[str, Any], image: tuple[Any, Any] | None = None,
             extra: dict[str, Any] | None = None) -> Decision:
        """Record, open and publish one decision (the path shared by tags and plates)."""
        assert self.outbox and self.db
        gate = self.gates[gate_id]
        cred = decision.credential
        self._seen[(gate_id, cred.key)] = now  # sliding: the credential must go away first
        if len(self._seen) > 50_000:
            self._forget_old_reads(now)
        self.counters[f"decision_{decision.reason.value}"] += 1
        base: dict[str, Any] = {
                "credential": {"kind": cred.kind, "value": cred.value},
                "outcome": decision.outcome.value, "reason": decision.reason.value,
                "vrn": decision.vrn, "direction": decision.direction.value
                if decision.direction else None, "detail": decision.detail, **(extra or {})}
        if decision.subscription:
            base["subscription"] = decision.subscription
        if decision.vrn and self.cache and (flat := self.cache.flat(gate.cfg.site, decision.vrn)):
            base["flat"] = flat
        local = {"type": "decision", "gate": gate_id, "at": now.isoformat(),
                 "decided_mono_ns": time.monotonic_ns(), "decided_wall_ms": time.time() * 1e3,
                 "frame_mono_ns": frame_ns}
        if decision.reason is not Reason.DUPLICATE_READ and decision.vrn:
            self._recent[(gate_id, cred.kind)] = RecentCredential(cred.kind, decision.vrn, now)
        if decision.outcome is Outcome.IGNORED:
            self.ring.add({**local, "event_id": None, **base})
            return decision
        if image is not None:
            key = f"{gate_id}-{now:%Y%m%dT%H%M%S%f}"
            base["evidence"] = self.evidence.save(key, image[0], image[1])
            base["ocr"] = read.get("candidates")
        alert = decision.reason is Reason.CREDENTIAL_MISMATCH or "credential_mismatch" in \
            decision.detail
        with self.db.write() as c:
            self.outbox.add(c, gate_id, EventType.READ, now, read)
            ev = self.outbox.add(c, gate_id, EventType.DECISION, now, base)
        self.ring.add({**local, "event_id": ev.id, **base})
        if alert:
            self._alert(gate_id, "credential_mismatch", now, {
                "decision": ev.id, "vrn": decision.vrn, "detail": decision.detail})
        if decision.opens:
            self._open(gate, decision, ev.id, frame_ns, now)
        if self.link:
            self.link.notify()
        return decision

    def _plate_index(self, site: str) -> PlateIndex:
        """The site's vehicles as a plate allowlist, rebuilt when its rules change."""
        assert self.cache
        version = self.rules_versions.get(site, 0)
        held = self._indexes.get(site)
        if held is None or held[0] != version:
            held = (version, PlateIndex(self.cache.vehicles(site)))
            self._indexes[site] = held
        return held[1]

    def _start_lanes(self) -> None:
        if any(g.camera for g in self.config.gates):
            from edge.plate_lane import start_lanes

            self.lanes = start_lanes(self)

    def _forget_old_reads(self, now: datetime) -> None:
        """Bound the de-dup memory: reads older than the hold can never be duplicates."""
        horizon = now - timedelta(seconds=self.policy.dedup_hold_s)
        for key in [k for k, at in self._seen.items() if at < horizon]:
            self._seen.pop(key, None)

    def _open(self, gate: GateState, decision: Decision, decision_id: str, frame_ns: int,
              now: datetime) -> None:
        assert self.outbox
        barrier = self.barriers.get(gate.cfg.id)
        if barrier is None:
            result_ok, ack_ns, error = False, time.monotonic_ns(), "no relay configured"
        else:
            res = barrier.open(gate.cfg.pulse_ms)
            result_ok, ack_ns, error = res.ok, res.ack_mono_ns, res.error
        latency_ms = round((ack_ns - frame_ns) / 1e6, 3)
        data = {"decision": decision_id, "ok": result_ok, "vrn": decision.vrn,
                "pulse_ms": gate.cfg.pulse_ms, "read_to_ack_ms": latency_ms, "error": error}
        ev = self.outbox.record(gate.cfg.id, EventType.OPEN, now, data)
        self.ring.add({"type": "open", "gate": gate.cfg.id, "at": now.isoformat(),
                       "event_id": ev.id, "ack_mono_ns": ack_ns, "frame_mono_ns": frame_ns,
                       **data})
        if result_ok:
            gate.awaiting_pass = (decision.vrn, now, decision_id)
            if self.config.policy.open_confirm_s > 0:
                gate.confirm_open = (time.monotonic() + self.config.policy.open_confirm_s,
                                     decision_id)
            self.counters["opens"] += 1
        else:
            self.counters["open_failures"] += 1
            self._alert(gate.cfg.id, "barrier_failed", now,
                        {"decision": decision_id, "vrn": decision.vrn, "detail": error})

    def _alert(self, gate_id: str, kind: str, now: datetime, data: dict[str, Any]) -> None:
        """Raise a guard alert: an ``alert`` event for the cloud and a line on the panel."""
        assert self.outbox
        payload = {"alert": kind, **data}
        ev = self.outbox.record(gate_id, EventType.ALERT, now, payload)
        self.counters[f"alert_{kind}"] += 1
        self.ring.add({"type": "alert", "gate": gate_id, "at": now.isoformat(),
                       "event_id": ev.id, **payload})

    # Inputs and passes ----------------------------------------------------------------------
    def _poll_bus(self, url: str) -> None:
        gates = [g for g in self.gates.values() if g.cfg.relay and g.cfg.relay.url == url]
        period = self.config.policy.poll_ms / 1000
        while not self._stop.wait(period):
            try:
                self._poll_once(gates)
            except Exception:
                # Keep polling: one bad cycle must not stop pass detection for good.
                self.counters["poll_errors"] += 1
                log.exception("input poll of %s failed", url)

    def _poll_once(self, gates: list[GateState]) -> None:
        for g in gates:
            inputs = self.barriers[g.cfg.id].read_inputs()
            self._device_state(g.cfg.id, "relay", inputs is not None,
                               "" if inputs else "inputs unreadable")
            if inputs is None:
                continue
            prev, g.inputs = g.inputs, inputs
            if prev is not None and prev.loop and not inputs.loop:
                self._on_pass(g)
            if g.confirm_open and inputs.open_limit:
                g.confirm_open = None
            elif g.confirm_open and time.monotonic() > g.confirm_open[0]:
                decision_id = g.confirm_open[1]
                g.confirm_open = None
                self._alert(g.cfg.id, "barrier_failed", self.clock.now(), {
                    "decision": decision_id, "detail": "the boom did not reach its open limit"})

    def _on_pass(self, gate: GateState) -> None:
        """A vehicle cleared the loop: record the pass and flip its presence."""
        assert self.outbox and self.db and self.presence
        now = self.clock.now()
        vrn, decision_id = None, None
        if gate.awaiting_pass:
            p_vrn, p_at, p_id = gate.awaiting_pass
            if now - p_at <= timedelta(seconds=self.config.policy.pass_window_s):
                vrn, decision_id = p_vrn, p_id
            gate.awaiting_pass = None
        direction: Direction = gate.info.direction
        parking = self._view.parking_of(gate.cfg.id) if self._view else None
        pid = parking[0] if parking else None
        area = area_key(pid, vrn) if vrn is not None else None
        if vrn is not None:
            direction = effective_direction(gate.info,
                                            inside_area(self.presence.is_inside, pid, vrn))
        data = {"vrn": vrn, "decision": decision_id, "direction": direction.value,
                "attributed": vrn is not None, "parking": pid}
        with self.db.write() as c:
            ev = self.outbox.add(c, gate.cfg.id, EventType.PASS, now, data)
            if area is not None:
                self.presence.set(c, area, direction is Direction.ENTRY, now)
        self.counters["passes"] += 1
        self.ring.add({"type": "pass", "gate": gate.cfg.id, "at": now.isoformat(),
                       "event_id": ev.id, **data})
        if self.link:
            self.link.notify()

    def _device_state(self, gate_id: str, device: str, up: bool, why: str) -> None:
        """Record a device going down or coming back, once per transition."""
        gate = self.gates[gate_id]
        attr = f"{device}_ok"
        if getattr(gate, attr) == up:
            return
        first = getattr(gate, attr) is None
        setattr(gate, attr, up)
        if first and up:
            return
        if self.outbox is None or self._stop.is_set():
            return
        now = self.clock.now()
        data = {"device": device, "state": "up" if up else "down", "error": why}
        try:
            ev = self.outbox.record(gate_id, EventType.FAULT, now, data)
        except Exception:
            log.exception("could not record %s state", device)
            return
        self.ring.add({"type": "fault", "gate": gate_id, "at": now.isoformat(),
                       "event_id": ev.id, **data})
        if self.link:
            self.link.notify()

    def _on_rules(self, site: str, version: int) -> None:
        self.rules_versions[site] = version
        self.ring.add({"type": "rules", "gate": None, "site": site, "version": version,
                       "at": self.clock.now().isoformat()})

    # Introspection --------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Everything a guard or a test wants to know at a glance."""
        link = self.link
        return {
            "edge": self.config.id,
            "last_event_id": self.ring.last_id,
            "cloud_connected": bool(link and link.connected),
            "rules": dict(self.rules_versions),
            "outbox": self.outbox.size() if self.outbox else None,
            "last_seq": self.outbox.last_seq() if self.outbox else {},
            "gates": [g.as_dict() for g in self.gates.values()],
            "readers": {k: {"connected": r.connected, "frames": r.frames,
                            "rejected": dict(r.rejected)} for k, r in self.readers.items()},
            "counters": dict(self.counters) | (dict(link.counters) if link else {}),
            "cache": self.cache.counts() if self.cache else {},
            "cameras": {k: lane.stats() for k, lane in self.lanes.items()},
        }

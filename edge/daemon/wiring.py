"""The edge daemon: wires lanes, stores, devices and the cloud link, and owns nothing else.

Each gate's state belongs to its ``Lane`` (``edge.lanes``); readers, the relay-board pollers,
the cameras and the cloud link only post messages to lanes. The constructor only assigns;
``start()`` starts; ``stop()`` stops every part in a fixed order, keeps going past a failing
part and records the failure. ``supervise()`` restarts a worker that died, within a budget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from edge.adapters.cloud_link import CloudLink
from edge.adapters.keypad import OsdpKeypad
from edge.adapters.reader import CredentialReader
from edge.adapters.relay import BarrierActuator, ModbusBarrier, ModbusBus
from edge.adapters.walkins import Refused, WalkIns
from edge.config import EdgeConfig
from edge.core.plate_match import PlateIndex
from edge.core.types import Decision, PlateEvidence, Policy
from edge.daemon.devices import gate_keypad, gate_reader
from edge.daemon.supervisor import Supervisor
from edge.faces.homeassistant import HomeAssistant
from edge.faces.metrics import EdgeMetrics
from edge.faces.port import SiteClocks
from edge.lanes import (
    CodeEntry,
    Command,
    GuardOpen,
    Inputs,
    Lane,
    PlateRead,
    Release,
    RulesChanged,
    TagRead,
    VisitorOpen,
)
from edge.lanes.commands import correct_presence
from edge.lanes.messages import ClearCodeLock
from edge.lanes.recorder import Recorder
from edge.lanes.view import LaneView
from edge.lanes.walkins import visitor_left
from edge.peers.exchange import SpendPeers
from edge.store.accounts import Accounts
from edge.store.cache import Presence, RulesCache
from edge.store.db import EdgeDB
from edge.store.evidence import EvidenceStore
from edge.store.lanes import LaneStore
from edge.store.outbox import Outbox
from edge.store.reads import StoreReads
from edge.store.retention import Retention
from edge.store.ring import EventRing
from shared.clock import Clock
from shared.contract import CommandResponse
from shared.counters import Counters
from shared.wire.commands import OpenCommand

log = logging.getLogger(__name__)


class EdgeDaemon:
    """One box: its lanes, its cache and outbox, its link to the cloud. It provides the port
    its faces read (``edge.faces.port.Box``)."""

    def __init__(self, config: EdgeConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        p = config.policy
        self.policy = Policy(dedup_hold_s=p.dedup_hold_s, plate_min_score=config.alpr.min_score,
                             fusion_window_s=p.fusion_window_s, redecide_s=p.redecide_s)
        self.ring = EventRing(20_000)
        self.counters = Counters()
        self.failures: list[str] = []
        self.rules_versions: dict[str, int] = {}
        self.lanes: dict[str, Lane] = {}
        self.cameras: dict[str, Any] = {}
        self.evidence = EvidenceStore(config.data_dir / "evidence",
                                      config.evidence.max_mb * 1024 * 1024)
        self.supervisor = Supervisor()
        self._indexes: dict[str, tuple[int, PlateIndex]] = {}  # site -> (rules change, index)
        self._rules_changes: dict[str, int] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.db: EdgeDB | None = None
        self.reads: StoreReads | None = None
        self.accounts: Accounts | None = None
        self.retention: Retention | None = None
        self.homeassistant: HomeAssistant | None = None
        self.cache: RulesCache | None = None
        self.presence: Presence | None = None
        self.outbox: Outbox | None = None
        self.recorder: Recorder | None = None
        self.link: CloudLink | None = None
        self.spends: SpendPeers | None = None
        self.readers: dict[str, CredentialReader] = {}
        self.keypads: dict[str, OsdpKeypad] = {}
        self.barriers: dict[str, BarrierActuator] = {}
        self.buses: dict[str, ModbusBus] = {}
        self.walkins = WalkIns(config.cloud.http_url, config.cloud.api_key)

    # Life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the store, build the lanes, connect devices and cloud, start the workers."""
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = EdgeDB(cfg.data_dir / "edge.sqlite")
        self.reads = StoreReads(self.db)
        self.accounts = Accounts(self.db, self.clock)
        self.cache = RulesCache(self.db, cfg.runtime_dir)
        self.presence = Presence(self.db)
        site_of_gate = {g.id: g.site for g in cfg.gates}
        self.outbox = Outbox(self.db, cfg.id, site_of_gate,
                             max_bytes=cfg.cloud.queue_max_mb * 2**20)
        self.metrics = EdgeMetrics()
        self.recorder = Recorder(self.db, self.outbox, self.cache, self.ring, self.counters,
                                 self.evidence, self._notify, self.metrics)
        view = LaneView(self.cache, self.presence, self._plate_index, site_of_gate)
        self.rules_versions = {s: self.cache.version(s) for s in cfg.sites}
        self.retention = Retention(self.outbox, self.evidence, self.clock, cfg.data_dir,
                                   journal_days=cfg.api.journal_days,
                                   evidence_days=cfg.evidence.max_days,
                                   min_free_mb=cfg.disk.min_free_mb, counters=self.counters)
        self.retention.run()
        store = LaneStore(self.db)
        self.spends = SpendPeers(cfg.id, cfg.peers, cfg.sites, self.db, self.counters)
        self.spends.start()
        if self.spends.peers:
            self.supervisor.watch("peer spends", self.spends.alive, None, None)
        for g in cfg.gates:
            if g.relay:
                bus = self.buses.setdefault(
                    g.relay.url, ModbusBus(g.relay.url, timeout_s=g.relay.timeout_ms / 1000,
                                           baudrate=g.relay.baud))
                self.barriers[g.id] = ModbusBarrier(
                    bus, unit=g.relay.unit, relay=g.relay.relay, loop_input=g.relay.loop_input,
                    open_input=g.relay.open_input, closed_input=g.relay.closed_input,
                    hold_relay=g.relay.hold_relay)
            lane = Lane(g, policy=self.policy, tunables=cfg.policy, clock=self.clock, view=view,
                        recorder=self.recorder, store=store, presence=self.presence,
                        barrier=self.barriers.get(g.id),
                        min_score=(cfg.alpr.agreeing_reads, cfg.alpr.instant_score),
                        spends=self.spends)
            self.lanes[g.id] = lane
            lane.start()
            self.supervisor.watch(f"lane {g.id}", lane.alive, lane.last_progress,
                                  lane.restart)
        self.link = CloudLink(cfg.id, cfg.sites, mqtt_url=cfg.cloud.mqtt_url,
                              http_url=cfg.cloud.http_url, outbox=self.outbox, cache=self.cache,
                              username=cfg.cloud.username, password=cfg.cloud.password,
                              api_key=cfg.cloud.api_key, on_rules=self._on_rules,
                              gates=[(g.site, g.id) for g in cfg.gates],
                              on_command=self.handle_command, batch_max=cfg.cloud.batch_max,
                              drain_rate=cfg.cloud.drain_rate,
                              tls=(cfg.cloud.tls_ca, cfg.cloud.tls_cert, cfg.cloud.tls_key))
        self.link.start()
        self.supervisor.watch("cloud link", self.link.alive, None, None)
        if cfg.homeassistant.enabled:
            self.homeassistant = HomeAssistant(self, cfg.homeassistant.discovery_prefix)
            self.homeassistant.start()
        for url in self.buses:
            self._start_poller(url)
        for g in cfg.gates:
            if g.reader:
                r = gate_reader(g, self.lanes[g.id], self.counters)
                self.readers[g.id] = r
                r.start()
                self.supervisor.watch(f"reader {g.id}", r.alive, r.last_progress, r.start)
        for g in cfg.gates:
            if g.keypad:
                pad = gate_keypad(g, self.lanes[g.id], self.enter_code)
                self.keypads[g.id] = pad
                pad.start()
                self.supervisor.watch(f"keypad {g.id}", pad.alive, pad.last_progress, None)
        self._start_cameras()
        t = threading.Thread(target=self._housekeeping, name="housekeeping", daemon=True)
        t.start()
        self._threads.append(t)
        log.info("edge %s started with %d gates", cfg.id, len(cfg.gates))

    def _housekeeping(self, every_s: float = 300.0) -> None:
        """Every few minutes: prune the event log and the evidence by age, by bound and by the
        disk's free-space floor (``edge.store.retention``); raise ``outbox_full`` once when only
        unsent events are left past the log's bound."""
        while not self._stop.wait(every_s):
            assert self.outbox is not None and self.retention is not None
            try:
                was = self.outbox.full
                self.retention.run()
                if self.outbox.full and not was:
                    self.counters.inc("outbox_full")
            except Exception:
                self.counters.inc("housekeeping_errors")
                log.exception("pruning the event log and evidence failed")

    def _start_poller(self, url: str) -> None:
        progress = {"at": time.monotonic()}
        t = threading.Thread(target=self._poll_bus, args=(url, progress), name="inputs",
                             daemon=True)
        t.start()
        self._threads.append(t)
        self.supervisor.watch(f"inputs {url}", t.is_alive, lambda: progress["at"],
                              lambda: self._start_poller(url), replace=True)

    def _join_pollers(self) -> None:
        for t in self._threads:
            t.join(3)

    def stop(self) -> None:
        """Ordered stop: readers, keypads and cameras; input pollers; lanes; peers, Home
        Assistant, the cloud link, buses, store. The parts of one step stop side by side (a
        socket line's close alone waits 0.3 s)."""
        self._stop.set()
        steps: list[list[tuple[str, Callable[[], None]]]] = [
            [(f"reader {k}", r.stop) for k, r in self.readers.items()]
            + [(f"keypad {k}", p.stop) for k, p in self.keypads.items()]
            + [(f"camera {k}", cam.stop) for k, cam in self.cameras.items()],
            [("input pollers", self._join_pollers)],
            [(f"lane {k}", lane.stop) for k, lane in self.lanes.items()]]
        if self.spends:
            steps.append([("peer spends", self.spends.stop)])
        if self.homeassistant:
            steps.append([("home assistant", self.homeassistant.stop)])
        if self.link:
            steps.append([("cloud link", self.link.stop)])
        steps.append([(f"bus {u}", b.close) for u, b in self.buses.items()])
        if self.db:
            steps.append([("store", self.db.close)])
        for step in steps:
            if len(step) == 1:
                self._stop_part(*step[0])
                continue
            threads = [threading.Thread(target=self._stop_part, args=part, name=f"stop {part[0]}")
                       for part in step]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        log.info("edge %s stopped", self.config.id)

    def _stop_part(self, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # keep stopping the rest
            self.failures.append(f"{name}: {exc}")
            log.exception("stopping %s failed", name)

    def supervise(self) -> bool:
        """Restart dead workers within the budget; True while every worker makes progress.
        Once the budget is spent the daemon records a failure (and ``gatepost edge run``
        exits non-zero so systemd restarts it)."""
        healthy = self.supervisor.check()
        if self.supervisor.exhausted and not any("restart budget" in f for f in self.failures):
            self.failures.append(f"restart budget spent: {self.supervisor.exhausted}")
        return healthy

    # Entry points (each answered by the gate's lane) -----------------------------------------
    def handle_epc(self, gate_id: str, epc: str, frame_ns: int) -> Decision:
        """Decide on one tag read and act on it."""
        result: Decision = self.lanes[gate_id].call(TagRead(epc, frame_ns))
        return result

    def handle_plate(self, gate_id: str, evidence: PlateEvidence, frame: Any,
                     box: tuple[int, int, int, int] | None, frame_ns: int,
                     final: bool = True) -> bool:
        """Decide on what a camera read; False when a weak read awaits more frames."""
        acted: bool = self.lanes[gate_id].call(PlateRead(evidence, frame, box, frame_ns, final))
        return acted

    def handle_command(self, cmd: OpenCommand, retained: bool) -> CommandResponse:
        """Verify a signed command, re-check local policy, act, and say what happened."""
        lane = self.lanes.get(cmd.gate)
        if lane is None:
            return CommandResponse(transaction=cmd.id, status="error",
                                   error="unknown gate")
        response: CommandResponse = lane.call(Command(cmd, retained))
        return response

    def guard_open(self, gate_id: str, user: str, role: str, reason: str,
                   vrn: str | None = None, hold: bool = False) -> Decision:
        """Open for a guard at the panel: a ``guard_override`` decision with who and why;
        ``hold`` keeps the boom up (the gate's hold relay) until ``release``."""
        if gate_id not in self.lanes:
            raise KeyError(gate_id)
        result: Decision = self.lanes[gate_id].call(GuardOpen(user, role, reason, vrn, hold))
        return result

    def enter_code(self, gate_id: str, code: str, source: str,
                   user: str | None = None) -> Decision:
        """A code typed at a gate's keypad, read from a QR, or typed by the guard at the panel
        for a visitor who read it out: decided offline like any credential."""
        if gate_id not in self.lanes:
            raise KeyError(gate_id)
        result: Decision = self.lanes[gate_id].call(CodeEntry(code, source, user))
        return result

    def clear_code_lock(self, gate_id: str, user: str) -> dict[str, str]:
        """The guard ends a gate's keypad (and QR) lock; the locks that were on (audited as a
        ``keypad_cleared`` alert)."""
        if gate_id not in self.lanes:
            raise KeyError(gate_id)
        was: dict[str, str] = self.lanes[gate_id].call(ClearCodeLock(user))
        return was

    def visitor_open(self, gate_id: str, rid: str, user: str, role: str) -> Decision:
        """Open for a walk-in the flat approved (``edge.adapters.walkins``): once, at the gate
        it was asked at; ``Refused`` otherwise."""
        if gate_id not in self.lanes:
            raise KeyError(gate_id)
        req = self.walkins.claim(rid)
        if req["gate"] != gate_id:
            self.walkins.unclaim(rid)
            raise Refused(f"the request was made at gate {req['gate']}")
        try:
            result: Decision = self.lanes[gate_id].call(VisitorOpen(req, user, role))
        except Exception:
            self.walkins.unclaim(rid)
            raise
        return result

    def release(self, gate_id: str, user: str) -> bool:
        """Let a held boom close (by its own timer); True when the board acknowledged."""
        ok: bool = self.lanes[gate_id].call(Release(user))
        return ok

    def visitor_left(self, key: str, user: str) -> bool:
        """The guard marks a visitor as gone (a ``presence`` event of the gate the visitor
        came in by); False if the visitor was not inside."""
        assert self.db is not None and self.recorder is not None
        return visitor_left(self.db, self.recorder, key, user, self.clock.now())

    def correct_presence(self, site: str, vrn: str, inside: bool, user: str) -> None:
        """A supervisor puts a vehicle inside or outside by hand (a ``presence`` event of the
        site's first gate on this box); the site's lanes decide again what waits at them."""
        assert self.presence is not None and self.recorder is not None
        gate_id = next(g.id for g in self.config.gates if g.site == site)
        correct_presence(self.recorder, self.presence, gate_id, vrn, inside, user,
                         self.clock.now())
        self.rules_touched(site)

    def resync(self) -> list[str] | None:
        """Snapshot every site's rules now (``gatepost edge resync``); None with no link."""
        return self.link.resync() if self.link is not None else None

    def rules_touched(self, site: str) -> None:
        """Something that decided waiting vehicles changed: their lanes decide again."""
        for lane in self.lanes.values():
            if lane.cfg.site == site:
                lane.post(RulesChanged())

    # Wiring ----------------------------------------------------------------------------------
    def _notify(self) -> None:
        if self.link:
            self.link.notify()

    def _plate_index(self, site: str) -> PlateIndex:
        """The site's vehicles as a plate allowlist, rebuilt when its rules change."""
        assert self.cache
        generation = self._rules_changes.get(site, 0)  # read before the cache, so a change
        held = self._indexes.get(site)                 # that lands meanwhile rebuilds it
        if held is None or held[0] != generation:
            held = (generation, PlateIndex(self.cache.vehicles(site)))
            self._indexes[site] = held
        return held[1]

    def _start_cameras(self) -> None:
        if any(g.camera for g in self.config.gates):
            from edge.daemon.cameras import start_cameras

            self.cameras = start_cameras(self.config, self.lanes, self.handle_plate,
                                         lambda gate, text: self.enter_code(gate, text,
                                                                            "qr").opens)

    def _poll_bus(self, url: str, progress: dict[str, float]) -> None:
        lanes = [self.lanes[g.id] for g in self.config.gates if g.relay and g.relay.url == url]
        period = self.config.policy.poll_ms / 1000
        while not self._stop.wait(period):
            progress["at"] = time.monotonic()
            for lane in lanes:
                try:
                    lane.post(Inputs(self.barriers[lane.id].read_inputs()))
                except Exception:
                    # Keep polling: one bad cycle must not stop pass detection for good.
                    self.counters.inc("poll_errors")
                    log.exception("input poll of %s failed", url)

    def _on_rules(self, site: str, version: int) -> None:
        log.info("rules of %s now v%s", site, version)
        self.rules_versions[site] = version
        # Counted, not the version: a snapshot of another epoch may bring the same number.
        self._rules_changes[site] = self._rules_changes.get(site, 0) + 1
        self.ring.add({"type": "rules", "gate": None, "site": site, "version": version,
                       "at": self.clock.now().isoformat()})
        self.rules_touched(site)

    # Introspection ---------------------------------------------------------------------------
    def site_clocks(self) -> SiteClocks:
        """The sites' zones, the locale and the time now (reads the store: call it off the
        event loop)."""
        cfg, reads = self.config, self.reads
        return SiteClocks(cfg.api.locale, cfg.api.timezone,
                          {s: reads.site_zone(s) if reads else None for s in cfg.sites},
                          {g.id: g.site for g in cfg.gates}, self.clock.now())

    def health(self) -> dict[str, Any]:
        """Everything a guard or a test wants to know at a glance."""
        link = self.link
        return {
            "edge": self.config.id,
            "last_event_id": self.ring.last_id,
            "cloud_connected": bool(link and link.connected),
            "rules": dict(self.rules_versions),
            "rules_epochs": {s: self.cache.epoch(s) for s in self.config.sites}
            if self.cache else {},
            "rules_retrying": link.retrying() if link else [],
            "outbox": self.outbox.size() if self.outbox else None,
            "outbox_full": bool(self.outbox and self.outbox.full),
            "disk": {"free_mb": self.retention.disk.free_bytes // 2**20,
                     "floor_mb": self.retention.disk.floor_bytes // 2**20,
                     "low": self.retention.disk.low} if self.retention else {},
            "last_seq": self.outbox.last_seq() if self.outbox else {},
            "gates": [lane.as_dict() for lane in self.lanes.values()],
            "readers": {k: r.stats() for k, r in self.readers.items()},
            "counters": self.counters.snapshot() | (dict(link.counters) if link else {}),
            "cache": self.cache.counts() if self.cache else {},
            "cameras": {k: cam.stats() for k, cam in self.cameras.items()},
            "workers": self.supervisor.report(),
            "peers": self.spends.health() if self.spends else {},
        }

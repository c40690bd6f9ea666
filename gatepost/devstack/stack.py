"""The whole system on one machine: broker, cloud and edge as processes, the simulator and
the uplink proxies in this process. Used by scenarios, the demo, the bench and the tests."""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import shutil
import signal
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from cloud.society.provision import CLOUD_USER, EdgeGrant, edge_user, provision
from gatepost.devstack.broker import Broker, free_port, stop_process
from gatepost.devstack.spawn import StackProcess, spawn
from hardware_sim.barrier import BarrierTiming
from hardware_sim.linkproxy import LinkProxy
from hardware_sim.partner import PartnerSim
from hardware_sim.payments import PaymentSim
from hardware_sim.registry import FastagRegistrySim, VehicleRegistrySim
from hardware_sim.world import SimWorld
from shared.clock import FileClock

log = logging.getLogger(__name__)


@dataclass
class GateSpec:
    """A gate of the simulated installation."""

    id: str
    site: str
    direction: str
    camera: dict | None = None  # {country, trigger} when the gate has a plate camera
    credentials: str = "either"
    mismatch: str = "deny"
    extra: dict = field(default_factory=dict)  # more gate settings, e.g. anti_passback
    keypad: bool = False  # an OSDP keypad reader for access codes
    box: str | None = None  # another box of the stack that serves it (``Stack.start_box``)


@dataclass
class StackOptions:
    """Knobs of a stack."""

    edge_id: str = "edge-1"
    policy: dict = field(default_factory=dict)
    api: dict = field(default_factory=dict)  # more of the edge's [api] settings
    timing: BarrierTiming | None = None
    start: datetime | None = None
    reader_rate_hz: float = 20.0
    edge_api_port: int | None = None
    alpr_models: Path | None = None
    # More boxes provisioned at the broker and the cloud (box id → its sites), with no daemon:
    # their credentials are for probes that play a compromised box.
    other_edges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    edge_toml: str = ""  # more of the edge's config, appended as it is (e.g. a [section])


_MIGRATED: Path | None = None


def migrated_sqlite() -> Path:
    """An empty cloud database at the newest schema, made once per process (removed at exit),
    for stacks' clouds to start from instead of running every migration again."""
    global _MIGRATED
    if _MIGRATED is None or not _MIGRATED.exists():
        from cloud.storage.database import Database

        folder = Path(tempfile.mkdtemp(prefix="gatepost-cloud-schema-"))
        atexit.register(shutil.rmtree, folder, True)
        Database(folder / "cloud.sqlite").close()
        _MIGRATED = folder / "cloud.sqlite"
    return _MIGRATED


def wait_until(pred, timeout: float, interval: float = 0.02, what: str = "condition") -> None:
    """Poll *pred* until true, or raise TimeoutError naming *what*."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pred():
                return
        except (httpx.HTTPError, OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Stack:
    """Start, drive and stop a full installation in *workdir*."""

    def __init__(self, workdir: Path, gates: list[GateSpec], options: StackOptions | None = None,
                 ) -> None:
        self.workdir = Path(workdir)
        self.gates = gates
        self.opt = options or StackOptions()
        self.clock_file = self.workdir / "clock.json"
        # The broker is locked down as in production: a user per box and for the cloud.
        sites = sorted({g.site for g in gates})
        self.auth = provision(self.workdir / "auth", [EdgeGrant(self.opt.edge_id, tuple(sites))] + [
            EdgeGrant(e, s) for e, s in self.opt.other_edges.items()])
        self.broker = Broker(self.workdir / "broker", password_file=self.auth.password_file,
                             acl_file=self.auth.acl_file)
        self.cloud_port = free_port()
        self.edge_port = self.opt.edge_api_port or free_port()
        self.world = SimWorld([g.id for g in gates], timing=self.opt.timing,
                              reader_rate_hz=self.opt.reader_rate_hz,
                              cameras={g.id for g in gates if g.camera is not None},
                              keypads={g.id for g in gates if g.keypad})
        self.cloud_proc: StackProcess | None = None
        self.edge_proc: StackProcess | None = None
        self.mqtt_link: LinkProxy | None = None
        self.http_link: LinkProxy | None = None
        # The stack's operator: an admin key, given to the cloud through its environment.
        self.admin_key = f"gpk_{secrets.token_urlsafe(24)}"
        self.edge_api_key: str | None = None
        self.box_keys: dict[str, str] = {}  # the other boxes' keys (``StackOptions.other_edges``)
        self.boxes: dict[str, StackProcess] = {}  # their daemons, when started
        # The payment provider, simulated in this process like the hardware.
        self.payments = PaymentSim(secrets.token_urlsafe(24))
        self.registry = VehicleRegistrySim()  # residents' vehicles are looked up here
        self.fastags = FastagRegistrySim()  # and their FASTags, for FITkit stickers
        self.partner = PartnerSim()  # the partner visitor apps societies integrate with
        self.cloud = httpx.Client(base_url=f"http://127.0.0.1:{self.cloud_port}", timeout=30,
                                  headers={"Authorization": f"Bearer {self.admin_key}"})
        self.edge = httpx.Client(base_url=f"http://127.0.0.1:{self.edge_port}", timeout=30)

    def set_edge_port(self, port: int) -> None:
        """Serve the edge's panel and API on *port* (before ``start``)."""
        self.edge_port = port
        self.edge.base_url = httpx.URL(f"http://127.0.0.1:{port}")

    # Life cycle ------------------------------------------------------------------------------
    def start(self) -> Stack:
        """Bring everything up; returns once the edge answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        FileClock.set_time(self.clock_file, self.opt.start or datetime.now().astimezone())
        self.broker.start()
        self.payments.start()
        self.registry.start()
        self.fastags.start()
        self.partner.start()
        self.start_cloud()
        if self.edge_api_key is None:  # the box's own key for its sites' rules, issued once
            r = self.cloud.post("/api/v1/edges", json={
                "id": self.opt.edge_id, "sites": sorted({g.site for g in self.gates}),
                "gates": [{"site": g.site, "gate": g.id} for g in self.gates if g.box is None]})
            r.raise_for_status()
            self.edge_api_key = r.json()["key"]
            for edge, edge_sites in self.opt.other_edges.items():
                held = [{"site": g.site, "gate": g.id} for g in self.gates if g.box == edge]
                r = self.cloud.post("/api/v1/edges", json={
                    "id": edge, "sites": list(edge_sites), **({"gates": held} if held else {})})
                r.raise_for_status()
                self.box_keys[edge] = r.json()["key"]
        self.world.start()
        self.mqtt_link = LinkProxy("127.0.0.1", self.broker.port)
        self.http_link = LinkProxy("127.0.0.1", self.cloud_port)
        self.mqtt_link.start()
        self.http_link.start()
        self.write_edge_config()
        self.start_edge()
        return self

    def start_cloud(self) -> None:
        """Start (or restart, on the same data and port) the cloud process; returns once it is
        connected to the broker. A first start on SQLite begins from a database already at
        the newest schema (as the cloud leaves an empty one), migrated once per process."""
        db = self.workdir / "cloud" / "cloud.sqlite"
        if not os.environ.get("GATEPOST_DB") and not db.exists():
            db.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(migrated_sqlite())) as src, \
                    closing(sqlite3.connect(db)) as dst:
                src.backup(dst)
        self.cloud_proc = self._spawn("cloud", [
            "cloud", "run", "--data-dir", str(self.workdir / "cloud"), "--mqtt-url",
            self.broker.url, "--host", "127.0.0.1", "--port", str(self.cloud_port),
            "--clock-file", str(self.clock_file), "--mqtt-user", CLOUD_USER,
            "--payments-url", self.payments.url, "--vehicle-registry-url", self.registry.url,
            "--fastag-registry-url", self.fastags.url],
            {"GATEPOST_MQTT_PASSWORD": self.auth.passwords[CLOUD_USER],
             "GATEPOST_ADMIN_KEY": self.admin_key,
             "GATEPOST_PAYMENTS_SECRET": self.payments.secret,
             # the partner simulator is on loopback, which a cloud refuses unless allowed
             "GATEPOST_PARTNER_INTERNAL_TARGETS": "127.0.0.0/8"})
        cloud_proc = self.cloud_proc

        def cloud_up() -> bool:
            if cloud_proc.poll() is not None:
                raise RuntimeError(f"cloud exited with {cloud_proc.returncode}; see "
                                   f"{self.workdir / 'cloud.log'}")
            # .get: whatever else answers on the port (not yet ours) is "not up yet"
            return bool(self.cloud.get("/api/v1/health").json().get("mqtt_connected"))

        try:
            wait_until(cloud_up, 30, what="the cloud to start")
        except TimeoutError as e:
            raise TimeoutError(f"{e}; the end of its log:\n{self.log_tail('cloud')}") from e

    def kill_cloud(self) -> None:
        """SIGKILL the cloud: whatever it was storing is cut off mid-way."""
        if self.cloud_proc and self.cloud_proc.poll() is None:
            self.cloud_proc.send_signal(signal.SIGKILL)
            self.cloud_proc.wait(10)

    def stop_cloud(self) -> None:
        """SIGTERM the cloud and wait for it."""
        if self.cloud_proc:
            stop_process(self.cloud_proc, 10)

    def write_edge_config(self, box: str | None = None, port: int | None = None,
                          more_toml: str | None = None) -> Path:
        """The edge's TOML config, wired to the simulator and the uplink proxies; with *box*,
        the config of that other box (its gates, key, data and *port*) instead."""
        assert self.mqtt_link and self.http_link
        edge = box or self.opt.edge_id
        data = self.workdir / (f"edge-{box}" if box else "edge")
        lines = [f'id = "{edge}"', f'data_dir = "{data}"',
                 f'clock_file = "{self.clock_file}"', "",
                 "[cloud]", f'mqtt_url = "mqtt://127.0.0.1:{self.mqtt_link.port}"',
                 f'http_url = "http://127.0.0.1:{self.http_link.port}"',
                 f'username = "{edge_user(edge)}"',
                 f'password = "{self.auth.passwords[edge_user(edge)]}"',
                 f'api_key = "{self.box_keys[box] if box else self.edge_api_key}"', "",
                 "[api]", 'host = "127.0.0.1"', f"port = {port or self.edge_port}",
                 *(f"{k} = {json.dumps(v)}" for k, v in self.opt.api.items()), "",
                 "[policy]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in self.opt.policy.items()]
        if self.opt.alpr_models:
            lines += ["", "[alpr]", f'models = "{self.opt.alpr_models}"']
        for g in (g for g in self.gates if g.box == box):
            w = self.world.edge_wiring(g.id)
            lines += ["", "[[gates]]", f'id = "{g.id}"', f'site = "{g.site}"',
                      f'direction = "{g.direction}"', "[gates.reader]"]
            lines.insert(len(lines) - 1, f'credentials = "{g.credentials}"')
            lines.insert(len(lines) - 1, f'mismatch = "{g.mismatch}"')
            for k, v in g.extra.items():
                lines.insert(len(lines) - 1, f"{k} = {json.dumps(v)}")
            lines += [f"{k} = {json.dumps(v)}" for k, v in w["reader"].items()]
            lines += ["[gates.relay]"] + [f"{k} = {json.dumps(v)}" for k, v in w["relay"].items()]
            if g.camera is not None and "camera" in w:
                lines += ["[gates.camera]", f'url = "{w["camera"]["url"]}"']
                lines += [f"{k} = {json.dumps(v)}" for k, v in g.camera.items()]
            if "keypad" in w:
                lines += ["[gates.keypad]"] + [f"{k} = {json.dumps(v)}"
                                               for k, v in w["keypad"].items()]
        path = self.workdir / (f"edge-{box}.toml" if box else "edge.toml")
        path.write_text("\n".join(lines) + "\n" + (self.opt.edge_toml if more_toml is None
                                                     else more_toml))
        return path

    def start_box(self, box: str, port: int, more_toml: str = "",
                  timeout: float = 30) -> httpx.Client:
        """Start the daemon of another box of the stack (one of ``other_edges``, serving the
        gates whose ``box`` it is), its API on *port*; a client of that API once it answers."""
        path = self.write_edge_config(box, port, more_toml)
        proc = self.boxes[box] = self._spawn(f"edge-{box}", ["edge", "run", "--config",
                                                             str(path)])
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"edge {box} exited with {proc.returncode}; see "
                                   f"{self.workdir / f'edge-{box}.log'}")
            return client.get("/api/health", timeout=2).status_code == 200

        wait_until(up, timeout, what=f"the edge daemon of {box} to start")
        return client

    def start_edge(self, timeout: float = 30) -> None:
        """Start (or restart) the edge daemon process and wait for its API. A panel port that
        another process took since it was picked (exit 3) is picked again, twice at most."""
        from edge.daemon.service import EXIT_PORT_TAKEN

        for attempt in range(3):
            self.edge_proc = self._spawn("edge", ["edge", "run", "--config",
                                                  str(self.workdir / "edge.toml")])
            proc = self.edge_proc

            def up(proc: StackProcess = proc) -> bool:
                if proc.poll() is not None:
                    raise RuntimeError(f"edge exited with {proc.returncode}; see "
                                       f"{self.workdir / 'edge.log'}")
                return self.edge.get("/api/health", timeout=2).status_code == 200

            try:
                wait_until(up, timeout, what="the edge daemon to start")
                return
            except RuntimeError:
                if proc.returncode != EXIT_PORT_TAKEN or attempt == 2 or \
                        self.opt.edge_api_port:
                    raise
            self.set_edge_port(free_port())
            self.write_edge_config()

    def kill_edge(self) -> None:
        """SIGKILL the edge: no chance to flush or say goodbye."""
        if self.edge_proc and self.edge_proc.poll() is None:
            self.edge_proc.send_signal(signal.SIGKILL)
            self.edge_proc.wait(10)

    def stop_edge(self) -> int | None:
        """SIGTERM the edge and return its exit code."""
        return stop_process(self.edge_proc, 15) if self.edge_proc else None

    def stop(self) -> None:
        """Stop everything, edges first."""
        self.stop_edge()
        for proc in self.boxes.values():
            stop_process(proc, 15)
        self.world.stop()
        for link in (self.mqtt_link, self.http_link):
            if link:
                link.stop()
        self.stop_cloud()
        self.broker.stop()
        # The providers' simulators each wait for their web server's next tick: side by side
        # (what one raises is raised here once all have stopped).
        with ThreadPoolExecutor(4, thread_name_prefix="stop-sim") as pool:
            stopped = [pool.submit(sim.stop) for sim in (self.payments, self.registry,
                                                          self.fastags, self.partner)]
        for f in stopped:
            f.result()
        self.cloud.close()
        self.edge.close()

    def _spawn(self, name: str, args: list[str],
               extra_env: dict[str, str] | None = None) -> StackProcess:
        env = dict(os.environ) | (extra_env or {})
        env.setdefault("GATEPOST_LOG_LEVEL", "INFO")
        return spawn(args, env, self.workdir / f"{name}.log")

    # Helpers -----------------------------------------------------------------------------------
    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last *lines* of a process's log, for an error that says why it did not come up."""
        try:
            text = (self.workdir / f"{name}.log").read_text(errors="replace")
        except OSError as e:
            return f"(no log: {e})"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def edge_url(self) -> str:
        """The edge's local API and live page."""
        return f"http://127.0.0.1:{self.edge_port}"

    def edge_health(self, timeout: float = 30) -> dict:
        """The edge's /api/health."""
        return self.edge.get("/api/health", timeout=timeout).json()

    def wait_edge_version(self, site: str, version: int, timeout: float) -> float:
        """Wait until the edge holds *version* of *site*'s rules; return seconds taken."""
        t0 = time.monotonic()
        wait_until(lambda: self.edge_health()["rules"].get(site, 0) >= version, timeout,
                   interval=0.01, what=f"rules v{version} of {site} at the edge")
        return time.monotonic() - t0

    def site_with_tag(self, site: str, epc: str, vrn: str = "MH12AB1234",
                      timeout: float = 15) -> int:
        """A new site with one vehicle and its active tag, held by the edge; the version."""
        self.cloud.post("/api/v1/sites", json={"id": site}).raise_for_status()
        self.cloud.post(f"/api/v1/sites/{site}/vehicles", json={"vrn": vrn}).raise_for_status()
        r = self.cloud.post(f"/api/v1/sites/{site}/tags", json={
            "epc": epc, "vrn": vrn, "status": "active"})
        r.raise_for_status()
        version = int(r.json()["rules_version"])
        self.wait_edge_version(site, version, timeout)
        return version

    def edge_events_after(self, after: int, wait: float = 1.0) -> tuple[list[dict], int]:
        """Local edge events after a local id (long-poll)."""
        r = self.edge.get("/api/events", params={"after": after, "wait": wait}).json()
        return r["events"], r["last"]

    def edge_last_event(self) -> int:
        """Newest local event id of the edge."""
        return int(self.edge_health()["last_event_id"])

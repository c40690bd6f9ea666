"""Run scenario files against the real stack and print one JSON line per step."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from gatepost.devstack.assets import alpr_models, plates_dir
from gatepost.devstack.stack import GateSpec, Stack, StackOptions
from gatepost.scenario.base import ScenarioError
from gatepost.scenario.context import EventTest
from gatepost.scenario.registry import STEPS, action_of
from gatepost.scenario.schema import Scenario, Step, load
from gatepost.scenario.setup import setup
from gatepost.scenario.sync import uplink_live
from hardware_sim.barrier import BarrierTiming

log = logging.getLogger(__name__)

SYNC_TIMEOUT_S = 1.0  # a cloud change must reach the edge cache within this


class ScenarioRun:
    """One scenario on one fresh stack."""

    def __init__(self, sc: Scenario, workdir: Path, out=sys.stdout,
                 base_dir: Path | None = None) -> None:
        self.sc = sc
        self.workdir = workdir
        self.guard_clients: dict[str, Any] = {}  # panel sessions of ``guard`` steps
        self.refs: dict[str, str] = {}  # subscription ids by the scenario's ref names
        self.resident_keys: dict[str, str] = {}  # API keys of ``remote_open`` residents
        self.resident_apps: dict[str, Any] = {}  # the resident app of each cloud.residents
        self.resident_ids: dict[str, str] = {}  # their ids in the cloud, asked once
        self.partner_keys: dict[str, str] = {}  # the partner API's keys of ``partner_read``
        self.arrivals: dict[str, Any] = {}  # the last ``arrive`` vehicle of each gate
        self.codes: dict[str, dict[str, Any]] = {}  # visitor passes by the scenario's refs
        self.walkins: dict[str, dict[str, Any]] = {}  # walk-in requests by the scenario's refs
        self.out = out
        self.sites = [s.id for s in sc.all_sites]
        self.site_of_gate = {g.id: s.id for s in sc.all_sites for g in s.gates}
        gates = [GateSpec(g.id, s.id, g.direction.value,
                          g.camera.model_dump() if g.camera else None, g.credentials, g.mismatch,
                          {k: v for k in ("anti_passback", "confirm_reads")
                           if (v := getattr(g, k)) is not None}, g.keypad)
                 for s in sc.all_sites for g in s.gates]
        self.base_dir = base_dir
        b = sc.barrier
        policy = {k: v for k, v in sc.policy.model_dump().items() if v is not None}
        self.stack = Stack(workdir, gates, StackOptions(
            policy=policy, start=sc.start, alpr_models=alpr_models() if any(
                g.camera for g in gates) else None,
            timing=BarrierTiming(warn_s=b.warn_s, rise_s=b.rise_s, fall_s=b.fall_s,
                                 auto_close_s=b.auto_close_s,
                                 close_after_pass_s=b.close_after_pass_s)))
        self.edge_running = True
        self.ok = True
        self.lock = threading.Lock()

    def emit(self, obj: dict[str, Any]) -> None:
        """Print one JSON line."""
        with self.lock:
            print(json.dumps({"scenario": self.sc.name, **obj}, default=str), file=self.out,
                  flush=True)

    # Set-up ----------------------------------------------------------------------------------
    def setup(self) -> None:
        """Create sites, gates, vehicles, tags, schedules and accounts through the cloud API;
        wait for the edge."""
        setup(self)

    # Steps -----------------------------------------------------------------------------------
    def run_step(self, n: int, step: Step) -> None:
        """Play one step (its registered handler) and print its line."""
        t0 = time.monotonic()
        key, value = action_of(step)
        try:
            if key not in STEPS:
                raise ScenarioError("empty step")
            result = STEPS[key].run(self, value, step.expect)
        except (TimeoutError, RuntimeError, ScenarioError) as exc:
            result = {"action": key, "errors": [str(exc)]}
        errors = result.pop("errors", [])
        ok = not errors
        self.ok &= ok
        line = {"step": n, **({"name": step.name} if step.name else {}), **result, "ok": ok,
                "ms": round((time.monotonic() - t0) * 1000, 1)}
        if errors:
            line["errors"] = errors
        self.emit(line)

    # What steps may use (gatepost.scenario.context.Run) -----------------------------------
    def image_path(self, name: str) -> str:
        """A plate photograph: absolute, under $GATEPOST_PLATES, or beside the scenario."""
        candidates = [Path(name)] if Path(name).is_absolute() else [
            plates_dir() / name, (self.base_dir or Path.cwd()) / name]
        for c in candidates:
            if c.is_file():
                return str(c)
        raise ScenarioError(f"plate image {name} not found (looked in "
                            f"{', '.join(str(c.parent) for c in candidates)}; "
                            "set GATEPOST_PLATES)")

    def await_event(self, cursor: int, test: EventTest, timeout: float
                    ) -> dict[str, Any] | None:
        """The first edge event after *cursor* that passes *test*, within *timeout* s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events, last = self.stack.edge_events_after(cursor, wait=0.3)
            for e in events:
                if test(e):
                    return e
            cursor = max(cursor, last)
        return None

    def wait_synced(self, got: dict[str, Any]) -> list[str]:
        """Wait until the edge holds the rules version a step made (``got``: its ``site`` and
        ``rules_version``, and ``synced_ms`` is added), while the link and the edge are up;
        an error if that takes over ``SYNC_TIMEOUT_S``."""
        version, site = got.get("rules_version"), got.get("site")
        if version is None or site is None or not uplink_live(self):
            return []
        try:
            took = self.stack.wait_edge_version(site, version, SYNC_TIMEOUT_S)
        except TimeoutError as exc:
            return [str(exc)]
        got["synced_ms"] = round(took * 1000, 1)
        return []

    # Whole run -------------------------------------------------------------------------------
    def run(self) -> bool:
        """Start the stack, set up, play every step, stop; True when every step passed."""
        t0 = time.monotonic()
        try:
            self.stack.start()
            self.setup()
            for n, step in enumerate(self.sc.steps, start=1):
                self.run_step(n, step)
        except (TimeoutError, RuntimeError, ScenarioError) as exc:
            self.ok = False
            self.emit({"step": 0, "action": "setup", "ok": False, "errors": [str(exc)]})
        finally:
            self.stack.stop()
        self.emit({"summary": True, "ok": self.ok, "steps": len(self.sc.steps),
                   "seconds": round(time.monotonic() - t0, 1),
                   **({} if self.ok else {"logs": str(self.workdir)})})
        return self.ok


def run_files(files: list[Path], workdir: Path | None = None, out=sys.stdout) -> int:
    """Validate every file first; run the valid ones; exit 0 only if all passed."""
    loaded: list[tuple[Path, Scenario]] = []
    refused = False
    for f in files:
        try:
            loaded.append((f, load(f)))
        except ScenarioError as exc:
            refused = True
            print(str(exc), file=sys.stderr)
            print(json.dumps({"scenario": str(f), "step": None, "ok": False,
                              "errors": str(exc).splitlines()}), file=out, flush=True)
    all_ok = not refused
    for f, sc in loaded:
        base = Path(workdir) / f.stem if workdir else Path(tempfile.mkdtemp(prefix="gatepost-"))
        ok = ScenarioRun(sc, base, out, base_dir=f.parent).run()
        all_ok &= ok
        if ok and workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    if refused:
        return 2
    return 0 if all_ok else 1

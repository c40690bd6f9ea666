"""Run scenario files against the real stack and print one JSON line per step."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

from gatepost.scenario.parking import PARKING_ACTIONS, check_parking, parking_action
from gatepost.scenario.people import check as _check
from gatepost.scenario.people import people_step
from gatepost.scenario.schedules import SCHEDULE_ACTIONS, schedule_action
from gatepost.scenario.schema import ACTIONS, Scenario, ScenarioError, Step, VehicleStep, load
from gatepost.scenario.setup import setup
from gatepost.scenario.sync import caught_up, settle, uplink_live
from gatepost.stack import GateSpec, Stack, StackOptions, wait_until
from hardware_sim.barrier import BarrierTiming
from hardware_sim.reader import ReaderFaults
from hardware_sim.world import VehicleResult
from shared.clock import FileClock, parse_duration

log = logging.getLogger(__name__)

SYNC_TIMEOUT_S = 1.0  # a cloud change must reach the edge cache within this


def shared_dir() -> Path:
    """The project's shared assets: $GATEPOST_SHARED, else ../shared beside the checkout."""
    env = os.environ.get("GATEPOST_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared"


def plates_dir() -> Path:
    """Plate photographs: $GATEPOST_PLATES, else <shared>/plates."""
    env = os.environ.get("GATEPOST_PLATES")
    return Path(env) if env else shared_dir() / "plates"


def alpr_models() -> Path:
    """Plate models: $GATEPOST_ALPR_MODELS, else <shared>/models."""
    env = os.environ.get("GATEPOST_ALPR_MODELS")
    return Path(env) if env else shared_dir() / "models"


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
        t0 = time.monotonic()
        try:
            result = self._dispatch(step)
        except (TimeoutError, RuntimeError, ScenarioError) as exc:
            result = {"action": self._action(step), "errors": [str(exc)]}
        errors = result.pop("errors", [])
        ok = not errors
        self.ok &= ok
        line = {"step": n, **({"name": step.name} if step.name else {}), **result, "ok": ok,
                "ms": round((time.monotonic() - t0) * 1000, 1)}
        if errors:
            line["errors"] = errors
        self.emit(line)

    @staticmethod
    def _action(step: Step) -> str:
        for k in ACTIONS:
            if getattr(step, k) is not None:
                return k
        return "?"

    def _dispatch(self, step: Step) -> dict[str, Any]:
        st = self.stack
        if step.rfid or step.vehicle or step.camera:
            vs = step.rfid or step.vehicle or step.camera
            assert vs is not None
            got = self._gate(vs)
            return {"action": self._action(step), **got, "errors": _check(step.expect, got)}
        if step.together:
            results: list[dict] = [{} for _ in step.together]

            def one(i: int, s: Step) -> None:
                vs = s.rfid or s.vehicle or s.camera
                assert vs is not None
                got = self._gate(vs)
                results[i] = {**got, "errors": _check(s.expect, got)}

            threads = [threading.Thread(target=one, args=(i, s))
                       for i, s in enumerate(step.together)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            errors = [f"vehicle {i + 1}: {e}" for i, r in enumerate(results)
                      for e in r.pop("errors")]
            return {"action": "together", "vehicles": results, "errors": errors}
        if step.cloud:
            return self._cloud(step)
        if (people := people_step(self, step)) is not None:
            return people
        if step.remote_open:
            from gatepost.scenario.remote import remote_open

            got = remote_open(self, step.remote_open)
            return {"action": "remote_open", **got, "errors": _check(step.expect, got)}
        if step.guard:
            from gatepost.scenario.guard import guard_open

            got = guard_open(self, step.guard)
            return {"action": "guard", **got, "errors": _check(step.expect, got)}
        if step.advance is not None:
            settle(self)
            FileClock.advance(st.clock_file, parse_duration(step.advance))
            st.cloud.post("/api/v1/jobs/transitions")  # as the scheduled job would
            return {"action": "advance", "by": str(step.advance)}
        if step.at is not None:
            settle(self)
            FileClock.set_time(st.clock_file, step.at)
            st.cloud.post("/api/v1/jobs/transitions")
            return {"action": "at", "time": step.at.isoformat()}
        if step.link:
            assert st.mqtt_link and st.http_link
            for link in (st.mqtt_link, st.http_link):
                link.down() if step.link == "down" else link.up()
            if step.link == "up" and self.edge_running:
                wait_until(lambda: st.edge_health()["cloud_connected"], 10,
                           what="the edge to reconnect")
                return {"action": "link", "link": step.link, "errors": caught_up(self)}
            return {"action": "link", "link": step.link}
        if step.broker:
            if step.broker == "down":
                st.broker.stop()
            else:
                st.broker.start()
                if self.edge_running:
                    wait_until(lambda: st.edge_health()["cloud_connected"], 15,
                               what="the edge to reconnect")
                wait_until(lambda: st.cloud.get("/api/v1/health").json()["mqtt_connected"],
                           15, what="the cloud to reconnect")
                return {"action": "broker", "broker": "up", "errors": caught_up(self)}
            return {"action": "broker", "broker": step.broker}
        if step.edge:
            return self._edge(step.edge)
        if step.reader:
            return self._reader(step.reader)
        if step.expect_cloud:
            return self._expect_cloud(step)
        if step.arrive:
            from gatepost.scenario.arrivals import arrive

            return arrive(self, step.arrive)
        if step.expect_gate:
            from gatepost.scenario.arrivals import expect_gate

            return expect_gate(self, step.expect_gate)
        raise ScenarioError("empty step")

    def _gate(self, vs: VehicleStep) -> dict[str, Any]:
        st = self.stack
        cursor = st.edge_last_event() if self.edge_running else 0
        image = self._image(vs.image) if vs.image else None
        box: dict[str, VehicleResult] = {}
        arrived = threading.Event()
        car = threading.Thread(target=lambda: box.update(r=st.world.vehicle(
            vs.gate, vs.epc, drive_through=vs.drive_through, give_up_after=vs.give_up_after,
            arrived=arrived, plate_image=image)))
        car.start()
        arrived.wait(15)  # the car pulls up once the lane ahead is clear
        kinds = ([("tag", vs.epc.upper())] if vs.epc else []) + (
            [("plate", None)] if image and st.world.gates[vs.gate].camera else [])
        decisions: list[dict] = []
        if self.edge_running:
            for kind, value in kinds:
                d = self._await(cursor, lambda e, k=kind, v=value: e["type"] == "decision"
                                and e["gate"] == vs.gate and e["credential"]["kind"] == k
                                and (v is None or e["credential"]["value"] == v)
                                and (k == "tag" or e["reason"] != "duplicate_read"),
                                vs.give_up_after + (5 if kind == "plate" else 2))
                if d is not None:
                    decisions.append(d)
        car.join()
        r = box["r"]
        edge_pass = False
        if r.passed and self.edge_running:
            edge_pass = self._await(cursor, lambda e: e["type"] == "pass"
                                    and e["gate"] == vs.gate, 3) is not None
        main = self._main_decision(decisions)
        out = {"gate": vs.gate, "epc": vs.epc,
               "decision": main["outcome"] if main else "none",
               "reason": main["reason"] if main else None,
               "vrn": main.get("vrn") if main else None,
               "barrier_opened": r.opened, "passed": r.passed and edge_pass}
        if vs.image:
            out["image"] = vs.image
        if len(decisions) > 1:
            out["decisions"] = [{"kind": d["credential"]["kind"], "decision": d["outcome"],
                                 "reason": d["reason"]} for d in decisions]
        return out

    @staticmethod
    def _main_decision(decisions: list[dict]) -> dict | None:
        """The decision that tells the step's story: a mismatch, else an open, else the last."""
        for want in (lambda d: d["reason"] == "credential_mismatch",
                     lambda d: d["outcome"] == "open"):
            found = [d for d in decisions if want(d)]
            if found:
                return found[0]
        return decisions[-1] if decisions else None

    def _image(self, name: str) -> str:
        """A plate photograph: absolute, under $GATEPOST_PLATES, or beside the scenario."""
        candidates = [Path(name)] if Path(name).is_absolute() else [
            plates_dir() / name, (self.base_dir or Path.cwd()) / name]
        for c in candidates:
            if c.is_file():
                return str(c)
        raise ScenarioError(f"plate image {name} not found (looked in "
                            f"{', '.join(str(c.parent) for c in candidates)}; "
                            "set GATEPOST_PLATES)")

    def _await(self, cursor: int, pred, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events, last = self.stack.edge_events_after(cursor, wait=0.3)
            for e in events:
                if pred(e):
                    return e
            cursor = max(cursor, last)
        return None

    def _cloud(self, step: Step) -> dict[str, Any]:
        assert step.cloud
        action, p = next(iter(step.cloud.items()))
        site = p.get("site") or self.sites[0]
        epc = p.get("epc", "")
        c = self.stack.cloud
        if action in PARKING_ACTIONS:
            try:
                r, site = parking_action(self, action, p)
            except (KeyError, ScenarioError) as exc:
                return {"action": "cloud", "cloud_action": action, "errors": [str(exc)]}
        elif action in SCHEDULE_ACTIONS:
            try:
                r = schedule_action(self, action, p)
            except (KeyError, ScenarioError) as exc:
                return {"action": "cloud", "cloud_action": action, "errors": [str(exc)]}
        elif action == "add_vehicle":
            r = c.post(f"/api/v1/sites/{site}/vehicles", json={"vrn": p["vrn"],
                                                               "type": p.get("type", "4W")})
        elif action == "remove_vehicle":
            r = c.delete(f"/api/v1/sites/{site}/vehicles/{p['vrn']}")
        elif action == "add_tag":
            r = c.post(f"/api/v1/sites/{site}/tags", json={
                k: p[k] for k in ("epc", "vrn", "status", "vehicle_type") if k in p})
        elif action == "lock_tag":
            until = p.get("until")
            if isinstance(until, datetime):
                until = until.isoformat()
            elif isinstance(until, str):
                try:  # a duration from the virtual now, e.g. "2h"
                    until = (FileClock(self.stack.clock_file).now()
                             + parse_duration(until)).isoformat()
                except ValueError:
                    pass  # an ISO time
            r = c.post(f"/api/v1/tags/{epc}/lock", json={"until": until})
        elif action == "activate_tag":
            r = c.post(f"/api/v1/tags/{epc}/activate", json={"vrn": p.get("vrn")})
        elif action == "move_tag":
            r = c.post(f"/api/v1/tags/{epc}/move", json={"vrn": p.get("vrn"),
                                                          "reason": p.get("reason", "")})
        elif action == "remove_tag":
            r = c.delete(f"/api/v1/tags/{epc}")
        else:  # block_tag, unlock_tag
            r = c.post(f"/api/v1/tags/{epc}/{action.removesuffix('_tag')}")
        body = r.json()
        got: dict[str, Any] = {"action": "cloud", "cloud_action": action, "status": r.status_code}
        errors: list[str] = []
        if action == "create_subscription" and r.status_code < 300:
            got["subscription"] = body["id"]
        if r.status_code < 300:
            # a change gates do not need (spaces, tariffs) has no version to wait for
            version = body.get("rules_version")
            if version is not None:
                got["rules_version"] = version
                got["site"] = body.get("site", site)
            errors += self._synced(got)
        else:
            got["reason"] = body.get("detail", {}).get("reason") if isinstance(
                body.get("detail"), dict) else None
            got["message"] = body.get("detail")
            if step.expect is None:
                errors.append(f"cloud refused {action}: {r.status_code} {body.get('detail')}")
        return {**got, "errors": errors + _check(step.expect, got)}

    def _synced(self, got: dict[str, Any]) -> list[str]:
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

    def _edge(self, what: str) -> dict[str, Any]:
        st = self.stack
        got: dict[str, Any] = {"action": "edge", "edge": what}
        if what in ("kill", "stop", "restart"):
            # The panel keeps its sessions in memory: a guard signs in again to the next one.
            for client in self.guard_clients.values():
                client.close()
            self.guard_clients.clear()
        if what in ("kill",):
            st.kill_edge()
            self.edge_running = False
        if what in ("stop", "restart"):
            got["exit_code"] = st.stop_edge()
            self.edge_running = False
        if what in ("start", "restart"):
            st.start_edge()
            self.edge_running = True
            for site in self.sites:
                v = st.cloud.get(f"/api/v1/sites/{site}/rules").json()["version"]
                if st.mqtt_link and st.mqtt_link.is_up:
                    st.wait_edge_version(site, v, 10)
        errors = [f"edge exited with {got['exit_code']}"] if got.get("exit_code") else []
        return {**got, "errors": errors}

    def _reader(self, spec: dict[str, Any]) -> dict[str, Any]:
        g = self.stack.world.gates[spec["gate"]]
        if spec.get("line") == "down":
            g.reader.line_down()
        elif spec.get("line") == "up":
            g.reader.line_up()
        for k, v in (spec.get("faults") or {}).items():
            if k not in {f.name for f in fields(ReaderFaults)}:
                raise ScenarioError(f"unknown reader fault {k!r}")
            setattr(g.reader.faults, k, v)
        return {"action": "reader", **spec}

    def _expect_cloud(self, step: Step) -> dict[str, Any]:
        e = step.expect_cloud
        assert e is not None
        sites = [e.site] if e.site else self.sites
        got: dict[str, Any] = {}

        def matches() -> bool:
            got.clear()
            decisions: dict[str, int] = {}
            types: dict[str, int] = {}
            gates: dict[str, dict] = {}
            for s in sites:
                summ = self.stack.cloud.get(f"/api/v1/sites/{s}/events/summary").json()
                for k, v in summ["decisions"].items():
                    decisions[k] = decisions.get(k, 0) + v
                for k, v in summ["types"].items():
                    types[k] = types.get(k, 0) + v
                gates.update(summ["gates"])
            ok = True
            if e.decisions is not None:
                got["decisions"] = decisions
                ok &= all(decisions.get(k, 0) == v for k, v in e.decisions.items())
            if e.events is not None:
                got["events"] = types
                ok &= all(types.get(k, 0) == v for k, v in e.events.items())
            if e.subscription or e.space:
                ok &= check_parking(self, e.subscription, e.space, got)
            if e.complete:
                h = self.stack.edge_health()
                issued = {g: s for g, s in h["last_seq"].items()
                          if self.site_of_gate.get(g) in sites}
                got["issued"], got["stored"], got["outbox"] = issued, gates, h["outbox"]
                ok &= h["outbox"] == 0 and all(
                    gates.get(g, {}).get("count") == n and gates.get(g, {}).get("max_seq") == n
                    for g, n in issued.items())
            return bool(ok)

        try:
            wait_until(matches, float(e.within), interval=0.1, what="the cloud's events")
            return {"action": "expect_cloud", **got}
        except ScenarioError as exc:
            return {"action": "expect_cloud", **got, "errors": [str(exc)]}
        except TimeoutError:
            want = e.model_dump(exclude_none=True, exclude={"within", "site"})
            return {"action": "expect_cloud", **got,
                    "errors": [f"expected {want}, cloud has {got}"]}

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

"""``gatepost demo``: the whole system and a scripted day at a society gate, narrated."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from gatepost.cli.devices import serve_until_stopped
from gatepost.devstack.broker import free_port
from gatepost.scenario.runner import ScenarioRun
from gatepost.scenario.schema import ScenarioError, load


class Narrator:
    """Turns the runner's JSON lines into one readable line per step."""

    def __init__(self, out=sys.stdout) -> None:
        self.out = out
        self.ok = True

    def write(self, text: str) -> None:
        for raw in text.splitlines():
            if raw.strip():
                self.line(json.loads(raw))

    def flush(self) -> None:
        self.out.flush()

    def line(self, d: dict[str, Any]) -> None:
        if d.get("summary"):
            verdict = "every step as expected" if d["ok"] else "SOME STEPS FAILED"
            print(f"\n— end of the day: {verdict} ({d['seconds']} s)", file=self.out)
            return
        self.ok &= bool(d.get("ok"))
        mark = "✓" if d.get("ok") else "✗"
        name = d.get("name") or ""
        act = d.get("action")
        if act in ("rfid", "vehicle"):
            what = (f"{d['decision']:<7} {d.get('reason') or '':<19} "
                    f"boom {'up' if d['barrier_opened'] else 'down':<4} "
                    f"{'passed' if d['passed'] else ''}")
            text = f"{d['gate']:<9} {what}"
        elif act in ("guard", "remote_open"):
            who = d["guard"]["user"] if d.get("guard") else "cloud"
            text = (f"{d['gate']:<9} {d['decision']:<7} {d.get('reason') or '':<19} "
                    f"boom {'up' if d['barrier_opened'] else 'down':<4} by {who}")
        elif act == "cloud":
            version = d.get("rules_version")
            text = f"cloud {d.get('cloud_action')}" + (
                f" → v{version}" if version is not None else " (nothing for the gate)") + (
                f", at the gate in {d['synced_ms']} ms" if "synced_ms" in d else "")
        elif act == "expect_cloud" and d.get("subscription"):
            s = d["subscription"]
            text = "subscription " + ", ".join(f"{k} {v}" for k, v in s.items())
        elif act == "expect_cloud":
            text = f"cloud holds decisions {d.get('decisions')}" if d.get("decisions") \
                else "every event so far stored in the cloud once"
        elif act == "resident":
            text = f"app: {d.get('what')} {d.get('vrn') or ''} → {d.get('status')}" + (
                f", partner {d['partner']}" if d.get("partner") else "") + (
                f" ({d['reason']})" if d.get("reason") else "")
        elif act == "keypad":
            text = (f"{d['gate']:<9} {d['decision']:<7} {d.get('reason') or '':<19} "
                    f"keypad {d.get('led')}")
        elif act == "visitor":
            text = f"app: pass {d.get('what')} → {d.get('status')}"
        elif act == "expect_partner":
            text = f"the partner app holds {d.get('received')} matching events"
        elif act in ("at", "advance"):
            return
        else:
            text = f"{act}: {d.get(str(act), '')}"
        print(f" {mark} {name:<66.66} {text}", file=self.out)
        for e in d.get("errors", []):
            print(f"     ! {e}", file=self.out)
        self.out.flush()


def _panel_port(wanted: int) -> int:
    """The port asked for if it is free, else any free one."""
    if wanted:
        import socket

        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", wanted))
                return wanted
            except OSError:
                print(f"port {wanted} is taken; the panel gets another one", file=sys.stderr)
    return free_port()


def run_demo(args: argparse.Namespace) -> int:
    """Start everything, play the day, print the panel address, serve until Ctrl-C."""
    path = args.scenario or Path(str(resources.files("gatepost").joinpath("data/demo_day.yaml")))
    try:
        sc = load(path)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gatepost-demo-"))
    narrator = Narrator()
    run = ScenarioRun(sc, work, out=narrator)
    run.stack.set_edge_port(_panel_port(args.panel_port))
    print("Starting broker, cloud, hardware simulator and edge daemon …", flush=True)
    try:
        run.stack.start()
        docs = str(run.stack.cloud.base_url).rstrip("/") + "/docs"
        print(f"\n  Guard panel:         {run.stack.edge_url}/\n"
              + "".join(f"    sign in as {a.username} / {a.password} ({a.role})\n"
                        for a in sc.cloud.accounts) +
              f"  Cloud API docs:      {docs}\n"
              f"  State and logs:      {work}\n", flush=True)
        print(f"{sc.name}\n", flush=True)
        run.setup()
        for n, step in enumerate(sc.steps, start=1):
            run.run_step(n, step)
        print(f"\n— the day is over: {'every step as expected' if run.ok else 'SOME STEPS FAILED'}")
        if not args.exit:
            print(f"\nThe system keeps running. Guard panel: {run.stack.edge_url}/  "
                  "(Ctrl-C to stop)", flush=True)
            serve_until_stopped()
    except (TimeoutError, RuntimeError, ScenarioError) as exc:
        print(f"demo failed: {exc}\nlogs in {work}", file=sys.stderr)
        return 1
    finally:
        run.stack.stop()
        if args.workdir is None and run.ok:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if run.ok else 1

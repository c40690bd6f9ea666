"""``gatepost bench codes``: access codes at the gate, measured on the real parts.

- **keypad**: a code typed on the simulated OSDP keypad reader (libosdp PD on a pseudo-terminal
  at 115200 baud, secure channel) → the edge daemon (libosdp CP, in its own process) decides it
  from a cache of ``--codes`` codes (issued through the cloud to residents, four each) → the
  reader receives the LED command. Both ends are timed in the simulator (this process) on
  ``CLOCK_MONOTONIC``: from the last key (``#``) submitted to the LED command's arrival. The
  floor, measured in the same run: the same driver against a second simulated reader with a
  decision that is always yes and nothing behind it, so OSDP's own polling (the reader speaks
  only when polled, every 50 ms: libosdp's ``OSDP_PD_POLL_TIMEOUT_MS``) and framing are what it
  shows.
- **qr** and **job**: ``gatepost.bench.codes_parts``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from edge.adapters.keypad import OsdpKeypad
from gatepost.bench.measure import machine, memory, spread
from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until
from hardware_sim.keypad import KeypadSim

SITE = "codes-site"
FLOOR_SCBK = bytes(range(16, 32))


def _people_csv(n: int) -> str:
    rows = ["phone,name,site,flat,role"]
    rows += [f"+9198{i:08d},Resident {i},{SITE},T{i // 400:03d}-{i % 400:03d},owner"
             for i in range(n)]
    return "\n".join(rows) + "\n"


def _time_entries(sim: KeypadSim, codes: list[str]) -> tuple[list[float], int, dict[str, int]]:
    """Type each code, wait for the reader's flash: (latencies ms, missed, colours). Codes
    are typed 60–160 ms apart at random, so that each lands anywhere in OSDP's 50 ms poll
    cycle, as a visitor's does (typed back to back, they would lock onto one phase of it)."""
    rng = random.Random(11)
    latencies: list[float] = []
    colours: dict[str, int] = {}
    missed = 0
    for code in codes:
        before = len(sim.leds())
        typed = sim.type(code)
        deadline = time.monotonic() + 5
        while len(sim.leds()) <= before and time.monotonic() < deadline:
            time.sleep(0.0005)
        leds = sim.leds()
        if len(leds) <= before:
            missed += 1
            continue
        latencies.append((leds[before].at - typed) * 1000)
        colours[leds[before].what] = colours.get(leds[before].what, 0) + 1
        time.sleep(rng.uniform(0.06, 0.16))
    return latencies, missed, colours


def osdp_floor(entries: int, baud: int) -> dict[str, Any]:
    """The OSDP round trip alone: the driver against its own simulated reader, every code
    yes at once."""
    sim = KeypadSim(address=7, scbk=FLOOR_SCBK, baud=baud).start()
    states: list[bool] = []
    pad = OsdpKeypad("floor", sim.port_path, 7, FLOOR_SCBK, on_code=lambda code: True,
                     on_state=lambda up, why: states.append(up), baud=baud)
    pad.start()
    try:
        wait_until(lambda: states[-1:] == [True], 20, what="the floor reader's secure channel")
        lat, missed, _ = _time_entries(sim, [f"{i:08d}" for i in range(entries)])
        return {**spread(lat, (50, 99), 2), "entries": entries, "missed": missed}
    finally:
        pad.stop()
        sim.stop()


def keypad_part(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    """Codes typed at the gate's keypad with ``--codes`` cached; returns its JSON part."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-bench-codes-"))
    stack = Stack(work, [GateSpec("main-in", SITE, "entry", keypad=True)],
                  StackOptions(edge_id="codes-box"))
    try:
        stack.start()
        c = stack.cloud
        c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
        c.put(f"/api/v1/sites/{SITE}/codes/settings",
              json={"per_person": 4, "first_use_activates": True}).raise_for_status()
        people = -(-args.codes // 4)
        log(f"importing {people} residents and issuing {args.codes} codes …")
        t0 = time.monotonic()
        c.post("/api/v1/residents/import", content=_people_csv(people),
               headers={"Content-Type": "text/csv"}, timeout=900).raise_for_status()
        got = c.post(f"/api/v1/sites/{SITE}/codes/issue-all", timeout=1800).json()
        issue_s = time.monotonic() - t0
        stack.wait_edge_version(SITE, got["rules_version"], 900)
        load_s = time.monotonic() - t0
        cached = stack.edge_health()["cache"]["codes"]
        report = c.get("/api/v1/reports/codes.csv", params={"sites": SITE}, timeout=600).text
        codes = [r["Code"] for r in csv.DictReader(io.StringIO(report))]
        log(f"edge holds {cached} codes after {load_s:.1f} s; typing {args.entries} …")
        sim = stack.world.gates["main-in"].keypad
        assert sim is not None
        wait_until(lambda: sim.online, 30, what="the gate's keypad online")
        stride = max(1, len(codes) // max(1, args.entries))
        lat, missed, colours = _time_entries(
            sim, [codes[(i * stride) % len(codes)] for i in range(args.entries)])
        # The floor's own sample: half the run, never under 100 entries (its p99), nor more
        # entries than the run typed (a small run is a smoke test of the contract).
        floor = osdp_floor(max(args.entries // 2, min(args.entries, 100)), 115200)
        return {
            "codes_issued": got["issued"], "codes_cached": cached, "entries": args.entries,
            "baud": 115200, "flashes": colours, "missed": missed,
            "latency_ms": spread(lat, (50, 99), 2, with_max=True) if lat else {},
            "floor_ms": floor,
            "overhead_ms": {"p50": round(statistics.median(lat) - floor["p50"], 2)
                            if lat else None},
            "issue_s": round(issue_s, 1), "load_s": round(load_s, 1), **memory(stack)}
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


def bench_codes(args: argparse.Namespace) -> int:
    """Run the parts asked for and print one JSON object."""
    from gatepost.bench.codes_parts import job_part, qr_part

    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    out: dict[str, Any] = {"bench": "codes"}
    ok = True
    if "keypad" in parts:
        out["keypad"] = keypad_part(args, log)
        ok &= not out["keypad"]["missed"] and out["keypad"]["flashes"].get("green", 0) == \
            args.entries
    if "qr" in parts:
        out["qr"] = qr_part(args, log)
        ok &= "error" not in out["qr"] and not out["qr"].get("missed")
    if "job" in parts:
        out["job"] = job_part(args, log)
        ok &= out["job"]["checked"] > 0
    out["machine"] = machine()
    print(json.dumps(out, indent=None if args.json else 2))
    return 0 if ok else 1

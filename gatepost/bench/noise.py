"""``gatepost bench noise``: one lane's reader line is pure noise at line rate.

Two lanes on one box, through the real stack (edge daemon in its own process). Four phases,
in one run so that they share the machine's state: the edge idle; tag reads on the clean lane
(frame → flash-on acknowledged, as ``bench gate`` measures it); the noisy lane's line sending
random bytes flat out (5,760 B/s at 57,600 baud 8N1) with nothing else; and the clean lane's
reads again while the noise goes on. Edge CPU is read from ``/proc/<pid>/stat`` over each
phase. The noise's own cost is its phase's CPU less the idle phase's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from gatepost.bench.gate import drive_reads
from gatepost.bench.measure import machine, plate_vrn, spread, tag_epc
from gatepost.devstack.stack import GateSpec, Stack, StackOptions

SITE = "noise-site"


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_pct(pid: int, seconds: float) -> float:
    """Percent of one core the process used over the next *seconds*."""
    t0, c0 = time.monotonic(), _cpu_s(pid)
    time.sleep(seconds)  # a measurement window, not a wait for a condition
    return round((_cpu_s(pid) - c0) / (time.monotonic() - t0) * 100, 2)


def _reads(stack: Stack, gate, epcs: list[str], pid: int) -> dict:
    t0, c0 = time.monotonic(), _cpu_s(pid)
    latencies, failures, _ = drive_reads(stack, [gate], epcs)
    cpu = (_cpu_s(pid) - c0) / (time.monotonic() - t0) * 100
    return {"latency_ms": spread(latencies, (50, 95, 99), 3, with_max=True) if latencies else {},
            "reads": len(epcs), "failures": failures, "edge_cpu_pct": round(cpu, 2)}


def bench_noise(args: argparse.Namespace) -> int:
    """Run the noise benchmark and print one JSON object."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-noise-"))
    stack = Stack(work, [GateSpec("clean", SITE, "entry"), GateSpec("noisy", SITE, "exit")],
                  StackOptions(edge_id="noise-box"))
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    rate = args.baud / 10  # 8N1: ten bits a byte
    try:
        stack.start()
        c = stack.cloud
        c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
        n = max(args.tags, 2 * args.reads)
        c.post(f"/api/v1/sites/{SITE}/vehicles/bulk", json={"vehicles": [
            {"vrn": plate_vrn(i), "type": "4W"} for i in range(n)]}, timeout=300).raise_for_status()
        v = c.post(f"/api/v1/sites/{SITE}/tags/bulk", json={"tags": [
            {"epc": tag_epc(i), "vrn": plate_vrn(i), "status": "active"} for i in range(n)]},
            timeout=300).json()["rules_version"]
        stack.wait_edge_version(SITE, v, 300)
        assert stack.edge_proc is not None
        pid = stack.edge_proc.pid
        clean, noisy = stack.world.gates["clean"], stack.world.gates["noisy"]
        log("idle …")
        idle = _cpu_pct(pid, args.seconds)
        log(f"{args.reads} reads without noise …")
        quiet = _reads(stack, clean, [tag_epc(i) for i in range(args.reads)], pid)
        log(f"noise at {rate:.0f} B/s alone …")
        before = stack.edge_health()["readers"].get("noisy", {})
        noisy.reader.noise(rate)
        noise_only = _cpu_pct(pid, args.seconds)
        log(f"{args.reads} reads with noise …")
        loud = _reads(stack, clean, [tag_epc(args.reads + i) for i in range(args.reads)], pid)
        noisy.reader.noise(0)
        after = stack.edge_health()["readers"].get("noisy", {})
        rejected = {k: v - before.get("rejected", {}).get(k, 0)
                    for k, v in after.get("rejected", {}).items()}
        p99 = (quiet["latency_ms"].get("p99"), loud["latency_ms"].get("p99"))
        result = {
            "bench": "noise",
            "baud": args.baud, "noise_bytes_per_s": rate, "tags_cached": n,
            "idle_cpu_pct": idle,
            "noise_cpu_pct": noise_only,
            "noise_cost_pct": round(noise_only - idle, 2),
            "quiet": quiet,
            "noisy": loud,
            "p99_ratio": round(p99[1] / p99[0], 2) if all(p99) else None,
            "rejected": rejected,
            "frames_from_noise": after.get("frames", 0) - before.get("frames", 0),
            "machine": machine(),
        }
        print(json.dumps(result, indent=None if args.json else 2))
        ok = not quiet["failures"] and not loud["failures"] and quiet["latency_ms"]
        return 0 if ok else 1
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)




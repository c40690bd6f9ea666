"""``gatepost bench camera``: what cameras cost the edge, and how fast a plate is decided.

Two simulated cameras stream at ``--fps`` into the real edge daemon (its own process, with the
motion trigger). First, with no vehicle, the edge's CPU time is read from /proc over
``--idle-s`` seconds: an empty lane should cost almost nothing. Then vehicles arrive, alternating
gates and photographs: for each, the simulated camera notes ``CLOCK_MONOTONIC`` when it starts
showing the vehicle, and the edge notes the same clock when it has decided; the difference is the
frame-of-arrival → decision latency.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from edge.adapters.alpr import missing_models
from gatepost.bench.measure import machine, memory, spread
from gatepost.devstack.assets import alpr_models, plates_dir
from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until
from shared.clock import FileClock

SITE = "bench-site"
# Indian plates the pipeline reads (see docs/benchmarks.md); registered with active tags.
PHOTOS = {"india/ks__3.jpg": "TS08FM8888", "india/ks__4.jpg": "MH14DX5842",
          "india/ra__2-Figure3-1.png": "DL3CAM0857", "india/ra__IMG_1587.jpeg": "HR51AQ9600"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_camera(args: argparse.Namespace) -> int:
    """Run the camera benchmark and print one JSON object."""
    models, photos = alpr_models(), plates_dir()
    problem = missing_models(models) or (None if all((photos / p).is_file() for p in PHOTOS)
                                         else f"photographs missing under {photos}")
    if problem:
        print(json.dumps({"error": problem}))
        return 2
    work = Path(tempfile.mkdtemp(prefix="gatepost-bench-cam-"))
    gates = [GateSpec(f"cam-{i + 1}", SITE, "entry", {"country": "IN"}) for i in range(2)]
    stack = Stack(work, gates, StackOptions(edge_id="cam-box", alpr_models=models))
    stack.world.camera_fps = args.fps
    try:
        stack.start()
        c = stack.cloud
        c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
        for i, vrn in enumerate(PHOTOS.values()):
            c.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": vrn}).raise_for_status()
            v = c.post(f"/api/v1/sites/{SITE}/tags", json={
                "epc": f"E2801160600002040000C{i:03X}", "vrn": vrn, "status": "active"}).json()
        stack.wait_edge_version(SITE, v["rules_version"], 10)
        wait_until(lambda: all(cam["frames"] > 20 for cam in
                               stack.edge_health()["cameras"].values()), 30,
                   what="both cameras streaming")
        assert stack.edge_proc is not None
        pid = stack.edge_proc.pid
        cams0 = stack.edge_health()["cameras"]
        t0, cpu0 = time.monotonic(), cpu_seconds(pid)
        time.sleep(args.idle_s)  # the measurement window itself
        idle_cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
        cams1 = stack.edge_health()["cameras"]
        idle_frames = sum(cams1[k]["frames"] - cams0[k]["frames"] for k in cams1)
        idle_recognised = sum(cams1[k]["recognised"] - cams0[k]["recognised"] for k in cams1)

        latencies, missed = [], 0
        names = list(PHOTOS)
        cursor = stack.edge_last_event()
        for i in range(args.arrivals):
            gate = stack.world.gates[gates[i % 2].id]
            assert gate.camera is not None
            FileClock.advance(stack.clock_file, timedelta(minutes=1))  # a new visit each time
            shown = gate.camera.show(photos / names[i % len(names)])
            found = None
            deadline = time.monotonic() + 10
            while found is None and time.monotonic() < deadline:
                events, cursor = stack.edge_events_after(cursor, wait=1.0)
                found = next((e for e in events if e["type"] == "decision"
                              and e["gate"] == gate.id
                              and e["credential"]["kind"] == "plate"), None)
            if found is None:
                missed += 1
            else:
                latencies.append((found["decided_mono_ns"] / 1e9 - shown) * 1000)
            gate.camera.clear()
            wait_until(lambda g=gate: g.boom.snapshot().closed_limit, 15, what="boom down")
        out = {
            "bench": "camera", "cameras": 2, "fps": args.fps, "idle_s": args.idle_s,
            "idle_cpu_pct_of_one_core": round(idle_cpu, 2),
            "idle_frames": idle_frames, "idle_recognised_frames": idle_recognised,
            "arrivals": args.arrivals, "missed": missed,
            "latency_ms": spread(latencies, (50, 95), 1, with_max=True) if latencies else {},
            **memory(stack),
            "machine": machine(),
        }
        print(json.dumps(out, indent=None if args.json else 2))
        return 0 if latencies and not missed else 1
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)

"""``gatepost bench onboarding``: how long a resident waits between activating a sticker in the
app and the sticker opening the gate, and what importing a carnival's stickers costs.

*Activation → open*, through the real stack: a resident (with an app key) adds a vehicle (the
vehicle registry simulator knows it) and then activates a sticker from the inventory; the
bench notes ``CLOCK_MONOTONIC`` before the request, and the car is at the gate all along: the
simulated reader repeats the sticker's frame every 20 ms, as a reader does while a tag is in
its field. The simulated relay board (in this process) notes the same clock when the barrier's
contact closes. The path in between is the real one: the cloud's checks, the rules delta over
Mosquitto, the edge's cache and the lane deciding again on its next read now that the rules
changed.

*Forwarding* (``gatepost.bench.forward``): with the society integrated with MyGate from the
start, each activation connects the vehicle; ``--forward-events`` passes are then forwarded after
an outage of the partner of ``--partner-down-s``.

*Import*: ``--stickers`` stickers imported with one ``POST /api/v1/sites/{site}/tags/import``
(secrets hashed with scrypt), timed, with the cloud process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from gatepost.bench import forward
from gatepost.bench.measure import machine, rss_mb, spread
from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until
from hardware_sim.barrier import BarrierTiming

SITE = "bench-society"


def tag_epc(i: int) -> str:
    return f"E2801160600002040A{i:06X}"


def plate_vrn(i: int) -> str:
    return f"MH12AB{i:04d}"


def _stickers(n: int, first: int = 0) -> str:
    rows = [f"T-{first + i:07d},S{first + i:06d},{tag_epc(first + i)},4W" for i in range(n)]
    return "tag_id,secret,epc,vehicle_type\n" + "\n".join(rows) + "\n"


PHONE = "+919876543210"


def _setup(stack: Stack, n: int, partner: bool) -> str:
    """A society with an entry gate, a resident with an app key, *n* stickers and vehicles;
    integrated with MyGate when *partner*."""
    c = stack.cloud
    c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/gates", json={"id": "main-in", "direction": "entry"}
           ).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/tags/import", content=_stickers(n),
           headers={"Content-Type": "text/csv"}, timeout=600).raise_for_status()
    resident = c.post("/api/v1/residents", json={
        "phone": PHONE, "name": "Bench Resident",
        "flats": [{"site": SITE, "flat": "A-101"}]}).json()["id"]
    key = c.post(f"/api/v1/residents/{resident}/keys").json()["key"]
    for i in range(n):
        stack.registry.add(plate_vrn(i), "4W", "Maruti", "Swift")
    if partner:
        forward.integrate(stack, SITE, PHONE)
    return str(key)


def _activations(stack: Stack, key: str, n: int, errors: set[str]) -> tuple[list[float], int]:
    """Activation request → relay contact closed, per sticker (ms); and how many never
    opened."""
    import httpx

    app = httpx.Client(base_url=str(stack.cloud.base_url), timeout=30,
                       headers={"X-Api-Key": key})
    gate = stack.world.gates["main-in"]
    board = gate.board
    latencies: list[float] = []
    failed = 0
    for i in range(n):
        app.post("/api/v1/me/vehicles", json={"vrn": plate_vrn(i)}).raise_for_status()
        wait_until(lambda: all(p.off_at is not None for p in board.pulses), 5,
                   what="the previous pulse to end")
        before = len(board.pulses)
        t0 = time.monotonic()
        r = app.post("/api/v1/me/tags/activate", json={
            "vrn": plate_vrn(i), "tag_id": f"T-{i:07d}", "secret": f"S{i:06d}"})
        if r.status_code != 200:
            failed += 1
            errors.add(f"{r.status_code} {r.text[:200]}")
            continue
        deadline = t0 + 10
        while len(board.pulses) <= before and time.monotonic() < deadline:
            gate.reader.push_once(tag_epc(i))  # the car waits at the barrier, its tag read
            time.sleep(0.02)
        pulse = next((p for p in board.pulses[before:] if p.on_at >= t0), None)
        if pulse is None:
            failed += 1
            errors.add(f"sticker {i} did not open the gate within 10 s")
            continue
        latencies.append((pulse.on_at - t0) * 1000)
    app.close()
    return latencies, failed


def bench_onboarding(args: argparse.Namespace) -> int:
    """Run the onboarding benchmark and print one JSON object."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-bench-onboarding-"))
    timing = BarrierTiming(rise_s=0.05, fall_s=0.05, warn_s=0, auto_close_s=0.2,
                           close_after_pass_s=0.1)
    stack = Stack(work, [GateSpec("main-in", SITE, "entry")],
                  StackOptions(edge_id="onboarding-box", timing=timing,
                               policy={"dedup_hold_s": 0.5, "redecide_s": 0.05}))
    try:
        stack.start()
        key = _setup(stack, args.activations, args.forward_events > 0)
        errors: set[str] = set()
        opened, failed = _activations(stack, key, args.activations, errors)
        forwarding = forward.measure(
            stack, SITE, key, [plate_vrn(i) for i in range(args.activations)], args.forward_events,
            args.partner_down_s) if args.forward_events else {}
        if forwarding and (forwarding["missing"] or forwarding["unexpected"]
                           or forwarding["opted_out_received"] or forwarding["out_of_order"]):
            failed += 1
            errors.add(f"forwarding was not exactly once and in order: {forwarding}")
        imported: dict[str, float | int] = {"stickers": args.stickers}
        if args.stickers:
            t0 = time.monotonic()
            r = stack.cloud.post(f"/api/v1/sites/{SITE}/tags/import",
                                 content=_stickers(args.stickers, first=10_000_000),
                                 headers={"Content-Type": "text/csv"}, timeout=3600)
            r.raise_for_status()
            imported["seconds"] = round(time.monotonic() - t0, 1)
        assert stack.cloud_proc is not None
        _, peak = rss_mb(stack.cloud_proc.pid)
        imported["cloud_peak_rss_mb"] = peak
        out = {
            "bench": "onboarding", "activations": args.activations,
            "activation_to_open_ms": spread(opened, (50, 95, 99), 1, with_max=True)
            if opened else {},
            "failed": failed, "errors": sorted(errors)[:5], "forwarding": forwarding,
            "import": imported,
            "machine": machine(),
        }
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0 if failed == 0 else 1

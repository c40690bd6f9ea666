"""``gatepost bench gate``: tag frame → flash-on acknowledged, through the real stack.

The simulator runs in this process and the edge daemon in its own, as in production. For each
read the simulated reader sends one scan frame and notes ``time.monotonic_ns()`` after its last
byte; the edge notes the same clock (CLOCK_MONOTONIC is shared by processes on one machine)
when the relay board acknowledges the flash-on write. Reads are closed-loop, one at a time,
5 ms apart, alternating gates, each a different tag of the cache. While reads run the bench
only watches the simulated board (in this process); it fetches the edge's ack times in one batch
afterwards, so its own HTTP calls never compete with the edge inside the measured window.
The floor is measured in the same run: the frame's wire time at the configured baud, plus a
bare pymodbus client's flash-on round trip to the same server.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from pymodbus.client import ModbusTcpClient

from edge.drivers.waveshare import RawWriteCoil, flash_on
from edge.store.cache import RulesCache
from gatepost.bench.measure import machine, memory, pct, plate_vrn, spread, tag_epc
from gatepost.devstack.stack import GateSpec, Stack, StackOptions
from hardware_sim import uhf_codec
from hardware_sim.relay_board import RelayBoard
from shared.db import connect

SITE = "bench-site"
READER_HZ = 20.0  # the simulated reader's scan-mode repeat rate (a tag read 20 times a second)
SPARE_UNIT = 200
BULK = 100_000


class _ReadOnlyDB:
    """Just enough of EdgeDB for RulesCache reads, on a read-only connection."""

    def __init__(self, path: Path) -> None:
        self.conn = connect(path, readonly=True)


def cache_lookup_us(db_path: Path, n_tags: int, samples: int = 20_000) -> dict:
    """p50/p99 of one tag lookup in the edge's cache file, hits and misses mixed."""
    cache = RulesCache(_ReadOnlyDB(db_path))  # type: ignore[arg-type]
    times = []
    for i in range(samples):
        epc = tag_epc((i * 7919) % n_tags) if i % 4 else f"FFFF{i:020X}"
        t = time.perf_counter_ns()
        cache.tag(epc)
        times.append((time.perf_counter_ns() - t) / 1000)
    return {**spread(times, (50, 99), 2), "samples": samples}


def _parking(stack: Stack, gates: list[GateSpec], n_tags: int, n_subs: int, log) -> int:
    """Make the lanes barriers of one parking with *n_subs* subscriptions of the cached
    vehicles (the reads then decide ``subscription_valid`` from 100,000 of them)."""
    c = stack.cloud
    log(f"loading a parking with {n_subs} subscriptions …")
    c.post(f"/api/v1/sites/{SITE}/parkings", json={"id": "bench-park", "name": "Bench"}
           ).raise_for_status()
    for g in gates:
        c.post(f"/api/v1/sites/{SITE}/gates", json={"id": g.id, "direction": g.direction}
               ).raise_for_status()
        c.put(f"/api/v1/sites/{SITE}/gates/{g.id}/parking", json={"parking": "bench-park"}
              ).raise_for_status()
    c.post("/api/v1/parkings/bench-park/activate").raise_for_status()
    c.post("/api/v1/parkings/bench-park/spaces", json={"numbers": f"1..{n_subs}",
                                                       "size": "small"}, timeout=300
           ).raise_for_status()
    c.post("/api/v1/parkings/bench-park/tariffs", json={
        "size": "small", "unit": "daily", "lower": 1, "upper": 365, "price": 50}
           ).raise_for_status()
    r = c.post("/api/v1/parkings/bench-park/subscriptions/import", json={"subscriptions": [
        {"space": i + 1, "owner": f"flat-{i}", "vehicles": [plate_vrn(i % n_tags)], "units": 90}
        for i in range(n_subs)]}, timeout=600)
    r.raise_for_status()
    return int(r.json()["rules_version"])


def drive_reads(stack: Stack, sim_gates: list, epcs: list[str], repeat: int = 1,
                period_s: float = 0.05) -> tuple[list[float], int, Counter[str]]:
    """One scan frame per EPC (``repeat`` frames ``period_s`` apart, as a reader in scan mode
    repeats a tag, for gates that confirm reads), alternating gates, each awaited at the relay
    board, then the edge's ack times fetched in one batch: (first frame → ack latencies in ms,
    failures, reasons)."""
    cursor = stack.edge_last_event()
    sent: dict[str, list[int]] = {g.id: [] for g in sim_gates}
    for i, epc in enumerate(epcs):
        g = sim_gates[i % len(sim_gates)]
        before = g.board.flash_writes
        sent[g.id].append(g.reader.push_once(epc))
        for _ in range(repeat - 1):
            if g.board.wait_flash_writes(before + 1, period_s):
                break
            g.reader.push_once(epc)
        g.board.wait_flash_writes(before + 1, 5)
        time.sleep(0.005)  # let the edge finish its bookkeeping before the next read
    opens: dict[str, list[dict]] = {g.id: [] for g in sim_gates}
    reasons: Counter[str] = Counter()
    while sum(map(len, opens.values())) < len(epcs):
        events, cursor = stack.edge_events_after(cursor, wait=2.0)
        if not events:
            break
        for e in events:
            if e["type"] == "open" and e["gate"] in opens:
                opens[e["gate"]].append(e)
            elif e["type"] == "decision" and e["gate"] in opens:
                reasons[e["reason"]] += 1
    latencies: list[float] = []
    failures = 0
    for gid, frames in sent.items():
        got = opens[gid]
        failures += len(frames) - len(got) + sum(1 for e in got if not e["ok"])
        # The k-th open at a gate answers the k-th frame sent to it (reads are one at a time).
        latencies += [(e["ack_mono_ns"] - t) / 1e6
                      for t, e in zip(frames, got, strict=False) if e["ok"]]
    return latencies, failures, reasons


def bench_gate(args: argparse.Namespace) -> int:
    """Run the gate benchmark and print one JSON object."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-bench-"))
    extra = {"confirm_reads": args.confirm_reads} if args.confirm_reads > 1 else {}
    gates = [GateSpec(f"lane-{i + 1}", SITE, "entry" if i % 2 == 0 else "exit", extra=extra)
             for i in range(args.gates)]
    stack = Stack(work, gates, StackOptions(edge_id="bench-box"))
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    try:
        stack.start()
        stack.world.bank.add(RelayBoard(SPARE_UNIT))  # for the bare-client floor
        c = stack.cloud
        c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
        n = args.tags
        log(f"loading {n} vehicles and tags through the cloud API …")
        t0 = time.monotonic()
        for a in range(0, n, BULK):  # a bulk request takes up to 100,000 rows
            c.post(f"/api/v1/sites/{SITE}/vehicles/bulk", json={"vehicles": [
                {"vrn": plate_vrn(i), "type": "4W"} for i in range(a, min(n, a + BULK))]},
                timeout=600).raise_for_status()
        for a in range(0, n, BULK):
            v = c.post(f"/api/v1/sites/{SITE}/tags/bulk", json={"tags": [
                {"epc": tag_epc(i), "vrn": plate_vrn(i), "status": "active"}
                for i in range(a, min(n, a + BULK))]}, timeout=600).json()["rules_version"]
        if args.subscriptions:
            v = _parking(stack, gates, n, args.subscriptions, log)
        stack.wait_edge_version(SITE, v, 300)
        load_s = time.monotonic() - t0
        cached = stack.edge_health()["cache"]["tags"]
        subs_cached = stack.edge_health()["cache"]["subscriptions"]
        log(f"edge holds {cached} tags after {load_s:.1f} s; driving {args.reads} reads …")

        sim_gates = [stack.world.gates[g.id] for g in gates]
        stride = max(1, n // max(1, args.reads))
        latencies, failures, reasons = drive_reads(
            stack, sim_gates, [tag_epc((i * stride) % n) for i in range(args.reads)],
            repeat=args.confirm_reads, period_s=1 / READER_HZ)

        # The floor, measured now against the same server.
        assert stack.world.server is not None
        client = ModbusTcpClient("127.0.0.1", port=stack.world.server.port, timeout=2)
        client.register(RawWriteCoil)
        client.connect()
        rtts = []
        for _ in range(max(200, args.reads // 4)):
            t = time.perf_counter_ns()
            client.execute(False, flash_on(1, 100, SPARE_UNIT))
            rtts.append((time.perf_counter_ns() - t) / 1e6)
        client.close()
        frame_len = len(uhf_codec.scan_push(tag_epc(0)))
        wire_ms = frame_len * 10 / args.baud * 1000
        result = {
            "bench": "gate",
            "reads": args.reads,
            "gates": args.gates,
            "tags_cached": cached,
            "subscriptions_cached": subs_cached,
            "decisions": dict(sorted(reasons.items())),
            "transport": "modbus-tcp, reader over socket://",
            "confirm_reads": args.confirm_reads,
            "reader_repeat_ms": round(1000 / READER_HZ, 1),
            "latency_ms": spread(latencies, (50, 99), 3, with_max=True, with_mean=True)
            if latencies else {},
            "floor_ms": {"p50": round(wire_ms + statistics.median(rtts), 3),
                         "p99": round(wire_ms + pct(rtts, 99), 3),
                         "wire_ms": round(wire_ms, 3), "frame_bytes": frame_len,
                         "baud": args.baud,
                         "modbus_rtt_p50": round(statistics.median(rtts), 3),
                         "modbus_rtt_p99": round(pct(rtts, 99), 3)},
            "overhead_ms": {"p50": round(statistics.median(latencies) - statistics.median(rtts),
                                         3) if latencies else None},
            "cache_lookup_us": cache_lookup_us(work / "edge" / "edge.sqlite", n),
            "failures": failures,
            "load_s": round(load_s, 1),
            **memory(stack),
            "machine": machine(),
        }
        print(json.dumps(result, indent=None if args.json else 2))
        return 0 if latencies and not failures else 1
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)

"""``gatepost bench offline``: a box that holds a large backlog while its uplink is down, then
drains it: exactly once at the cloud, bytes on disk per queued event, drain rate, the gate's
latency while it drains, and the edge's memory.

Everything is the real stack (broker, cloud, simulator, the edge daemon as its own process).
The uplink is cut at the box's side (the broker stays up for the cloud). Some decisions are made
through the real path while offline; the bulk of the backlog is written through the event log's
API (``Outbox.add``) with the daemon stopped, as fast as it takes them (the fill rate is in the
JSON). The daemon then starts offline, the link comes back, and reads keep arriving at the
gate while the backlog drains; their frame → relay-ack latency is compared with the same reads
on an idle link in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.storage import Database
from edge.store.db import EdgeDB
from edge.store.outbox import Outbox
from gatepost.bench.faults_traffic import stored_counts
from gatepost.bench.gate import drive_reads
from gatepost.bench.measure import machine, plate_vrn, rss_mb, spread, tag_epc
from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until
from shared.vocab import EventType

SITE = "offline-site"
EDGE = "offline-box"
FILL_TX = 20_000  # events per fill transaction


def _file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def fill(db_path: Path, gates: list[str], n: int, at: datetime) -> float:
    """Write *n* events (a read and its decision, alternately) through the event log's API;
    events a second."""
    db = EdgeDB(db_path)
    box = Outbox(db, EDGE, {g: SITE for g in gates})
    t0 = time.monotonic()
    try:
        done = 0
        while done < n:
            with db.write() as c:
                for i in range(done, min(n, done + FILL_TX)):
                    gate = gates[i // 2 % len(gates)]
                    cred = {"kind": "tag", "value": tag_epc(i // 2 % 100_000)}
                    when = at + timedelta(milliseconds=i)
                    if i % 2 == 0:
                        box.add(c, gate, EventType.READ, when, {"credential": cred})
                    else:
                        box.add(c, gate, EventType.DECISION, when, {
                            "credential": cred, "outcome": "open", "reason": "tag_valid",
                            "vrn": plate_vrn(i // 2 % 100_000), "direction": "entry", "detail": ""})
            done = min(n, done + FILL_TX)
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return n / (time.monotonic() - t0)


def bench_offline(args: argparse.Namespace) -> int:
    """Run the bench and print its JSON."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-offline-"))
    gates = [GateSpec("lane-1", SITE, "entry"), GateSpec("lane-2", SITE, "exit")]
    stack = Stack(work, gates, StackOptions(edge_id=EDGE))
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    try:
        stack.start()
        if args.nice_others:  # they stand for other machines: the box's processes come first
            for proc in (stack.cloud_proc, stack.broker.proc):
                assert proc is not None
                os.setpriority(os.PRIO_PROCESS, proc.pid, args.nice_others)
        c = stack.cloud
        c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
        n_tags = 5000
        c.post(f"/api/v1/sites/{SITE}/vehicles/bulk", json={"vehicles": [
            {"vrn": plate_vrn(i), "type": "4W"} for i in range(n_tags)]}).raise_for_status()
        v = c.post(f"/api/v1/sites/{SITE}/tags/bulk", json={"tags": [
            {"epc": tag_epc(i), "vrn": plate_vrn(i), "status": "active"} for i in range(n_tags)]}
                   ).json()["rules_version"]
        stack.wait_edge_version(SITE, v, 60)
        sim_gates = [stack.world.gates[g.id] for g in gates]
        # Each phase reads other tags: a tag read again within the de-dup hold is ignored.
        r = min(args.reads, n_tags // 4)
        log(f"idle link: {r} reads …")
        idle, idle_failed, _ = drive_reads(stack, sim_gates, [tag_epc(i) for i in range(r)])

        assert stack.mqtt_link is not None
        stack.mqtt_link.down()
        wait_until(lambda: not stack.edge_health()["cloud_connected"], 30, what="link down")
        log(f"offline: {r} reads through the real path …")
        _, offline_failed, _ = drive_reads(stack, sim_gates, [tag_epc(r + i) for i in range(r)])
        stack.stop_edge()
        db_path = work / "edge" / "edge.sqlite"
        before = _file_bytes(db_path)
        log(f"offline: writing {args.events} events through the event log …")
        fill_rate = fill(db_path, [g.id for g in gates], args.events,
                         datetime.now(UTC).astimezone())
        queue_bytes = _file_bytes(db_path) - before
        stack.start_edge()
        assert stack.edge_proc is not None
        held = int(stack.edge_health()["outbox"])
        log(f"{held} events held ({queue_bytes / 2**20:.0f} MB); link back up, draining …")

        drained = threading.Event()
        t0 = time.monotonic()
        stack.mqtt_link.up()

        def watch() -> None:
            wait_until(lambda: stack.edge_health(timeout=10)["outbox"] == 0,
                       args.drain_timeout, interval=1.0, what="the backlog drained")
            drained.set()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        draining: list[float] = []
        draining_failed = 0
        turn = 0
        while not drained.is_set() and len(draining) < args.reads * 20:
            start = 2 * r + (turn * 50) % (n_tags - 2 * r - 50)
            got, failed, _ = drive_reads(stack, sim_gates,
                                         [tag_epc(start + i) for i in range(50)])
            turn += 1
            draining += got
            draining_failed += failed
        watcher.join(args.drain_timeout + 10)
        drain_s = time.monotonic() - t0
        if not drained.is_set():
            raise RuntimeError("the backlog did not drain in time")
        rss, peak = rss_mb(stack.edge_proc.pid)
        issued = sum(stack.edge_health()["last_seq"].values())

        store = Database(work / "cloud" / "cloud.sqlite", upgrade=False)
        try:
            wait_until(lambda: stored_counts(store, EDGE)[0] >= issued, 30,
                       what="every event at the cloud")
            rows, distinct = stored_counts(store, EDGE)
        finally:
            store.close()
        after_mb = _file_bytes(db_path) / 2**20
        result = {
            "bench": "offline", "events": args.events, "events_held": held,
            "events_issued": issued, "stored_once": distinct, "lost": issued - distinct,
            "duplicated": rows - distinct, "exactly_once": rows == distinct == issued,
            "bytes_per_event": round(queue_bytes / args.events, 1),
            "queue_mb": round(queue_bytes / 2**20, 1), "fill_events_per_s": round(fill_rate),
            "drain_s": round(drain_s, 2), "drain_events_per_s": round(held / drain_s),
            "file_mb_after_drain": round(after_mb, 1),
            "edge_rss_mb": rss, "edge_peak_rss_mb": peak,
            "gate_ms_idle": spread(idle, (50, 99), 3, with_max=True) if idle else {},
            "gate_ms_draining": spread(draining, (50, 99), 3, with_max=True)
            if draining else {},
            "reads_while_draining": len(draining),
            "gate_failures": {"idle": idle_failed, "offline": offline_failed,
                              "draining": draining_failed},
            "nice_others": args.nice_others, "machine": machine(),
        }
        print(json.dumps(result, indent=None if args.json else 2))
        return 0 if result["exactly_once"] and not any(result["gate_failures"].values()) \
            else 1
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

"""``gatepost bench bulk``: a bulk change of many tags at a site whose box caches a great many,
from the staff's request to the box's cache holding it (the real stack; the change travels as
one delta when it fits, else the box takes a snapshot)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from gatepost.bench.gate import BULK
from gatepost.bench.measure import machine, memory, plate_vrn, spread, tag_epc
from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until

SITE = "bulk-site"


def bench_bulk(args: argparse.Namespace) -> int:
    """Run the bench and print its JSON."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-bulk-"))
    stack = Stack(work, [GateSpec("main-in", SITE, "entry")], StackOptions(edge_id="bulk-box"))
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    n, k = args.tags, args.change
    try:
        stack.start()
        c = stack.cloud
        c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
        log(f"loading {n} tags (and {k} more vehicles) …")
        for a in range(0, n + k, BULK):
            c.post(f"/api/v1/sites/{SITE}/vehicles/bulk", json={"vehicles": [
                {"vrn": plate_vrn(i), "type": "4W"} for i in range(a, min(n + k, a + BULK))]},
                timeout=600).raise_for_status()
        v = 0
        for a in range(0, n, BULK):
            v = c.post(f"/api/v1/sites/{SITE}/tags/bulk", json={"tags": [
                {"epc": tag_epc(i), "vrn": plate_vrn(i), "status": "active"}
                for i in range(a, min(n, a + BULK))]}, timeout=600).json()["rules_version"]
        stack.wait_edge_version(SITE, v, 1800)
        # The box asked for the site's rules before the site existed, and retries each
        # second: the changes are timed once it has stopped.
        wait_until(lambda: not stack.edge_health()["rules_retrying"], 30, what="no retry")
        before = stack.edge_health()["counters"]
        api, edge = [], []
        for run in range(args.runs):
            status = "active" if run % 2 == 0 else "blocked"
            t0 = time.monotonic()
            tags = [{"epc": tag_epc(n + i), "vrn": plate_vrn(n + i), "status": status}
                    for i in range(k)]
            v = c.post(f"/api/v1/sites/{SITE}/tags/bulk", json={"tags": tags},
                       timeout=600).json()["rules_version"]
            api.append(time.monotonic() - t0)
            stack.wait_edge_version(SITE, v, 600)
            edge.append(time.monotonic() - t0)
        after = stack.edge_health()
        counters = after["counters"]
        result = {
            "bench": "bulk", "tags_cached": after["cache"]["tags"], "change_rows": k,
            "runs": args.runs, "api_s": spread(api, (50,), 3, with_max=True),
            "edge_s": spread(edge, (50,), 3, with_max=True),
            "as_delta": counters.get("delta_applied", 0) - before.get("delta_applied", 0)
            == args.runs and counters.get("snapshots") == before.get("snapshots"),
            **memory(stack), "machine": machine(),
        }
        print(json.dumps(result, indent=None if args.json else 2))
        return 0
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)

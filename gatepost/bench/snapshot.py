"""``gatepost bench snapshot``: a site with a million tags, its full rules served by the cloud
and taken by a box, with the memory each side needs.

The site's vehicles and tags are written into a fresh cloud database with SQL (the API's bulk
routes take 100,000 rows a request, and their own memory is not what is measured here). The
cloud is the real ``gatepost cloud run`` process; the box's side is the edge's real cloud link
(``edge.adapters.snapshot.take_snapshot``: NDJSON streamed to a file, then applied to the
cache) in a process of
its own, so that each side's peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from cloud.storage import Database
from gatepost.bench.measure import machine, plate_vrn, rss_mb, tag_epc
from gatepost.devstack.broker import free_port
from gatepost.devstack.stack import wait_until

SITE = "snapshot-site"
KEY = "gpk_bench_snapshot_admin_key"


def _load(url: str, n: int) -> None:
    db = Database(url)
    try:
        with db.write() as c:
            c.execute("INSERT INTO sites(id, name, rules_version, created_at) VALUES "
                      "(?, ?, 1, ?)", (SITE, SITE, "2026-12-05T00:00:00+00:00"))
            for a in range(0, n, 50_000):
                rows = range(a, min(n, a + 50_000))
                c.executemany("INSERT INTO vehicles(site, vrn, type, created_at) VALUES "
                              "(?, ?, '4W', '')", [(SITE, plate_vrn(i)) for i in rows])
                c.executemany("INSERT INTO tags(epc, site, status, vrn, locked, updated_at) "
                              "VALUES (?, ?, 'active', ?, 0, '')",
                              [(tag_epc(i), SITE, plate_vrn(i)) for i in rows])
    finally:
        db.close()


def _edge_side(base: str, folder: str, out: Any) -> None:
    """In its own process: take the snapshot as the edge does; report time and memory."""
    from edge.adapters.snapshot import take_snapshot
    from edge.store.cache import RulesCache
    from edge.store.db import EdgeDB

    db = EdgeDB(Path(folder) / "edge.sqlite")
    cache = RulesCache(db)
    t0 = time.monotonic()
    head = take_snapshot(base, SITE, KEY, cache)
    took = time.monotonic() - t0
    out.put({"s": took, "tags": cache.counts()["tags"], "ok": int(head.site == SITE),
             "rss": rss_mb(os.getpid())})
    db.close()


def bench_snapshot(args: argparse.Namespace) -> int:
    """Run the bench and print its JSON."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-snapshot-"))
    url = str(work / "cloud.sqlite")
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    log(f"writing {args.tags} vehicles and tags …")
    _load(url, args.tags)
    port = free_port()
    cloud = subprocess.Popen(
        [sys.executable, "-m", "gatepost.cli", "cloud", "run", "--db", url, "--no-mqtt",
         "--port", str(port), "--jobs-every", "0", "--data-dir", str(work)],
        env=dict(os.environ, GATEPOST_ADMIN_KEY=KEY), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 60,
                   what="the cloud")
        idle, _ = rss_mb(cloud.pid)
        sizes = {}
        for name, accept in (("json", "application/json"), ("ndjson", "application/x-ndjson")):
            t0 = time.monotonic()
            n = 0
            with httpx.stream("GET", f"{base}/api/v1/sites/{SITE}/rules", timeout=600,
                              headers={"X-Api-Key": KEY, "Accept": accept}) as r:
                r.raise_for_status()
                for chunk in r.iter_bytes():
                    n += len(chunk)
            sizes[name] = (n, time.monotonic() - t0)
        log("the edge takes the snapshot …")
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        edge = ctx.Process(target=_edge_side, args=(base, str(work), out))
        edge.start()
        got = out.get(timeout=1800)
        edge.join(60)
        _, cloud_peak = rss_mb(cloud.pid)
        result = {
            "bench": "snapshot", "tags": args.tags, "edge_tags_cached": got["tags"],
            "snapshot_mb": {k: round(v[0] / 2**20, 1) for k, v in sizes.items()},
            "serve_s": {k: round(v[1], 2) for k, v in sizes.items()},
            "edge_take_s": round(got["s"], 2),
            "cloud_idle_rss_mb": idle, "cloud_peak_rss_mb": cloud_peak,
            "edge_rss_mb": got["rss"][0], "edge_peak_rss_mb": got["rss"][1],
            "machine": machine(),
        }
        print(json.dumps(result, indent=None if args.json else 2))
        return 0 if got["tags"] == args.tags and got["ok"] == 1 else 1
    finally:
        cloud.terminate()
        cloud.wait(10)
        shutil.rmtree(work, ignore_errors=True)

"""``gatepost bench ingest``: how many events a second the cloud stores exactly once when many
edge boxes publish at once, against the broker's own ceiling measured in the same run.

Everything is real and on loopback: Mosquitto with a provisioned user per box, the cloud
(``gatepost cloud run --workers N``) on SQLite or a throwaway PostgreSQL, and load processes
that publish as edges do (outbox, window, acks, resends).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt

from cloud.fleet import Fleet
from cloud.society.provision import CLOUD_USER, EdgeGrant, edge_user, provision
from cloud.storage import Database
from gatepost.bench.edgeload import EdgeSpec, run_load
from gatepost.bench.measure import machine, spread
from gatepost.devstack.broker import Broker, free_port
from gatepost.devstack.postgres import TempPostgres
from shared.clock import SystemClock
from shared.contract import Topics
from shared.mqtt_buffered import Client as BufferedClient


def _echo(port: int, password: str, ready: Any, stop: Any) -> None:
    """A bare subscriber in place of the cloud: it parses nothing and stores nothing, and
    acknowledges what arrived every 2 ms, one ack per box, as the cloud batches its acks. Its
    client and QoS are the cloud's: events taken at QoS 0, acks sent at QoS 0."""
    c = BufferedClient(mqtt.CallbackAPIVersion.VERSION2, client_id="ceiling-echo")
    c.username_pw_set(CLOUD_USER, password)
    pending: dict[str, list[str]] = {}
    lock = threading.Lock()

    def on_message(cl, ud, msg) -> None:
        edge = Topics.parse_edge(msg.topic) or ""
        with lock:
            pending.setdefault(edge, []).append(json.loads(msg.payload)["id"])

    def on_connect(cl, ud, fl, rc, pr) -> None:
        cl.subscribe(Topics.ALL_EVENTS, qos=0)

    c.on_message = on_message
    c.on_connect = on_connect
    c.on_subscribe = lambda *a: ready.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    while not stop.wait(0.002):
        with lock:
            batch = dict(pending)
            pending.clear()
        for edge, ids in batch.items():
            c.publish(Topics.edge_acks(edge), json.dumps({"type": "ack", "ids": ids}), qos=0)
    c.loop_stop()


def broker_ceiling(port: int, password: str, specs: list[EdgeSpec], procs: int, window: int,
                   seconds: float) -> float:
    """Events a second through the same broker with the same boxes flat out, acknowledged by
    a bare subscriber instead of the cloud (acks batched as the cloud batches them): the most
    this broker and these clients move here, so the cloud's figure is read as a share of it."""
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    echo = ctx.Process(target=_echo, args=(port, password, ready, stop))
    echo.start()
    try:
        ready.wait(30)
        results = run_loads(port, specs, procs, {"rate_per_edge": 0.0, "window": window},
                            seconds, 60.0)
    finally:
        stop.set()
        echo.join(10)
    acked = sum(r["acked"] for r in results)
    elapsed = max(r["last_ack"] for r in results) - min(r["t0"] for r in results)
    return acked / elapsed if elapsed > 0 else 0.0


def start_cloud(work: Path, db: str, workers: int, port: int, broker: Broker,
                password: str, log, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """``gatepost cloud run`` in a session of its own; returns once it says it is connected."""
    env = dict(os.environ, GATEPOST_MQTT_PASSWORD=password) | (extra_env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatepost.cli", "cloud", "run", "--db", db, "--workers",
         str(workers), "--mqtt-url", broker.url, "--mqtt-user", CLOUD_USER, "--port", str(port),
         "--jobs-every", "0", "--data-dir", str(work / "cloud")],
        env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cloud exited with {proc.returncode}; see {work}/cloud.log")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).json()[
                    "mqtt_connected"]:
                return proc
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise RuntimeError("cloud did not come up")


def stop_cloud(cloud: subprocess.Popen) -> None:
    """SIGTERM to the cloud's session (every worker), SIGKILL after 20 s."""
    os.killpg(cloud.pid, 15)
    try:
        cloud.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(cloud.pid, 9)
        cloud.wait()


def stop_rig(cloud: subprocess.Popen | None, broker: Broker, pg: TempPostgres | None,
             log: Any) -> None:
    """Stop what a cloud bench started, in order: the cloud, the broker, the database."""
    if cloud is not None:
        stop_cloud(cloud)
    broker.stop()
    if pg is not None:
        pg.stop()
    log.close()


def run_loads(port: int, specs: list[EdgeSpec], procs: int, kw: dict, seconds: float,
              drain_timeout: float) -> list[dict]:
    """Spread the boxes over *procs* load processes; their results."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3 + len(specs) / 200  # time to connect every box first
    workers = [ctx.Process(target=run_load, args=("127.0.0.1", port, specs[i::procs], kw,
                                                  start_at, seconds, drain_timeout, out))
               for i in range(procs)]
    for w in workers:
        w.start()
    results = [out.get(timeout=seconds + drain_timeout + 120) for _ in workers]
    for w in workers:
        w.join(10)
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError(f"load failed: {errors}")
    return results


def assign_boxes(db: str, grants: list[EdgeGrant]) -> None:
    """Provision the boxes in the cloud: each serves its own sites whole."""
    store = Database(db)
    try:
        fleet = Fleet(store, SystemClock())
        with store.write() as c:
            for g in grants:
                fleet.assign(g.edge, list(g.sites), c=c)
    finally:
        store.close()


def bench_ingest(args: argparse.Namespace) -> int:
    """Run the bench and print its JSON."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-ingest-"))
    grants = [EdgeGrant(f"box-{i:04d}", (f"s-box-{i:04d}",)) for i in range(args.edges)]
    prov = provision(work / "auth", grants)
    broker = Broker(work / "broker", password_file=prov.password_file, acl_file=prov.acl_file)
    pg = TempPostgres(durable=True) if args.db == "postgresql" else None
    cloud = None
    log = open(work / "cloud.log", "ab")  # noqa: SIM115
    try:
        broker.start()
        specs = [EdgeSpec(g.edge, edge_user(g.edge), prov.passwords[edge_user(g.edge)])
                 for g in grants]
        ceiling = broker_ceiling(broker.port, prov.passwords[CLOUD_USER], specs,
                                 args.load_procs, args.window, args.ceiling_s)
        db = pg.start().create_database() if pg else str(work / "cloud.sqlite")
        assign_boxes(db, grants)  # migrates once, before the workers start
        cloud = start_cloud(work, db, args.workers, free_port(), broker,
                            prov.passwords[CLOUD_USER], log)
        time.sleep(1.0)  # the other workers connect: their health answers are not addressable
        kw = {"rate_per_edge": args.rate / args.edges if args.rate else 0.0,
              "backlog": args.backlog, "window": args.window, "resend_s": args.resend_s}
        results = run_loads(broker.port, specs, args.load_procs, kw, args.seconds,
                            args.drain_timeout)
        store = Database(db, upgrade=False)
        try:
            stored = int(store.conn.execute("SELECT count(*) FROM events").scalar())
            distinct = int(store.conn.execute(
                "SELECT count(*) FROM (SELECT DISTINCT site, id FROM events) d").scalar())
        finally:
            store.close()
    finally:
        stop_rig(cloud, broker, pg, log)
    published = sum(r["published"] for r in results)
    acked = sum(r["acked"] for r in results)
    t0 = min(r["t0"] for r in results)
    last = max(r["last_ack"] for r in results)
    lat = [x for r in results for x in r["latencies_ms"]]
    elapsed = max(last - t0, 1e-9)
    out = {
        "bench": "ingest", "db": args.db, "workers": args.workers, "edges": args.edges,
        "offered_per_s": args.rate, "backlog_per_edge": args.backlog, "seconds": args.seconds,
        "window": args.window, "events_published": published, "events_acked": acked,
        "events_stored": stored, "lost": max(0, published - stored),
        "duplicated": stored - distinct + max(0, stored - published),
        "exactly_once": 0 < stored == distinct == published == acked,
        "resends": sum(r["resends"] for r in results),
        "events_per_s": round(acked / elapsed, 1),
        "drain_s": round(elapsed, 2),
        "ack_ms": spread(lat, (50, 99), 1, with_max=True) if lat else {},
        "broker_ceiling_per_s": round(ceiling, 1),
        "ratio_to_ceiling": round(acked / elapsed / ceiling, 3) if ceiling else None,
        "machine": machine(),
    }
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        out["workdir"] = str(work)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0 if out["exactly_once"] else 1

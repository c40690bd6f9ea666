"""``gatepost bench fanout``: one rules change at a site that many boxes serve, from the staff's
request to every box's cache holding it.

The boxes are MQTT clients with their own provisioned users, subscribed as edges are to the
site's deltas; each applies a delta to its own cache (the vehicles it lists) when it follows the
version it holds, as the edge does. Latency runs from the HTTP request to the moment the last
box applied the change.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from cloud.society.provision import CLOUD_USER, EdgeGrant, edge_user, provision
from gatepost.bench.ingest import start_cloud, stop_rig
from gatepost.bench.measure import machine, spread
from gatepost.devstack.broker import Broker, free_port
from gatepost.devstack.postgres import TempPostgres
from shared.contract import RulesDelta, Topics, VehicleUpsert
from shared.vrn import validate

SITE = "fanout"


class _Box:
    """A box's rules cache as far as this bench needs it: the version and the vehicles."""

    def __init__(self, edge: str, password: str, applied: threading.Condition,
                 seen: dict[int, list[float]]) -> None:
        self.version = 0
        self.vehicles: set[str] = set()
        self.applied, self.seen = applied, seen
        self.ready = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fan-{edge}")
        c.username_pw_set(edge_user(edge), password)
        c.on_connect = lambda cl, *a: cl.subscribe(Topics.rules_delta(SITE), qos=1)
        c.on_subscribe = lambda *a: self.ready.set()
        c.on_message = self._on_delta
        self.client = c

    def _on_delta(self, client, userdata, msg) -> None:
        delta = RulesDelta.model_validate_json(msg.payload)
        if delta.from_version != self.version:
            return  # a gap: a real edge would take a snapshot
        for ch in delta.changes:
            if isinstance(ch, VehicleUpsert):
                self.vehicles.add(ch.vehicle.vrn)
        self.version = delta.to_version
        with self.applied:
            self.seen.setdefault(delta.to_version, []).append(time.perf_counter())
            self.applied.notify_all()


def bench_fanout(args: argparse.Namespace) -> int:
    """Run the bench and print its JSON."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-fanout-"))
    grants = [EdgeGrant(f"box-{i:03d}", (SITE,)) for i in range(args.boxes)]
    prov = provision(work / "auth", grants)
    broker = Broker(work / "broker", password_file=prov.password_file, acl_file=prov.acl_file)
    pg = TempPostgres(durable=True) if args.db == "postgresql" else None
    admin = f"gpk_{secrets.token_urlsafe(16)}"
    applied = threading.Condition()
    seen: dict[int, list[float]] = {}
    boxes: list[_Box] = []
    cloud = None
    log = open(work / "cloud.log", "ab")  # noqa: SIM115
    try:
        broker.start()
        db = pg.start().create_database() if pg else str(work / "cloud.sqlite")
        port = free_port()
        cloud = start_cloud(work, db, 1, port, broker, prov.passwords[CLOUD_USER], log,
                            {"GATEPOST_ADMIN_KEY": admin})
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                           headers={"X-Api-Key": admin})
        api.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
        for g in grants:
            box = _Box(g.edge, prov.passwords[edge_user(g.edge)], applied, seen)
            box.client.connect("127.0.0.1", broker.port)
            box.client.loop_start()
            boxes.append(box)
        for box in boxes:
            box.ready.wait(30)
        all_ms: list[float] = []
        per_box: list[float] = []
        missed = 0
        for i in range(args.changes):
            t0 = time.perf_counter()
            r = api.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": validate(
                f"MH12AB{1000 + i}")})
            r.raise_for_status()
            version = r.json()["rules_version"]

            def everywhere(v: int = version) -> bool:
                return len(seen.get(v, [])) == len(boxes)

            with applied:
                done = applied.wait_for(everywhere, timeout=args.timeout)
            got = seen.get(version, [])
            missed += len(boxes) - len(got)
            per_box += [(t - t0) * 1000 for t in got]
            if done:
                all_ms.append((max(got) - t0) * 1000)
        complete = sum(len(b.vehicles) == args.changes for b in boxes)
    finally:
        for box in boxes:
            box.client.loop_stop()
            box.client.disconnect()
        stop_rig(cloud, broker, pg, log)
        shutil.rmtree(work, ignore_errors=True)
    out = {
        "bench": "fanout", "db": args.db, "boxes": args.boxes, "changes": args.changes,
        "all_updated_ms": spread(all_ms, (50, 99), 1, with_max=True) if all_ms else {},
        "per_box_ms": spread(per_box, (50, 99), 1) if per_box else {},
        "missed": missed, "boxes_complete": complete, "machine": machine(),
    }
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0 if missed == 0 and complete == len(boxes) else 1


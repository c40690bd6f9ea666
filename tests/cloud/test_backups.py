"""Backups taken while running, and a restored cloud the boxes follow: ``gatepost cloud
backup``/``restore`` and ``gatepost edge backup`` as an operator runs them, against the real
broker, the real cloud and the edge's real link and cache."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from edge.adapters.cloud_link import CloudLink
from edge.config import load
from edge.daemon.wiring import EdgeDaemon
from edge.store.cache import RulesCache
from edge.store.db import EdgeDB
from edge.store.outbox import Outbox
from gatepost.devstack.stack import wait_until
from shared.clock import SystemClock
from tests.factories import SITE, T1, T2, T3, start_cloud, status


def gatepost(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gatepost.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_backup_while_running_change_restore_the_box_follows(tmp_path: Path, broker):
    db = str(tmp_path / "cloud" / "cloud.sqlite")
    (tmp_path / "cloud").mkdir()
    cloud = start_cloud(db, broker)
    cloud.api.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
    cloud.api.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": "MH12AB1234"}
                   ).raise_for_status()
    key = cloud.api.post("/api/v1/edges", json={"id": "box-1", "sites": [SITE]}).json()["key"]
    cloud.tag(T1)
    v = cloud.tag(T2)
    edge_db = EdgeDB(tmp_path / "edge.sqlite")
    cache = RulesCache(edge_db)
    link = CloudLink("box-1", [SITE], mqtt_url=broker.url, http_url=cloud.web.url,
                     outbox=Outbox(edge_db, "box-1", {"main-in": SITE}), cache=cache,
                     api_key=key)
    link.start()
    try:
        wait_until(lambda: cache.version(SITE) == v, 10, what="first sync")
        first_epoch = cache.epoch(SITE)
        backup = tmp_path / "nightly.sqlite"
        done = gatepost("cloud", "backup", str(backup), "--db", db)   # while it runs
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["bytes"] == backup.stat().st_size > 0
        assert backup.stat().st_mode & 0o077 == 0  # the owner's only
        again = gatepost("cloud", "backup", str(backup), "--db", db)
        assert again.returncode == 2 and "exists" in again.stderr
        cloud.block(T1)                                                # change
        held = cloud.tag(T3)
        wait_until(lambda: cache.version(SITE) == held, 5, what="the changes at the box")
        cloud.stop()
        refused = gatepost("cloud", "restore", str(backup), "--db", db)
        assert refused.returncode == 2 and "--force" in refused.stderr
        done = gatepost("cloud", "restore", str(backup), "--db", db, "--force")  # restore
        assert done.returncode == 0, done.stderr
        restored = json.loads(done.stdout)
        assert restored["was"] == first_epoch != restored["epoch"]
        cloud = start_cloud(db, broker)
        link.http_url = cloud.web.url
        assert cloud.epoch == restored["epoch"]
        wait_until(lambda: cache.epoch(SITE) == cloud.epoch, 10, what="the box on the new epoch")
        assert cache.version(SITE) == v and status(cache, T1) == "active"
        assert status(cache, T3) is None
        cloud.block(T2)                                                # change again
        wait_until(lambda: status(cache, T2) == "blocked", 5, what="the next change")
    finally:
        link.stop()
        cloud.stop()
        edge_db.close()


def test_backup_and_restore_refuse_what_they_cannot_do(tmp_path: Path):
    pg = gatepost("cloud", "backup", str(tmp_path / "b.sqlite"), "--db",
                  "postgresql://gatepost@127.0.0.1:9/cloud")
    assert pg.returncode == 2 and "pg_dump" in pg.stderr
    stray = tmp_path / "stray.sqlite"
    sqlite3.connect(stray).execute("CREATE TABLE t (x)").connection.close()
    wrong = gatepost("cloud", "restore", str(stray), "--db", str(tmp_path / "c.sqlite"))
    assert wrong.returncode == 2 and "not a backup of a cloud" in wrong.stderr
    missing = gatepost("cloud", "backup", str(tmp_path / "b.sqlite"), "--db",
                       str(tmp_path / "none.sqlite"))
    assert missing.returncode == 2 and "no such database" in missing.stderr
    assert not (tmp_path / "c.sqlite").exists() and not (tmp_path / "b.sqlite").exists()


def test_edge_backup_while_the_box_decides(tmp_path: Path):
    config = tmp_path / "edge.toml"
    config.write_text(f"""
id = "box1"
data_dir = "{tmp_path / 'data'}"
[cloud]
mqtt_url = "mqtt://127.0.0.1:9"
http_url = "http://127.0.0.1:9"
[api]
port = 0
[policy]
dedup_hold_s = 0.0
[[gates]]
id = "main-in"
site = "green-acres"
direction = "entry"
""")
    d = EdgeDaemon(load(config), SystemClock())
    d.start()
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            d.handle_epc("main-in", "E28011606000020400000000", time.monotonic_ns())

    t = threading.Thread(target=traffic)
    t.start()
    try:
        assert d.outbox is not None
        wait_until(lambda: d.outbox.size() > 200, 10, what="decisions before the backup")
        from gatepost.cli import main

        assert main(["edge", "backup", str(tmp_path / "box.sqlite"), "--config",
                     str(config)]) == 0
        during = d.outbox.size()
        wait_until(lambda: d.outbox.size() > during + 100, 10, what="decisions after it")
    finally:
        stop.set()
        t.join()
        d.stop()
    copy = sqlite3.connect(tmp_path / "box.sqlite")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    (n, last), = copy.execute("SELECT count(*), max(seq) FROM events").fetchall()
    # One moment: every event up to the last one copied, none missing in between.
    assert 200 < n <= during + 2 and n == last


def test_a_box_holding_a_parking_subscription_is_backed_up_and_restored(tmp_path: Path):
    # Debian 12's SQLite (3.40) reported "NULL value in sub_vehicles.sub" from quick_check on
    # every box holding a subscription, a false fault that refused each backup and restore.
    from datetime import UTC, datetime, timedelta

    from gatepost.cli import main
    from shared.contract import ParkingRule, RulesSnapshot, SubscriptionRule
    from tests.factories import cloud_api

    with cloud_api(str(tmp_path / "cloud.sqlite"), sites=(SITE,)) as cloud:
        key = cloud.post("/api/v1/edges", json={"id": "box1", "sites": [SITE]}).json()["key"]
        config = tmp_path / "edge.toml"
        config.write_text(f"""
id = "box1"
data_dir = "{tmp_path / 'data'}"
[cloud]
mqtt_url = "mqtt://127.0.0.1:9"
http_url = "{cloud.base_url}"
api_key = "{key}"
[api]
port = 0
[[gates]]
id = "main-in"
site = "{SITE}"
direction = "entry"
""")
        (tmp_path / "data").mkdir()
        now = datetime.now(UTC)
        db = EdgeDB(tmp_path / "data" / "edge.sqlite")
        RulesCache(db).apply_snapshot(RulesSnapshot(
            site=SITE, version=3, gates=[], vehicles=[], tags=[],
            parkings=[ParkingRule(id="tower-b", active=True)],
            subscriptions=[SubscriptionRule(
                id="S-1", parking="tower-b", space=4, status="active", unit="daily",
                start=now - timedelta(days=1), end=now + timedelta(days=29),
                paid_through=now + timedelta(days=29), vrns=["MH12AB1234", "DL3CAF0001"])]))
        db.close()
        backup = tmp_path / "box.sqlite"
        assert main(["edge", "backup", str(backup), "--config", str(config)]) == 0
        assert main(["edge", "restore", str(backup), "--config", str(config), "--force"]) == 0
    restored = EdgeDB(tmp_path / "data" / "edge.sqlite")
    try:
        subs = RulesCache(restored).subscriptions("tower-b", "DL3CAF0001")
        assert [s.id for s in subs] == ["S-1"]
    finally:
        restored.close()

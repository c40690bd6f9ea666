"""What the box keeps on disk, pruned while it runs: evidence by age, the event log by age and
bound, and everything but unsent events under the disk's free-space floor, with the floor said
in the health, the metrics, the panel's alerts and the log."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.daemon.wiring import EdgeDaemon
from edge.faces.api import create_app
from edge.faces.panel.queries import alerts
from shared.clock import SystemClock
from shared.webthread import WebThread
from tests.factories import metric_samples

EPC = "E28011606000020400000000"


def daemon_for(tmp_path: Path, min_free_mb: int) -> EdgeDaemon:
    cfg = EdgeConfig.model_validate({
        "id": "box1", "data_dir": str(tmp_path / "data"),
        "cloud": {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9"},
        "api": {"port": 0}, "policy": {"dedup_hold_s": 0.0},
        "disk": {"min_free_mb": min_free_mb}, "evidence": {"max_days": 7},
        "gates": [{"id": "main-in", "site": "green-acres", "direction": "entry"}],
    })
    d = EdgeDaemon(cfg, SystemClock())
    d.start()
    return d


def photos(d: EdgeDaemon, n: int, age_days: float = 0) -> list[Path]:
    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    made = []
    for i in range(n):
        name = d.evidence.save(f"main-in:{age_days:g}-{i}", frame, None)[0]
        path = d.evidence.folder / name
        old = time.time() - age_days * 86400
        os.utime(path, (old, old))
        made.append(path)
    return made


def test_evidence_past_its_days_goes_and_the_rest_stays(tmp_path: Path):
    d = daemon_for(tmp_path, min_free_mb=0)
    try:
        old, new = photos(d, 3, age_days=8), photos(d, 2, age_days=1)
        assert d.retention is not None
        gone = d.retention.run()
        assert gone["photos"] == 3
        assert [p.exists() for p in old + new] == [False] * 3 + [True] * 2
        assert d.health()["disk"]["low"] is False
    finally:
        d.stop()


def test_under_the_floor_photos_and_history_go_unsent_events_stay_and_it_is_said(
        tmp_path: Path):
    (tmp_path / "data").mkdir()
    floor_mb = shutil.disk_usage(tmp_path).free // 2**20 + 1024  # a floor this disk is under
    d = daemon_for(tmp_path, min_free_mb=floor_mb)
    web = WebThread(create_app(d), "127.0.0.1", 0)
    web.start()
    try:
        assert d.outbox is not None and d.retention is not None
        made = photos(d, 4)
        for _ in range(30):
            d.handle_epc("main-in", EPC, time.monotonic_ns())
        sent = [e.id for e in d.outbox.pending(limit=40)]
        d.outbox.ack(sent)  # the cloud has these: they are history now
        unsent = d.outbox.size()
        assert unsent > 0
        gone = d.retention.run()
        assert gone["photos"] == 4 and not any(p.exists() for p in made)
        assert gone["events"] == len(sent)  # all the acknowledged history
        assert d.outbox.size() == unsent     # never an unsent event
        h = d.health()["disk"]
        assert h["low"] is True and h["floor_mb"] == floor_mb and h["free_mb"] < floor_mb
        assert any(line.startswith("Disk space low") for line in alerts(d)["now"])
        m = metric_samples(httpx.get(f"{web.url}/metrics").text)
        assert m[("gatepost_edge_disk_low", ())] == 1
        assert m[("gatepost_edge_disk_floor_reached_total", ())] == 1
        d.retention.run()  # still under: said once, not at every pass
        assert d.counters["disk_floor_reached"] == 1
    finally:
        web.stop()
        d.stop()


@pytest.mark.parametrize("bad", [-1, 10_000_001])
def test_the_floor_is_bounded(tmp_path: Path, bad: int):
    with pytest.raises(ValueError, match="min_free_mb"):
        daemon_for(tmp_path, min_free_mb=bad)


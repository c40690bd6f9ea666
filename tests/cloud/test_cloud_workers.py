"""Several cloud processes on one PostgreSQL share the edge event stream: a burst from many
boxes is stored exactly once, even when one process is killed with SIGKILL in the middle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from cloud.society.provision import EdgeGrant
from cloud.storage import Database
from gatepost.bench.edgeload import EdgeLoad, EdgeSpec
from gatepost.bench.ingest import assign_boxes
from gatepost.devstack.broker import free_port
from gatepost.devstack.stack import wait_until

pytestmark = pytest.mark.stack


def _workers(parent: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    out = []
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for pid in map(int, children):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmd:
            out.append(pid)
    return out


def _health(port: int) -> dict:
    # A new connection each time, so the kernel hands it to any of the processes.
    return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).json()


@pytest.mark.timeout(120)
def test_a_killed_worker_loses_and_doubles_nothing(tmp_path, broker, postgres):
    url = postgres.create_database()
    port = free_port()
    log = open(tmp_path / "cloud.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatepost.cli", "cloud", "run", "--db", url, "--workers", "2",
         "--mqtt-url", broker.url, "--port", str(port), "--jobs-every", "0",
         "--data-dir", str(tmp_path / "cloud")],
        stdout=log, stderr=log, start_new_session=True)
    db = Database(url, upgrade=False)
    try:
        connected: set[str] = set()

        def both_connected() -> bool:
            try:
                h = _health(port)
            except httpx.HTTPError:
                return False
            if h["mqtt_connected"]:
                connected.add(h["worker"])
            return len(connected) == 2

        wait_until(both_connected, 60, what="two connected cloud processes")
        workers = _workers(proc.pid)
        assert len(workers) == 2

        specs = [EdgeSpec(f"box-{i}", "u", "p") for i in range(10)]
        assign_boxes(url, [EdgeGrant(s.edge, (f"s-{s.edge}",)) for s in specs])
        # Each box comes back from an outage holding 1,000 events: a burst of 10,000, long
        # enough that the kill lands in the middle of it however fast the machine is.
        total = 10_000
        load = EdgeLoad("127.0.0.1", broker.port, specs, rate_per_edge=0.0, backlog=1000,
                        window=50, resend_s=1.0)
        result: dict = {}
        runner = threading.Thread(target=lambda: result.update(
            load.run(start_at=0.0, seconds=0.0, drain_timeout=40.0)))
        runner.start()

        def stored() -> int:
            return int(db.conn.execute("SELECT count(*) FROM events").scalar())

        wait_until(lambda: stored() >= 500, 30, what="the burst under way")
        # Frozen first, so it surely dies with events in hand: the broker goes on sharing the
        # burst between the two, and what it hands the frozen one waits there unacknowledged.
        os.kill(workers[0], signal.SIGSTOP)
        frozen_at = stored()
        wait_until(lambda: stored() >= frozen_at + 200, 30,
                   what="the burst going on while one process is frozen")
        try:
            os.kill(workers[0], signal.SIGKILL)
        except ProcessLookupError:
            pass  # uvicorn's supervisor killed it first: a worker that answers no ping is
        assert stored() < total  # mid-burst: the killed process had events in hand
        runner.join(60)
        assert not runner.is_alive()

        assert result["published"] == total and result["not_connected"] == 0
        assert result["unacked"] == 0  # every event acknowledged, by the survivor if need be
        # What the killed process had taken and not yet acknowledged was sent again.
        assert result["resends"] > 0
        assert stored() == total
        assert db.conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT site, id FROM events) d").scalar() == total
        assert _health(port)["mqtt_connected"]  # the others carry on
    finally:
        db.close()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()

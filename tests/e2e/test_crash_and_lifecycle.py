"""The daemon killed mid-stream loses and duplicates nothing; systemd's notify protocol."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gatepost.devstack.stack import GateSpec, StackOptions, wait_until

pytestmark = pytest.mark.stack
SITE = "green-acres"


@pytest.mark.timeout(180)
def test_sigkill_mid_stream_loses_and_duplicates_nothing(make_stack):
    stack = make_stack([GateSpec("main-in", SITE, "entry"), GateSpec("main-out", SITE, "exit")],
                       StackOptions(policy={"dedup_hold_s": 0.0}))
    c = stack.cloud
    c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": "MH12AB1234"}).raise_for_status()
    tags = [{"epc": f"E28011606000020400{i:06X}", "vrn": "MH12AB1234", "status": "active"}
            for i in range(300)]
    v = c.post(f"/api/v1/sites/{SITE}/tags/bulk", json={"tags": tags}).json()
    stack.wait_edge_version(SITE, v["rules_version"], 15)

    stop = threading.Event()
    decided: set[str] = set()

    def traffic() -> None:
        i = 0
        gates = list(stack.world.gates.values())
        while not stop.is_set():
            gates[i % 2].reader.push_once(tags[i % len(tags)]["epc"])
            i += 1
            stop.wait(0.01)

    def watch() -> None:
        after = 0
        while not stop.is_set():
            try:
                events, after = stack.edge_events_after(after, wait=0.2)
            except Exception:  # the edge is down for a moment
                after = 0
                stop.wait(0.05)
                continue
            decided.update(e["event_id"] for e in events
                           if e["type"] == "decision" and e["event_id"])

    threads = [threading.Thread(target=traffic), threading.Thread(target=watch)]
    for t in threads:
        t.start()
    issued = lambda: sum(stack.edge_health()["last_seq"].values())  # noqa: E731
    wait_until(lambda: issued() >= 60, 30, what="traffic with the link up")
    assert stack.mqtt_link
    stack.mqtt_link.down()  # so the outbox is holding unsent events at the kill
    first = issued()
    wait_until(lambda: issued() >= first + 60, 30, what="traffic with the link down")
    before_kill = set(decided)
    assert stack.edge_health()["outbox"] > 0
    stack.kill_edge()
    stack.mqtt_link.up()
    stack.start_edge()
    again = issued()
    wait_until(lambda: issued() >= again + 60, 30, what="traffic after the restart")
    stop.set()
    for t in threads:
        t.join()

    def complete() -> bool:
        h = stack.edge_health()
        stored = c.get(f"/api/v1/sites/{SITE}/events/summary").json()["gates"]
        return h["outbox"] == 0 and all(
            stored.get(g, {}).get("count") == n == stored[g]["max_seq"]
            for g, n in h["last_seq"].items())

    wait_until(complete, 30, interval=0.2, what="every event stored exactly once")
    stored_ids = {e["id"] for e in c.get("/api/v1/events", params={
        "site": SITE, "type": "decision", "limit": 100000}).json()["events"]}
    assert before_kill and before_kill <= stored_ids


def expect_notify(sock: socket.socket, got: list[str], *wanted: str) -> None:
    """Receive notify datagrams until each wanted state has arrived (socket has a timeout)."""
    for want in wanted:
        while not any(m.split("\n")[0] == want for m in got):
            got.append(sock.recv(1024).decode())


def test_systemd_notify_ready_watchdog_stopping(tmp_path: Path):
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f"""
id = "box1"
data_dir = "{tmp_path / 'data'}"
[cloud]
mqtt_url = "mqtt://127.0.0.1:9"
http_url = "http://127.0.0.1:9"
[api]
port = 0
[[gates]]
id = "g"
site = "s"
direction = "entry"
""")
    env = dict(os.environ, NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="200000")
    proc = subprocess.Popen([sys.executable, "-m", "gatepost.cli", "edge", "run", "--config",
                             str(cfg)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        got: list[str] = []
        expect_notify(sock, got, "READY=1", "WATCHDOG=1")
        proc.send_signal(signal.SIGTERM)
        expect_notify(sock, got, "STOPPING=1")
        assert proc.wait(30) == 0  # an orderly stop exits 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


def test_cloud_speaks_systemd_notify_too(tmp_path: Path):
    sock_path = tmp_path / "cloud-notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    from gatepost.devstack.broker import free_port

    env = dict(os.environ, NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="200000")
    proc = subprocess.Popen([sys.executable, "-m", "gatepost.cli", "cloud", "run", "--no-mqtt",
                             "--data-dir", str(tmp_path / "c"), "--port", str(free_port())],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        got: list[str] = []
        expect_notify(sock, got, "READY=1", "WATCHDOG=1")
        proc.send_signal(signal.SIGTERM)
        expect_notify(sock, got, "STOPPING=1")
        # uvicorn re-raises SIGTERM after its orderly shutdown; systemd counts death by
        # SIGTERM as a clean exit.
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


@pytest.mark.timeout(60)
def test_a_taken_panel_port_stops_the_edge_with_exit_3_and_a_reason(tmp_path: Path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f'id = "box"\ndata_dir = "{tmp_path / "data"}"\n\n[cloud]\n'
                   'mqtt_url = "mqtt://127.0.0.1:9"\nhttp_url = "http://127.0.0.1:9"\n\n'
                   f'[api]\nport = {port}\n\n[[gates]]\nid = "g"\nsite = "s"\n'
                   'direction = "entry"\n')
    try:
        p = subprocess.run([sys.executable, "-m", "gatepost.cli", "edge", "run", "--config",
                            str(cfg)], capture_output=True, text=True, timeout=45)
    finally:
        taken.close()
    assert p.returncode == 3
    assert f"cannot serve the panel on 127.0.0.1:{port}" in p.stderr

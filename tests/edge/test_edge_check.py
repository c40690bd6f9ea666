"""``gatepost edge check`` as an installer runs it while commissioning: against the simulator's
reader and relay board, the real broker and the real cloud; and with each of them unreachable
or refusing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gatepost.devstack.stack import GateSpec

pytestmark = pytest.mark.stack
SITE = "green-acres"


def check(config: Path, *more: str) -> tuple[int, list[dict]]:
    done = subprocess.run([sys.executable, "-m", "gatepost.cli", "edge", "check", "--config",
                           str(config), "--json", "--listen-s", "1", "--timeout", "3", *more],
                          capture_output=True, text=True, timeout=60)
    return done.returncode, [json.loads(x) for x in done.stdout.splitlines()]


@pytest.mark.timeout(120)
def test_edge_check_reaches_every_part_and_says_which_fails(tmp_path: Path, make_stack):
    stack = make_stack([GateSpec("main-in", SITE, "entry")])
    stack.cloud.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
    stack.stop_edge()  # commissioning: the daemon is not running
    config = tmp_path / "edge.toml"
    reader = stack.world.gates["main-in"].reader
    pushing = threading.Event()

    def tags() -> None:  # a tag held at the antenna while the line is listened to
        while not pushing.wait(0.1):
            reader.push_once("E2801160600002040000AB01")

    t = threading.Thread(target=tags)
    t.start()
    try:
        rc, results = check(config)
    finally:
        pushing.set()
        t.join()
    by = {(r["check"], r["target"]): r for r in results}
    assert stack.mqtt_link and stack.http_link
    assert rc == 0 and all(r["ok"] for r in results), results
    assert set(by) == {("config", "edge-1"), ("reader", "main-in"), ("relay", "main-in"),
                       ("broker", f"mqtt://127.0.0.1:{stack.mqtt_link.port}"),
                       ("cloud", f"http://127.0.0.1:{stack.http_link.port}"),
                       ("rules", SITE)}
    assert by[("reader", "main-in")]["frames"] >= 1
    assert by[("relay", "main-in")]["loop"] is False
    assert by[("rules", SITE)]["version"] >= 0

    # A wrong key for the rules, then the uplink down.
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(config.read_text().replace(f'api_key = "{stack.edge_api_key}"',
                                                'api_key = "gpk_not_a_key_at_all_000"'))
    rc, results = check(wrong)
    failed = {r["check"]: r["detail"] for r in results if not r["ok"]}
    assert rc == 1 and set(failed) == {"rules"} and failed["rules"].startswith("401"), failed
    stack.mqtt_link.down()
    stack.http_link.down()
    rc, results = check(config)
    assert rc == 1
    assert {r["check"] for r in results if not r["ok"]} == {"broker", "cloud"}
    assert all(r["ok"] for r in results if r["check"] in ("config", "reader", "relay"))

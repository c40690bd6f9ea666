"""``gatepost edge restore`` as an operator runs it on a stopped box: the backup goes back, the
box's event numbers go on past what the cloud holds (so no new event is taken for a resend),
and nothing is changed while the cloud cannot say where they are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gatepost.devstack.stack import GateSpec, StackOptions, wait_until

pytestmark = pytest.mark.stack
SITE = "green-acres"
EPC = "E2801160600002040000AB01"


def gatepost(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gatepost.cli", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.timeout(120)
def test_restored_box_numbers_past_the_cloud_and_loses_nothing(tmp_path: Path, make_stack):
    stack = make_stack([GateSpec("main-in", SITE, "entry")],
                       StackOptions(policy={"dedup_hold_s": 0.0}))
    config = tmp_path / "edge.toml"

    def stored() -> dict:
        return stack.cloud.get(f"/api/v1/sites/{SITE}/events/summary").json()["gates"].get(
            "main-in", {"count": 0, "max_seq": 0})

    def reads(n: int) -> None:
        for _ in range(n):
            before = stack.edge_health()["last_seq"].get("main-in", 0)
            stack.world.gates["main-in"].reader.push_once(EPC)
            wait_until(lambda b=before: stack.edge_health()["last_seq"].get("main-in", 0) > b,
                       10, what="the read decided")
        wait_until(lambda: stack.edge_health()["outbox"] == 0 and stored()["count"] ==
                   stack.edge_health()["last_seq"]["main-in"], 15, what="the events stored")

    stack.site_with_tag(SITE, EPC)
    reads(3)
    backup = tmp_path / "box.sqlite"
    done = gatepost("edge", "backup", str(backup), "--config", str(config))
    assert done.returncode == 0, done.stderr
    reads(3)                                  # after the backup: the cloud has them
    at_cloud = stored()["max_seq"]
    stack.stop_edge()
    refused = gatepost("edge", "restore", str(backup), "--config", str(config))
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert stack.http_link
    stack.http_link.down()                    # the cloud cannot say: nothing is changed
    blind = gatepost("edge", "restore", str(backup), "--config", str(config), "--force",
                     "--timeout", "2")
    assert blind.returncode == 1 and "nothing was changed" in blind.stderr
    stack.http_link.up()
    done = gatepost("edge", "restore", str(backup), "--config", str(config), "--force")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["cloud"] == {f"{SITE}/main-in": at_cloud}
    assert out["continues"]["main-in"] == at_cloud and out["resync"] == [SITE]
    stack.start_edge()
    reads(3)                                  # numbered past the cloud's: all stored
    # Numbered from the backup's again, the new events would reuse ids the cloud holds
    # (taken for resends, stored never) and the box would stop at the cloud's number.
    def settled() -> bool:
        s = stored()
        return s["count"] == s["max_seq"] == stack.edge_health()["last_seq"]["main-in"]

    wait_until(settled, 15, what="the box and the cloud agreeing")
    assert stored()["max_seq"] > at_cloud

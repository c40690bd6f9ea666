"""``gatepost bench faults``, small: edge and cloud kill -9s, the broker down, a forged box and
a cloud restored from a backup lose, duplicate, accept and leave stale nothing."""

from __future__ import annotations

import json

import pytest

from gatepost.cli import main

pytestmark = pytest.mark.stack


@pytest.mark.timeout(300)
def test_faults_lose_duplicate_accept_and_leave_stale_nothing(capsys):
    rc = main(["bench", "faults", "--kills", "6", "--cloud-kills", "1", "--broker-down-s", "2",
               "--outage-s", "2", "--stale-every", "3", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (out["edge_kills"], out["cloud_kills"], out["restores"]) == (6, 1, 1)
    # Exactly once, counted from the box's numbers and from each decision it showed.
    assert out["issued"] > 500 and out["stored_once"] == out["issued"]
    assert out["lost"] == out["duplicated"] == 0
    assert out["decisions_seen"] > 100
    assert out["seen_missing"] == out["seen_different"] == 0
    # The forged box: sent, and none of it taken.
    assert {k: (p["sent"] > 0, p["accepted"]) for k, p in out["probes"].items()} == {
        "forged_events": (True, 0), "gate_claim": (True, 0), "forged_pass": (True, 0)}
    assert out["accepted"] == 0
    # Rules rounds after every fault (and the restore): the box caught up, no stale decision.
    assert out["stale_checks"] >= 14 and out["stale"] == out["stale_not_converged"] == 0
    assert out["decisions_while_broker_down"] > 0  # a lost cloud link never stops the gate
    assert out["ok"] and rc == 0

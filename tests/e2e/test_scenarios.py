"""Every shipped scenario, end to end on the real stack; and refusal of broken files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gatepost.scenario.runner import run_files
from tests.factories import run_passing

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "tests" / "scenarios").glob("*.yaml"))

pytestmark = pytest.mark.stack


@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario(path: Path, tmp_path: Path):
    lines = run_passing(path, tmp_path)
    steps = [x for x in lines if "step" in x]
    assert len(steps) == len(lines) - 1 and lines[-1]["summary"]
    for line in steps:
        assert {"scenario", "step", "ok"} <= set(line)
        if line["action"] in ("rfid", "vehicle"):
            assert {"decision", "reason", "barrier_opened", "passed"} <= set(line)


# The cloud of these runs on PostgreSQL as well (the stack's cloud reads $GATEPOST_DB); every
# scenario runs on SQLite.
ON_POSTGRESQL = [p for p in FILES if p.stem in (
    "society_gate", "revocation", "remote_open", "parking_daily_overdue", "parking_refund",
    "parking_deactivated_inside", "broker_outage")]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", ON_POSTGRESQL, ids=[p.stem for p in ON_POSTGRESQL])
def test_scenario_with_the_cloud_on_postgresql(path: Path, tmp_path: Path, postgres, monkeypatch):
    monkeypatch.setenv("GATEPOST_DB", postgres.create_database())
    run_passing(path, tmp_path)


BROKEN = {
    "yaml": ("name: x\nsteps: [\n", "invalid YAML"),
    "unknown key": ("""
name: typo
site: {id: s, gates: [{id: g, direction: entry}]}
steps:
  - rfid: {gate: g, epc: AAAA}
    expect: {decison: open}
""", "step 1"),
    "two actions": ("""
name: two
site: {id: s, gates: [{id: g, direction: entry}]}
steps:
  - advance: 1m
  - {advance: 1m, link: down}
""", "step 2"),
    "unknown cloud action": ("""
name: cloud
site: {id: s, gates: [{id: g, direction: entry}]}
steps:
  - cloud: {delete_everything: {}}
""", "unknown cloud action"),
    "bad duration": ("""
name: dur
site: {id: s, gates: [{id: g, direction: entry}]}
steps:
  - advance: soon
""", "bad duration"),
}


@pytest.mark.parametrize("key", list(BROKEN))
def test_broken_files_are_refused_with_file_step_and_reason(key, tmp_path):
    text, needle = BROKEN[key]
    f = tmp_path / "broken.yaml"
    f.write_text(text)
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "scenario", "run", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert str(f) in p.stderr and needle in p.stderr, p.stderr
    line = json.loads(p.stdout.splitlines()[0])
    assert line["ok"] is False and line["errors"]


REFUSED_THEN_NAMED = """
name: a refused rent, then named
site:
  id: green-acres
  gates:
    - {id: p-in, direction: entry, parking: tower-b}
    - {id: p-out, direction: exit, parking: tower-b}
steps:
  - cloud: {add_parking: {id: tower-b, name: Tower B}}
  - cloud: {add_spaces: {parking: tower-b, numbers: "1..2", size: small}}
  - name: the parking is not active yet, so the rent is refused (as expected)
    cloud:
      create_subscription:
        {ref: iyer, parking: tower-b, space: 1, vehicles: [MH12AB1234], amount: 100}
    expect: {status: 409, reason: parking_inactive}
  - expect_cloud: {subscription: {ref: iyer, status: active}}
  - cloud: {deactivate_subscription: {ref: iyer}}
"""


@pytest.mark.timeout(180)
def test_a_step_naming_a_subscription_never_created_fails_and_the_run_goes_on(tmp_path):
    bad = tmp_path / "refused.yaml"
    bad.write_text(REFUSED_THEN_NAMED)
    out = io.StringIO()
    code = run_files([bad, ROOT / "tests" / "scenarios" / "offline.yaml"], tmp_path / "work",
                     out)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    failed = [x for x in lines if not x["ok"] and not x.get("summary")]
    assert code == 1
    assert [x["step"] for x in failed] == [4, 5]
    assert all("no subscription named 'iyer'" in x["errors"][0] for x in failed)
    summaries = [x for x in lines if x.get("summary")]
    assert [s["ok"] for s in summaries] == [False, True]  # the next file still ran

"""Every shipped scenario, end to end on the real stack; and refusal of broken files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gatepost.scenario.runner import run_files

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "tests" / "scenarios").glob("*.yaml"))

pytestmark = pytest.mark.stack


def run_passing(path: Path, workdir: Path) -> list[dict]:
    """Run one scenario file; assert every line is ok; return the JSON lines."""
    out = io.StringIO()
    code = run_files([path], workdir, out)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    failed = [x for x in lines if not x["ok"]]
    assert code == 0 and not failed, json.dumps(failed, indent=1)
    return lines


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

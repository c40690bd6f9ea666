"""`gatepost bench gate --json` prints the public JSON object (small run)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.stack


@pytest.mark.timeout(180)
def test_bench_gate_prints_its_contract():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "gate", "--reads", "40",
                        "--tags", "300", "--json"], capture_output=True, text=True, timeout=170)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["reads"] == 40 and out["tags_cached"] == 300 and out["failures"] == 0
    assert set(out["latency_ms"]) >= {"p50", "p99", "max"}
    assert set(out["floor_ms"]) >= {"p50", "p99"}
    assert 0 < out["latency_ms"]["p50"] <= out["latency_ms"]["p99"] <= out["latency_ms"]["max"]
    assert out["cache_lookup_us"]["p50"] > 0

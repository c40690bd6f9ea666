"""`gatepost demo --exit` plays the whole day and prints the guard panel's address."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.stack


@pytest.mark.timeout(180)
def test_demo_day_runs_to_the_end(tmp_path):
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "demo", "--exit", "--panel-port",
                        "0", "--workdir", str(tmp_path)], capture_output=True, text=True,
                       timeout=170)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "Guard panel:         http://127.0.0.1:" in p.stdout
    assert "sign in as guard / demo-guard-pass (guard)" in p.stdout
    assert "every step as expected" in p.stdout and "✗" not in p.stdout

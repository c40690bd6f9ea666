"""A visitor pass shown as a QR to the gate's camera, end to end: the simulated camera shows
the QR, the edge's camera worker finds it (zxing-cpp) while the motion trigger is active, and
the lane decides it like a typed code. The camera needs the plate models (../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.adapters.alpr import missing_models
from gatepost.devstack.assets import alpr_models
from tests.factories import run_passing

FILES = sorted((Path(__file__).resolve().parents[1] / "scenarios_qr").glob("*.yaml"))
MISSING = missing_models(alpr_models())

pytestmark = [pytest.mark.stack,
              pytest.mark.skipif(MISSING is not None, reason=f"optional assets missing: {MISSING}")]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_qr_scenario(path: Path, tmp_path: Path):
    lines = run_passing(path, tmp_path)
    shown = [x for x in lines if x.get("action") == "qr"]
    assert [x["reason"] for x in shown] == ["code_valid", "code_spent", "code_unknown"]

"""Plate scenarios end to end: real photographs through the simulated camera (need ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.adapters.alpr import missing_models
from gatepost.devstack.assets import alpr_models, plates_dir
from tests.factories import run_passing

FILES = sorted((Path(__file__).resolve().parents[1] / "scenarios_plates").glob("*.yaml"))
MISSING = missing_models(alpr_models()) or (
    None if (plates_dir() / "labels.csv").is_file() else f"no photographs at {plates_dir()}")

pytestmark = [pytest.mark.stack,
              pytest.mark.skipif(MISSING is not None, reason=f"optional assets missing: {MISSING}")]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_plate_scenario(path: Path, tmp_path: Path):
    lines = run_passing(path, tmp_path)
    decisions = [x for x in lines if x.get("action") in ("camera", "vehicle")]
    assert decisions and all("image" in x for x in decisions)
    evidence = list((tmp_path / path.stem / "edge" / "evidence").glob("*.jpg"))
    assert evidence, "plate decisions keep their evidence on disk"

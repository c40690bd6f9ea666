"""Real plate photographs through the recognizer and the anpr bench (need ../shared assets)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.adapters.alpr import missing_models

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(__import__("os").environ.get("GATEPOST_SHARED", ROOT.parent / "shared"))
MODELS, PLATES = SHARED / "models", SHARED / "plates"
MISSING = missing_models(MODELS) or (None if (PLATES / "labels.csv").is_file()
                                     else f"no plate photographs at {PLATES}")
needs_assets = pytest.mark.skipif(MISSING is not None,
                                  reason=f"optional assets missing: {MISSING}")


@needs_assets
@pytest.mark.timeout(300)
def test_bench_anpr_contract_and_safety():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "anpr", "--images",
                        str(PLATES), "--labels", str(PLATES / "labels.csv"), "--models",
                        str(MODELS), "--decoys", "2000", "--json"], capture_output=True,
                       text=True, timeout=290)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    for side in ("pipeline", "baseline"):
        s = out[side]
        assert {"images", "detected", "exact_accuracy", "char_accuracy", "correct_opens",
                "wrong_opens", "absent_opens", "latency_ms"} <= set(s)
        assert s["images"] == 82 and s["absent_opens"] == 0
    assert out["pipeline"]["wrong_opens"] == 0
    assert out["pipeline"]["correct_opens"] >= out["baseline"]["correct_opens"]


@needs_assets
def test_recognizer_reads_a_real_plate():
    import csv

    import cv2

    from edge.adapters.alpr import FastAlprRecognizer, PlateOcr
    from shared.plate_decode import decode

    row = next(r for r in csv.DictReader((PLATES / "labels.csv").open())
               if r["country"] == "brazil")
    img = cv2.imread(str(PLATES / row["file"]))
    rec = FastAlprRecognizer(MODELS)
    reads = rec.read(img)
    assert reads and reads[0].box[2] > reads[0].box[0]
    ocr = PlateOcr(MODELS)
    x1, y1, x2, y2 = reads[0].box
    probs = ocr.probabilities(img[y1:y2, x1:x2])
    assert probs.shape == (ocr.slots, len(ocr.alphabet))
    assert decode(probs, ocr.alphabet, ocr.pad, "BR")[0].text == row["plate_text"]


def test_missing_models_are_named():
    assert "GATEPOST_ALPR_MODELS" in (missing_models(None) or "")
    assert "lacks" in (missing_models(Path("/nonexistent")) or "")

"""``gatepost bench anpr``: our plate pipeline and plain fast-alpr, side by side, same images.

Baseline: ``fast_alpr.ALPR(...).predict`` and its top read compared as a string with the allowlist.
Pipeline: fast-alpr's detector; the OCR model's per-slot probabilities averaged over two crops of
each detection; decoding constrained by the site country's plate formats; then the look-alike-safe
matcher, which opens only for a single candidate whose weakest slot is at least ``--min-score``.

Gate outcome per image, with an allowlist of every labelled plate plus ``--decoys`` random plates of
the same formats: a correct open (the image's own plate), a wrong open (another plate), or, with the
image's own plate removed from the allowlist, any open at all (``absent_opens``, must be 0).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from edge.adapters.alpr import (
    FastAlprRecognizer,
    PlateOcr,
    PlateReader,
    missing_models,
    models_from_env,
)
from edge.core.plate_match import PlateIndex, agree
from gatepost.bench.measure import machine, spread
from shared.plates import FORMATS, RU_LETTERS
from shared.vrn import INDIA_STATES

COUNTRY_OF_FOLDER = {"india": "IN", "russia": "RU", "brazil": "BR"}


def levenshtein(a: str, b: str) -> int:
    """Edit distance."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_accuracy(read: str, truth: str) -> float:
    """1 − edit distance / the longer length."""
    return 1 - levenshtein(read, truth) / max(len(read), len(truth), 1)


def decoys(n: int, countries: list[str], exclude: set[str], seed: int = 2026) -> set[str]:
    """Random plates in the formats of *countries* (generic: 5–8 of A–Z0–9)."""
    rng = random.Random(seed)
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    out: set[str] = set()
    while len(out) < n:
        c = rng.choice(countries)
        if c in FORMATS:
            fmt = rng.choice(FORMATS[c])
            allowed = RU_LETTERS if c == "RU" else letters
            text = "".join(rng.choice(allowed) if k == "L" else rng.choice("0123456789")
                           for k in fmt.template)
            if c == "IN" and fmt.check is not None:
                text = rng.choice(sorted(INDIA_STATES)) + text[2:]
        else:
            text = "".join(rng.choice(letters + "0123456789") for _ in range(rng.randint(5, 8)))
        if text not in exclude:
            out.add(text)
    return out


class Pipeline:
    """The edge's plate reader and the core's candidate agreement."""

    def __init__(self, reader: PlateReader, min_score: float) -> None:
        self.reader, self.min_score = reader, min_score

    def candidates(self, img: Any, country: str) -> list[tuple[str, float]]:
        """(text, score) candidates, best first."""
        return self.reader.candidates(img, country)[0]

    def decide(self, cands: list[tuple[str, float]], index: PlateIndex) -> str | None:
        """The single allowlisted plate the confident candidates agree on, else None."""
        m = agree(cands, index, self.min_score)
        return m.plate if m.kind in ("exact", "lookalike") else None


def bench_anpr(args: argparse.Namespace) -> int:
    """Run both sides over the labelled images and print one JSON object."""
    models = args.models or models_from_env()
    problem = missing_models(models)
    images_dir, labels = Path(args.images), Path(args.labels)
    if problem or not labels.is_file():
        print(json.dumps({"error": problem or f"labels not found: {labels}"}))
        return 2
    assert models is not None
    import cv2
    from fast_alpr import ALPR

    rows = list(csv.DictReader(labels.open()))
    truths = {r["plate_text"] for r in rows}
    countries = sorted({COUNTRY_OF_FOLDER.get(r["country"], "GENERIC") for r in rows})
    allow = truths | decoys(args.decoys, countries, truths)
    full = PlateIndex(allow)
    rec = FastAlprRecognizer(models, threads=args.threads)
    rec.load()
    ocr = PlateOcr(models, threads=args.threads)
    ocr.load()
    pipe = Pipeline(PlateReader(rec, ocr), args.min_score)
    baseline = rec._alpr  # the same ALPR(detector=..., ocr_model_path=...) object, used plainly
    assert isinstance(baseline, ALPR)
    sides: dict[str, dict[str, Any]] = {
        s: {"images": 0, "detected": 0, "exact": 0, "chars": [], "correct_opens": 0,
            "wrong_opens": 0, "absent_opens": 0, "latency": []} for s in ("pipeline", "baseline")}
    for r in rows:
        img = cv2.imread(str(images_dir / r["file"]))
        if img is None:
            print(f"cannot read {r['file']}", file=sys.stderr)
            continue
        truth, country = r["plate_text"], COUNTRY_OF_FOLDER.get(r["country"], "GENERIC")
        absent = PlateIndex(allow - {truth})
        # Baseline
        t = time.perf_counter()
        res = baseline.predict(img)
        lat = (time.perf_counter() - t) * 1000
        b = sides["baseline"]
        b["images"] += 1
        b["latency"].append(lat)
        texts = [x.ocr.text.replace("_", "").upper() for x in res if x.ocr is not None]
        if texts:
            b["detected"] += 1
            b["exact"] += texts[0] == truth
            b["chars"].append(char_accuracy(texts[0], truth))
            opened = next((x for x in texts if x in allow), None)
            b["correct_opens"] += opened == truth
            b["wrong_opens"] += opened is not None and opened != truth
            b["absent_opens"] += any(x in allow - {truth} for x in texts)
        # Pipeline
        t = time.perf_counter()
        cands = pipe.candidates(img, country)
        plate = pipe.decide(cands, full)
        lat = (time.perf_counter() - t) * 1000
        p = sides["pipeline"]
        p["images"] += 1
        p["latency"].append(lat)
        if cands:
            p["detected"] += 1
            p["exact"] += cands[0][0] == truth
            p["chars"].append(char_accuracy(cands[0][0], truth))
            p["correct_opens"] += plate == truth
            p["wrong_opens"] += plate is not None and plate != truth
            p["absent_opens"] += pipe.decide(cands, absent) is not None
    out: dict[str, Any] = {"bench": "anpr", "images": len(rows), "allowlist": len(allow),
                           "decoys": args.decoys, "min_score": args.min_score}
    for name, s in sides.items():
        det = s["detected"] or 1
        out[name] = {
            "images": s["images"], "detected": s["detected"],
            "exact_accuracy": round(s["exact"] / det, 4),
            "char_accuracy": round(statistics.fmean(s["chars"]), 4) if s["chars"] else 0.0,
            "correct_opens": s["correct_opens"], "wrong_opens": s["wrong_opens"],
            "absent_opens": s["absent_opens"],
            "correct_open_rate": round(s["correct_opens"] / det, 4),
            "latency_ms": spread(s["latency"], (50, 95), 1),
        }
    out["machine"] = machine()
    print(json.dumps(out, indent=None if args.json else 2))
    return 0

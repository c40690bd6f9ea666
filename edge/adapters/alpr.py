"""Plate recognition port and its fast-alpr adapter, loaded fully offline from a model folder.

The folder holds the detector (YOLOv9-tiny end-to-end ONNX) and the OCR model with its config,
as ``../shared/models`` does. Nothing is fetched from the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

DETECTOR_FILE = "yolo-v9-t-416-license-plates-end2end-int8.onnx"
OCR_FILE = "cct_xs_v2_global.onnx"
OCR_CONFIG = "cct_xs_v2_global_plate_config.yaml"
ENV = "GATEPOST_ALPR_MODELS"


@dataclass(frozen=True)
class PlateRead:
    """One plate found in a frame."""

    text: str
    char_confidence: tuple[float, ...]
    detection_confidence: float
    box: tuple[int, int, int, int]

    @property
    def confidence(self) -> float:
        """The weakest character decides how much the read is worth."""
        return min(self.char_confidence) if self.char_confidence else 0.0


class PlateRecognizer(Protocol):
    """Port: frames in, plate reads out."""

    def read(self, frame: Any) -> list[PlateRead]:
        """Plates in a BGR frame (numpy array), best first."""
        ...


def missing_models(folder: Path | None) -> str | None:
    """Why *folder* cannot serve the models, or None when it can."""
    if folder is None:
        return f"no model folder: set {ENV} (e.g. to ../shared/models)"
    absent = [f for f in (DETECTOR_FILE, OCR_FILE, OCR_CONFIG) if not (folder / f).is_file()]
    return f"{folder} lacks {', '.join(absent)}" if absent else None


def models_from_env() -> Path | None:
    """The model folder named by $GATEPOST_ALPR_MODELS."""
    v = os.environ.get(ENV)
    return Path(v) if v else None


class FastAlprRecognizer:
    """fast-alpr with the configured models; one instance serves all cameras of a box."""

    def __init__(self, models: Path, *, threads: int = 1, detector_conf: float = 0.4) -> None:
        self.models = Path(models)
        self.threads = threads
        self.detector_conf = detector_conf
        self._alpr: Any = None

    def load(self) -> None:
        """Build the ONNX sessions (separate from the constructor: it takes a moment)."""
        problem = missing_models(self.models)
        if problem:
            raise FileNotFoundError(problem)
        import onnxruntime as ort
        from fast_alpr import ALPR
        from fast_alpr.base import BaseDetector
        from open_image_models import create_detector

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        detector = create_detector(
            str(self.models / DETECTOR_FILE), backend="yolo_v9", class_labels=("License Plate",),
            conf_thresh=self.detector_conf, providers=["CPUExecutionProvider"],
            sess_options=opts)

        class _Detector(BaseDetector):
            def predict(self, frame):
                return detector.predict(frame)

        self._alpr = ALPR(detector=_Detector(), ocr_model_path=self.models / OCR_FILE,
                          ocr_config_path=self.models / OCR_CONFIG, ocr_device="cpu",
                          ocr_providers=["CPUExecutionProvider"], ocr_sess_options=opts)

    def detect(self, frame: Any) -> list[tuple[tuple[int, int, int, int], float]]:
        """Plate boxes and their detection confidence, without OCR."""
        if self._alpr is None:
            self.load()
        found = self._alpr.detector.predict(frame)
        return sorted((((d.bounding_box.x1, d.bounding_box.y1, d.bounding_box.x2,
                         d.bounding_box.y2), float(d.confidence)) for d in found),
                      key=lambda b: b[1], reverse=True)

    def read(self, frame: Any) -> list[PlateRead]:
        """Detect and read every plate in the frame."""
        if self._alpr is None:
            self.load()
        out = []
        for r in self._alpr.predict(frame):
            if r.ocr is None:
                continue
            conf = r.ocr.confidence
            chars = tuple(float(c) for c in conf) if isinstance(conf, list) else (float(conf),)
            b = r.detection.bounding_box
            out.append(PlateRead(r.ocr.text.strip().upper(), chars,
                                 float(r.detection.confidence), (b.x1, b.y1, b.x2, b.y2)))
        out.sort(key=lambda p: p.detection_confidence, reverse=True)
        return out


CROP_PADS = ((0.0, 0.05), (0.10, 0.15))  # the second pair only when the first is unsure
SURE = 0.9  # a read whose weakest slot scores this needs no further crops


class PlateReader:
    """Frame → plate candidates: detector boxes; the OCR's probabilities for crops of each box
    (as found and padded 5 %; when neither reads surely, padded 10 and 15 % too), each decoded
    within the country's formats, plus each crop's plain top-choice read. A character one crop
    drops, another often keeps; the matcher still opens only for one allowlisted plate, so more
    candidates can only turn a read ambiguous, never into a second plate's open."""

    def __init__(self, recognizer: FastAlprRecognizer, ocr: PlateOcr) -> None:
        self.recognizer = recognizer
        self.ocr = ocr
        self.malformed = 0  # reads that fit no plate format: dropped, never matched

    def candidates(self, img: Any, country: str
                   ) -> tuple[list[tuple[str, float]], tuple[int, int, int, int] | None]:
        """(text, weakest-slot score) candidates best first, and the best detection's box."""
        out: list[tuple[str, float]] = []
        h_img, w_img = img.shape[:2]
        boxes = self.recognizer.detect(img)
        for (x1, y1, x2, y2), _ in boxes:
            w, h = x2 - x1, y2 - y1
            formed = False
            box_out: list[tuple[str, float]] = []
            for stage, pads in enumerate(CROP_PADS):
                if stage and box_out and max(s for _, s in box_out) >= SURE:
                    break  # the first crops read surely: save the OCR time
                for p in pads:
                    read, ok = self._read(img[max(0, y1 - int(h * p)):min(h_img, y2 + int(h * p)),
                                              max(0, x1 - int(w * p)):min(w_img, x2 + int(w * p))],
                                          country)
                    box_out += read
                    formed = formed or ok
            out += box_out
            if not formed:
                self.malformed += 1
        out.sort(key=lambda c: c[1], reverse=True)
        return out, (boxes[0][0] if boxes else None)

    def _read(self, crop: Any, country: str) -> tuple[list[tuple[str, float]], bool]:
        """One crop's candidates: decoded within the country's formats, plus its plain
        top-choice read when that forms a plate (the flag)."""
        import numpy as np

        from shared.plate_decode import decode
        from shared.plates import FORMATS, clean, normalise

        probs = np.asarray(self.ocr.probabilities(crop))
        raw = "".join(self.ocr.alphabet[i] for i in probs.argmax(axis=1)).replace(self.ocr.pad, "")
        out: list[tuple[str, float]] = []
        if country in FORMATS:
            out += [(d.text, d.score) for d in decode(probs, self.ocr.alphabet, self.ocr.pad,
                                                      country)]
            n = normalise(raw, country)
        else:
            n = normalise(clean(raw))
        if n is not None:
            out.append((n.text, float(probs.max(axis=1).min())))
        return out, n is not None


class PlateOcr:
    """The OCR model run directly, returning its per-slot probabilities.

    Same ONNX file fast-alpr uses; reading the probabilities lets decoding respect each
    country's plate formats instead of taking the top character per slot.
    """

    def __init__(self, models: Path, *, threads: int = 1) -> None:
        self.models = Path(models)
        self.threads = threads
        self._session: Any = None
        self.alphabet = ""
        self.pad = "_"
        self.slots = 0
        self.size = (128, 64)

    def load(self) -> None:
        """Read the config and open the ONNX session."""
        import onnxruntime as ort
        import yaml

        cfg = yaml.safe_load((self.models / OCR_CONFIG).read_text())
        self.alphabet, self.pad = cfg["alphabet"], cfg["pad_char"]
        self.slots = int(cfg["max_plate_slots"])
        self.size = (int(cfg["img_width"]), int(cfg["img_height"]))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        self._session = ort.InferenceSession(str(self.models / OCR_FILE), opts,
                                             providers=["CPUExecutionProvider"])

    def probabilities(self, crop_bgr: Any) -> Any:
        """(slots, alphabet) probabilities for one BGR plate crop."""
        import cv2
        import numpy as np

        if self._session is None:
            self.load()
        rgb = cv2.cvtColor(cv2.resize(crop_bgr, self.size, interpolation=cv2.INTER_LINEAR),
                           cv2.COLOR_BGR2RGB)
        out = self._session.run(None, {"input": np.expand_dims(rgb.astype(np.uint8), 0)})[0]
        return out.reshape(self.slots, len(self.alphabet))

"""The box's cameras: one camera worker per gate with a camera (``edge.adapters.camera_worker``),
sharing one plate recognizer, each handing its reads to the gate's lane."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from edge.adapters.camera import CameraSource
from edge.adapters.camera_worker import CodeHandler, PlateHandler, PlateLane
from edge.config import EdgeConfig
from edge.lanes import Lane


def start_cameras(cfg: EdgeConfig, lanes: Mapping[str, Lane], on_plate: PlateHandler,
                  on_code: CodeHandler) -> dict[str, PlateLane]:
    """One camera worker per gate with a camera, sharing one recognizer; models must be
    there. Each hands its reads to the gate's lane (``EdgeDaemon.handle_plate``), and the
    codes of the QR passes it finds to ``on_code`` where the gate's camera looks for them."""
    from edge.adapters.alpr import (
        FastAlprRecognizer,
        PlateOcr,
        PlateReader,
        missing_models,
        models_from_env,
    )

    models = cfg.alpr.models or models_from_env()
    problem = missing_models(models)
    if problem:
        raise RuntimeError(f"cameras are configured but plate models are missing: {problem}")
    assert models is not None
    rec = FastAlprRecognizer(models, threads=cfg.alpr.threads)
    rec.load()
    ocr = PlateOcr(models, threads=cfg.alpr.threads)
    ocr.load()
    reader = PlateReader(rec, ocr)
    cameras: dict[str, PlateLane] = {}
    for g in cfg.gates:
        if g.camera is None:
            continue
        url: str | int = int(g.camera.url) if g.camera.url.isdigit() else g.camera.url
        cam = PlateLane(g.id, CameraSource(g.id, url, roi=g.camera.roi), reader,
                        country=g.camera.country, trigger=g.camera.trigger,
                        loop_occupied=_loop_of(lanes[g.id]), on_plate=on_plate,
                        on_code=on_code if g.camera.qr else None)
        cameras[g.id] = cam
        cam.start()
    return cameras


def _loop_of(lane: Lane) -> Callable[[], bool]:
    def occupied() -> bool:
        inputs = lane.inputs
        return bool(inputs and inputs.loop)

    return occupied

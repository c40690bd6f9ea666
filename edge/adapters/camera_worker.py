"""One camera at one gate: newest frame → trigger → plate candidates → the gate's lane
(``edge.daemon.cameras`` starts one per gate with a camera)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from edge.adapters.alpr import PlateReader
from edge.adapters.camera import CameraSource
from edge.adapters.motion import MotionTrigger
from edge.adapters.qr import QrScanner
from edge.core.types import PlateEvidence

log = logging.getLogger(__name__)

# (gate, text) → whether the gate opened for the code a QR carried
CodeHandler = Callable[[str, str], bool]
# (gate, evidence, frame, box, frame time ns, final) → whether the daemon acted on it
PlateHandler = Callable[[str, PlateEvidence, Any, "tuple[int, int, int, int] | None", int, bool],
                        bool]


class PlateLane:
    """Recognises only while the trigger says a vehicle is there."""

    def __init__(self, gate_id: str, camera: CameraSource, reader: PlateReader, *,
                 country: str, trigger: str, loop_occupied: Callable[[], bool],
                 on_plate: PlateHandler, on_code: CodeHandler | None = None) -> None:
        self.gate_id = gate_id
        self.camera = camera
        self.reader = reader
        self.country = country.upper()
        self.trigger = trigger
        self.loop_occupied = loop_occupied
        self.on_plate = on_plate
        self.on_code = on_code  # QR passes, when the camera searches for them
        self.qr = QrScanner() if on_code is not None else None
        self.motion = MotionTrigger()
        self.frames_to_settle = 5  # frames a weak read may improve before it is recorded
        self._period_frames = 0
        self._done = False  # this vehicle has its decision
        self._done_at = 0.0
        self.hold_s = 5.0
        self._decided_thumb: Any = None
        self.scene_change = 12.0  # mean grey-level change that means another vehicle
        self.idle_frames = 0
        self.looked_at = 0  # frames this worker has taken from the camera
        self.recognised = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the camera and the recognition thread."""
        self.camera.start()
        self._thread = threading.Thread(target=self._run, name=f"plates-{self.gate_id}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop both."""
        self._stop.set()
        self.camera.stop()
        if self._thread:
            self._thread.join(5)

    def stats(self) -> dict[str, Any]:
        """Camera counters plus how many frames were recognised or skipped."""
        return {**self.camera.stats(), "recognised": self.recognised, "idle": self.idle_frames,
                "errors": self.errors, "malformed_reads": self.reader.malformed,
                "qr_found": self.qr.found if self.qr else 0, "looked_at": self.looked_at}

    def _scene_changed(self, image: Any) -> bool:
        """Another vehicle replaced the decided one without an empty frame between."""
        if self._decided_thumb is None:
            return False
        import numpy as np

        return float(np.mean(np.abs(_thumb(image) - self._decided_thumb))) > self.scene_change

    def _wanted(self, image: Any, at: float) -> bool:
        if self.trigger == "always":
            return True
        if self.trigger == "loop":
            return self.loop_occupied()
        return self.motion.active(image, at)

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            frame = self.camera.wait_newer(seq, 0.5)
            if frame is None:
                continue
            seq = frame.seq
            self.looked_at += 1
            try:
                wanted = self._wanted(frame.image, frame.at)
                left = (self.trigger == "motion" and not self.motion.present) or not wanted or (
                    self._done and self._scene_changed(frame.image))
                if left or (self.trigger == "always" and frame.at - self._done_at > self.hold_s):
                    self._done, self._period_frames = False, 0  # the next one: a fresh decision
                # A QR still in view is decided once (again after the scanner's hold_s), not
                # on every frame: held up at an `always` camera it is one wrong code, not ten
                # a second counted against the camera's lock.
                if left and self.qr is not None:
                    self.qr.forget()
                if wanted and self.qr is not None and self.on_code is not None and \
                        (text := self.qr.new(frame.image, frame.at)) is not None:
                    self.on_code(self.gate_id, text)  # a pass shown: decided as typed
                    continue
                if not wanted or self._done:
                    self.idle_frames += 1
                    continue
                cands, box = self.reader.candidates(frame.image, self.country)
                self.recognised += 1
                self._period_frames += 1
                if not cands:
                    continue
                final = self._period_frames >= self.frames_to_settle
                acted = self.on_plate(self.gate_id, PlateEvidence(tuple(cands[:6])),
                                      frame.image, box, int(frame.at * 1e9), final)
                if acted:
                    self._done, self._done_at = True, frame.at
                    self._decided_thumb = _thumb(frame.image)
            except Exception:
                self.errors += 1
                log.exception("plate recognition at %s failed", self.gate_id)


def _thumb(image: Any) -> Any:
    import cv2
    import numpy as np

    small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (32, 18),
                       interpolation=cv2.INTER_AREA)
    return small.astype(np.float32)

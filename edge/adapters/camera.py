"""Camera input through ``cv2.VideoCapture``: RTSP, HTTP MJPEG, video files, local devices.

A grabber thread keeps only the newest frame (a recogniser that falls behind skips frames
instead of working through a backlog), reconnects with back-off, and counts frames, frames
replaced before anyone took them (drops), and reconnects. A region of interest crops what
consumers see.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    seq: int
    image: Any  # numpy BGR array, already cropped to the ROI
    at: float  # monotonic seconds when it was grabbed


class CameraSource:
    """One camera; ``wait_newer`` hands out the newest frame only."""

    def __init__(self, name: str, url: str | int, *,
                 roi: tuple[float, float, float, float] | None = None,
                 backoff_max_s: float = 5.0) -> None:
        self.name = name
        self.url = url
        self.roi = roi  # x, y, w, h as fractions of the frame
        self.backoff_max_s = backoff_max_s
        self.frames = 0
        self.drops = 0
        self.reconnects = 0
        self.fps = 0.0
        self.connected = False
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._taken = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start grabbing."""
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and join."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread:
            self._thread.join(5)

    def wait_newer(self, seq: int, timeout: float) -> Frame | None:
        """The newest frame after *seq*, waiting up to *timeout*; None if none came."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest.seq <= seq:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(left)
            self._taken = self._latest.seq
            return self._latest

    def stats(self) -> dict[str, Any]:
        """Counters for health pages."""
        return {"connected": self.connected, "frames": self.frames, "drops": self.drops,
                "reconnects": self.reconnects, "fps": round(self.fps, 1)}

    def _crop(self, img: Any) -> Any:
        if not self.roi:
            return img
        h, w = img.shape[:2]
        x, y, rw, rh = self.roi
        return img[int(y * h):int((y + rh) * h), int(x * w):int((x + rw) * w)]

    def _run(self) -> None:
        import cv2

        backoff = 0.2
        while not self._stop.is_set():
            cap = cv2.VideoCapture(self.url)
            if not cap.isOpened():
                cap.release()
                if self.connected or self.reconnects == 0:
                    log.error("camera %s: cannot open %s", self.name, self.url)
                self.connected = False
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, self.backoff_max_s)
                continue
            self.reconnects += 1
            if not self.connected:
                log.info("camera %s streaming from %s", self.name, self.url)
            self.connected = True
            backoff = 0.2
            last = time.monotonic()
            while not self._stop.is_set():
                ok, img = cap.read()
                if not ok or img is None:
                    break
                now = time.monotonic()
                self.fps = 0.9 * self.fps + 0.1 / max(now - last, 1e-3) if self.fps else \
                    1.0 / max(now - last, 1e-3)
                last = now
                with self._cond:
                    seq = self.frames + 1
                    if self._latest is not None and self._latest.seq > self._taken:
                        self.drops += 1
                    self._latest = Frame(seq, self._crop(img), now)
                    self.frames = seq
                    self._cond.notify_all()
            cap.release()
            if not self._stop.is_set():
                log.warning("camera %s: stream ended; reconnecting", self.name)

"""A simulated gate camera: an HTTP MJPEG stream (and a file mode) of an empty scene until a
vehicle arrives, then a real photograph of it, with knobs for blur, darkness, noise and drops.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np

log = logging.getLogger(__name__)
BOUNDARY = b"gatepostframe"


@dataclass
class CameraKnobs:
    """Image and stream faults."""

    blur: int = 0  # Gaussian kernel (odd; 0 = sharp)
    darkness: float = 0.0  # 0 = as shot, 0.8 = very dark
    noise: float = 0.0  # Gaussian noise sigma in grey levels
    drop: float = 0.0  # probability per frame that the connection drops
    seed: int = 11


def empty_scene(width: int = 960, height: int = 540, seed: int = 5) -> np.ndarray:
    """A static approach lane: grey road, kerb and markings, a little texture."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), (92, 96, 98), np.uint8)
    img[: height // 3] = (150, 160, 170)  # wall behind the barrier
    cv2.rectangle(img, (0, height // 3), (width, height // 3 + 12), (200, 200, 200), -1)
    for x in range(0, width, 120):
        cv2.rectangle(img, (x, height * 2 // 3), (x + 60, height * 2 // 3 + 8), (230, 230, 230), -1)
    noise = rng.normal(0, 3, img.shape).astype(np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def qr_scene(text: str, scale: int = 12) -> np.ndarray:
    """A visitor holding their pass's QR up to the camera: *text* as a QR code on the empty
    scene (segno draws it)."""
    import io

    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=scale, border=4)
    qr = cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_COLOR)
    assert qr is not None
    scene = empty_scene()
    h, w = qr.shape[:2]
    y, x = (scene.shape[0] - h) // 2, (scene.shape[1] - w) // 2
    scene[y:y + h, x:x + w] = qr
    return scene


class SimCamera:
    """Serves ``/stream.mjpg`` at ``fps``; ``show(image)`` puts a vehicle in front of it."""

    def __init__(self, name: str, *, fps: float = 10.0, host: str = "127.0.0.1", port: int = 0,
                 knobs: CameraKnobs | None = None, size: tuple[int, int] = (960, 540)) -> None:
        self.name = name
        self.fps = fps
        self.host = host
        self.port = port
        self.knobs = knobs or CameraKnobs()
        self.size = size
        self.frames_sent = 0
        self.drops = 0
        self._empty = empty_scene(*size)
        self._scene = self._empty
        self._scene_id = 0
        self._changed_at = time.monotonic()
        self._lock = threading.Lock()
        self._rng = random.Random(self.knobs.seed)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # The world ----------------------------------------------------------------------------
    def show(self, image: np.ndarray | str | Path) -> float:
        """A vehicle pulls up: frames now show *image*; returns the monotonic time it did."""
        img = cv2.imread(str(image)) if isinstance(image, str | Path) else image
        if img is None:
            raise FileNotFoundError(f"cannot read image {image}")
        with self._lock:
            self._scene = img
            self._scene_id += 1
            self._changed_at = time.monotonic()
            return self._changed_at

    def clear(self) -> None:
        """The vehicle has gone: back to the empty lane."""
        with self._lock:
            self._scene = self._empty
            self._scene_id += 1
            self._changed_at = time.monotonic()

    def frame(self) -> np.ndarray:
        """The current frame with the knobs applied."""
        with self._lock:
            img = self._scene
        k = self.knobs
        if k.blur and k.blur > 1:
            img = cv2.GaussianBlur(img, (k.blur | 1, k.blur | 1), 0)
        if k.darkness:
            img = cv2.convertScaleAbs(img, alpha=max(0.0, 1.0 - k.darkness), beta=0)
        if k.noise:
            noise = np.random.default_rng(self.frames_sent).normal(0, k.noise, img.shape)
            img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        return img

    # Serving ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The MJPEG stream URL for ``cv2.VideoCapture``."""
        return f"http://{self.host}:{self.port}/stream.mjpg"

    def start(self) -> SimCamera:
        """Listen and serve in a thread."""
        cam = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/stream.mjpg":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type",
                                 f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                cam._stream(self)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"cam-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(3)

    def _stream(self, handler: BaseHTTPRequestHandler) -> None:
        period = 1.0 / self.fps
        next_at = time.monotonic()
        while self._server is not None:
            if self.knobs.drop and self._rng.random() < self.knobs.drop:
                self.drops += 1
                return  # the stream drops; the client must reconnect
            ok, jpg = cv2.imencode(".jpg", self.frame(), [cv2.IMWRITE_JPEG_QUALITY, 85])
            if not ok:
                return
            part = (b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(jpg)).encode() + b"\r\n\r\n" + jpg.tobytes() + b"\r\n")
            try:
                handler.wfile.write(part)
                handler.wfile.flush()
            except OSError:
                return
            self.frames_sent += 1
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the camera's own frame clock
            else:
                next_at = time.monotonic()


def write_video(path: Path, images: list[np.ndarray], fps: float = 10.0,
                seconds_each: float = 1.0, size: tuple[int, int] = (960, 540)) -> Path:
    """File mode: an MJPG AVI showing each image for ``seconds_each``."""
    fourcc = cv2.VideoWriter.fourcc(*"MJPG")
    writer = cv2.VideoWriter(str(path), fourcc, fps, size)
    try:
        for img in images:
            frame = cv2.resize(img, size)
            for _ in range(max(1, int(fps * seconds_each))):
                writer.write(frame)
    finally:
        writer.release()
    return path

"""The camera adapter against the simulated camera's MJPEG stream (rendered scenes only)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.adapters.camera import CameraSource
from gatepost.devstack.stack import wait_until
from hardware_sim.camera import CameraKnobs, SimCamera, empty_scene, write_video


def car_scene() -> np.ndarray:
    """A rendered stand-in for a vehicle: a bright box with a plate-like panel."""
    img = empty_scene()
    img[150:450, 250:710] = (40, 40, 200)
    img[360:410, 400:560] = (250, 250, 250)
    return img


@pytest.fixture
def camera():
    cam = SimCamera("gate-1", fps=15).start()
    yield cam
    cam.stop()


def test_frames_flow_and_the_newest_one_reflects_the_scene(camera):
    src = CameraSource("gate-1", camera.url)
    src.start()
    try:
        first = src.wait_newer(0, 10)
        assert first is not None and first.image.shape[:2] == (540, 960)
        camera.show(car_scene())
        wait_until(lambda: (f := src.wait_newer(0, 1)) is not None
                   and f.image[300, 480, 2] > 150, 5, what="the car in the frame")
        assert src.connected and src.fps > 0
    finally:
        src.stop()


def test_a_slow_consumer_gets_the_newest_frame_and_drops_are_counted(camera):
    src = CameraSource("gate-1", camera.url)
    src.start()
    try:
        f1 = src.wait_newer(0, 10)
        assert f1 is not None
        wait_until(lambda: src.frames >= f1.seq + 5, 5, what="more frames")
        f2 = src.wait_newer(f1.seq, 1)
        assert f2 is not None and f2.seq >= f1.seq + 5  # skipped straight to the newest
        assert src.drops >= 3
    finally:
        src.stop()


def test_the_stream_dropping_is_survived():
    cam = SimCamera("flaky", fps=20, knobs=CameraKnobs(drop=0.1, seed=3)).start()
    src = CameraSource("flaky", cam.url)
    src.start()
    try:
        wait_until(lambda: src.reconnects >= 3 and src.frames >= 30, 20,
                   what="frames across several reconnects")
        assert cam.drops >= 2
    finally:
        src.stop()
        cam.stop()


def test_region_of_interest_crops(camera):
    src = CameraSource("gate-1", camera.url, roi=(0.25, 0.5, 0.5, 0.5))
    src.start()
    try:
        f = src.wait_newer(0, 10)
        assert f is not None and f.image.shape[:2] == (270, 480)
    finally:
        src.stop()


def test_file_mode(tmp_path):
    path = write_video(tmp_path / "lane.avi", [empty_scene(), car_scene()], fps=10)
    src = CameraSource("file", str(path))
    src.start()
    try:
        wait_until(lambda: src.frames >= 10, 10, what="frames from the file")
    finally:
        src.stop()


def test_an_unreachable_camera_backs_off_without_crashing():
    src = CameraSource("gone", "http://127.0.0.1:9/stream.mjpg", backoff_max_s=0.5)
    src.start()
    try:
        assert src.wait_newer(0, 1.0) is None and not src.connected
    finally:
        src.stop()

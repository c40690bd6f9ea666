"""Evidence on bounded disk, and the motion trigger (rendered frames)."""

from __future__ import annotations

from edge.adapters.motion import MotionTrigger
from edge.store.evidence import EvidenceStore
from hardware_sim.camera import empty_scene


def test_evidence_keeps_frame_and_crop_and_evicts_the_oldest(tmp_path):
    store = EvidenceStore(tmp_path, max_bytes=150_000)
    frame = empty_scene()
    names = store.save("gate:1", frame, (100, 100, 300, 160))
    assert sorted(names) == ["gate_1.crop.jpg", "gate_1.frame.jpg"]
    assert store.path(names[0]) is not None
    for i in range(2, 12):
        store.save(f"gate:{i}", frame, (100, 100, 300, 160))
    total = sum(p.stat().st_size for p in tmp_path.glob("*.jpg"))
    assert total <= 150_000
    assert store.path("gate_1.frame.jpg") is None  # the oldest went first
    assert store.path("gate_11.frame.jpg") is not None


def test_motion_trigger_sleeps_on_an_empty_lane_and_wakes_for_a_car():
    m = MotionTrigger(threshold=6.0, hold_s=1.0)
    empty = empty_scene()
    car = empty.copy()
    car[150:450, 250:710] = (30, 30, 30)  # a dark car fills a quarter of the view
    t = 0.0
    for _ in range(20):
        assert not m.active(empty, t)
        t += 0.1
    assert m.active(car, t) and m.present
    # A car that stops keeps recognition going: the background does not learn it.
    for _ in range(30):
        t += 0.1
        assert m.active(car, t)
    t += 0.1
    m.active(empty, t)
    assert not m.present
    assert not m.active(empty, t + 1.5)

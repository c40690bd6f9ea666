"""Gate lanes against the simulated hardware (reader over TCP, relay boards over Modbus TCP):
the second car, a tag in the field across a restart, a reader dead at boot, an open cut short
by a crash, confirmation of reads, and supervision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.core.types import PlateEvidence
from edge.daemon.supervisor import Supervisor
from edge.daemon.wiring import EdgeDaemon
from edge.lanes import TagRead
from edge.lanes.recorder import Recorder
from gatepost.devstack.stack import GateSpec, StackOptions, wait_until
from hardware_sim.world import SimWorld
from shared.clock import SystemClock
from shared.contract import RulesSnapshot, TagRule, VehicleRule
from shared.vocab import EventType, TagStatus, VehicleType
from shared.wire.events import OpenData

SITE = "green-acres"
EPC_A = "E2801160600002040000AB01"
EPC_B = "E2801160600002040000AB02"
CAR_A, CAR_B = "MH12AB1234", "MH14CD5678"
OFFLINE = {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9"}


def rules() -> RulesSnapshot:
    return RulesSnapshot(
        site=SITE, version=1, gates=[],
        vehicles=[VehicleRule(vrn=v, type=VehicleType.W4) for v in (CAR_A, CAR_B)],
        tags=[TagRule(epc=EPC_A, site=SITE, status=TagStatus.ACTIVE, vrn=CAR_A),
              TagRule(epc=EPC_B, site=SITE, status=TagStatus.ACTIVE, vrn=CAR_B)])


def make_daemon(world: SimWorld, data: Path, **gate: object) -> EdgeDaemon:
    cfg = EdgeConfig.model_validate({
        "id": "lane-box", "data_dir": str(data), "cloud": OFFLINE,
        "policy": {"poll_ms": 20, "device_wait_s": 4.0},
        "gates": [{"id": "lane", "site": SITE, "direction": "entry", "pulse_ms": 500,
                   **world.edge_wiring("lane"), **gate}],
    })
    d = EdgeDaemon(cfg, SystemClock())
    d.start()
    assert d.cache is not None
    if d.cache.version(SITE) == 0:
        d.cache.apply_snapshot(rules())
    d.rules_versions[SITE] = 1
    return d


@pytest.fixture
def world():
    w = SimWorld(["lane"])
    w.start()
    yield w
    w.stop()


def events(d: EdgeDaemon, type_: str | None = None) -> list[dict]:
    out = [e for e in d.ring.after(0, 0, 20_000) if e.get("gate") == "lane"]
    return [e for e in out if e["type"] == type_] if type_ else out


def decisions(d: EdgeDaemon) -> list[tuple[str, str]]:
    return [(e["credential"]["value"], e["reason"]) for e in events(d, "decision")
            if e["reason"] != "duplicate_read"]


def drive_through(world: SimWorld, d: EdgeDaemon) -> None:
    """The car drives over the loop once the boom is up, and clears it."""
    boom = world.gates["lane"].boom
    lane = d.lanes["lane"]
    assert boom.wait_for(lambda s: s.open_limit, 5)
    boom.set_loop(True)
    wait_until(lambda: lane.inputs is not None and lane.inputs.loop, 5, what="the loop seen")
    boom.set_loop(False)


def test_the_next_car_after_a_pass_is_not_taken_for_the_last_ones_plate(world, tmp_path):
    """Car A opens by plate and tag and passes; car B, right behind it with only its tag,
    opens: the pass ended A's window, so B's tag is never paired with A's plate."""
    d = make_daemon(world, tmp_path / "d")
    try:
        frame = np.zeros((90, 160, 3), "uint8")
        assert d.handle_plate("lane", PlateEvidence(((CAR_A, 0.95),)), frame, None, 0)
        drive_through(world, d)
        wait_until(lambda: d.counters["passes"] == 1, 5, what="A's pass")
        b = d.handle_epc("lane", EPC_B, 0)
        assert (b.outcome.value, b.reason.value) == ("open", "tag_valid"), b.detail
        assert d.counters["alert_credential_mismatch"] == 0
    finally:
        d.stop()


def test_without_the_pass_the_same_pairing_is_caught_as_fraud(world, tmp_path):
    d = make_daemon(world, tmp_path / "d")
    try:
        frame = np.zeros((90, 160, 3), "uint8")
        assert d.handle_plate("lane", PlateEvidence(((CAR_A, 0.95),)), frame, None, 0)
        b = d.handle_epc("lane", EPC_B, 0)  # B's tag on the car whose plate is A's
        assert b.reason.value == "credential_mismatch" and b.alerts == ("credential_mismatch",)
        wait_until(lambda: d.counters["alert_credential_mismatch"] == 1, 5, what="the alert")
    finally:
        d.stop()


@pytest.mark.parametrize("how", ["stop", "crash"])
def test_a_tag_still_in_the_field_does_not_open_again_after_a_restart(world, tmp_path, how):
    board = world.gates["lane"].board
    reader = world.gates["lane"].reader
    d = make_daemon(world, tmp_path / "d")
    reader.tag_enter(EPC_A)  # a car parked on the loop, its tag read 20 times a second
    try:
        assert board.wait_flash_writes(1, 5)
        wait_until(lambda: len(events(d, "decision")) >= 5, 5, what="more reads")
    finally:
        if how == "stop":
            d.stop()
        else:  # no orderly stop: the lanes' threads and store just go away
            for lane in d.lanes.values():
                lane.mailbox.stop()
            d.readers["lane"].stop()
    again = make_daemon(world, tmp_path / "d")
    try:
        wait_until(lambda: len(events(again, "decision")) >= 20, 10, what="reads after restart")
        assert board.flash_writes == 1
        assert {e["reason"] for e in events(again, "decision")} == {"duplicate_read"}
    finally:
        reader.tag_leave(EPC_A)
        again.stop()
        if how == "crash":  # what the crash left running (its relay pollers) goes too
            d.stop()


def test_a_reader_dead_at_boot_is_reported_down(tmp_path):
    w = SimWorld(["lane"])
    w.start()
    dead_url = w.gates["lane"].reader.url
    w.gates["lane"].reader.stop()  # nothing listens there any more
    cfg = EdgeConfig.model_validate({
        "id": "dead-box", "data_dir": str(tmp_path / "d"), "cloud": OFFLINE,
        "policy": {"device_wait_s": 1.0},
        "gates": [{"id": "lane", "site": SITE, "direction": "entry",
                   "reader": {"url": dead_url}}],
    })
    d = EdgeDaemon(cfg, SystemClock())
    d.start()
    try:
        assert d.lanes["lane"].reader_ok is None  # unknown, not yet down
        wait_until(lambda: d.lanes["lane"].reader_ok is False and events(d, "fault"), 5,
                   what="the reader reported down")
        faults = events(d, "fault")
        assert faults and faults[0]["device"] == "reader" and faults[0]["state"] == "down"
        assert "not up since start" in faults[0]["error"]
    finally:
        d.stop()
        w.stop()


class _Died(BaseException):
    """The process dying at one exact line (what kill -9 does at a random one)."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_open_cut_short_by_a_crash_is_recorded_as_unconfirmed(world, tmp_path, monkeypatch):
    board = world.gates["lane"].board
    d = make_daemon(world, tmp_path / "d")
    real = Recorder.event

    def dies_after_the_pulse(self, gate, at, body, *a, **kw):
        if isinstance(body, OpenData):
            raise _Died  # the relay has pulsed; the ``open`` event is never written
        return real(self, gate, at, body, *a, **kw)

    monkeypatch.setattr(Recorder, "event", dies_after_the_pulse)
    d.lanes["lane"].post(TagRead(EPC_A, 0))
    assert board.wait_flash_writes(1, 5)
    wait_until(lambda: not d.lanes["lane"].alive(), 5, what="the lane to die")
    d.readers["lane"].stop()
    monkeypatch.setattr(Recorder, "event", real)
    decided = [e for e in events(d, "decision") if e["reason"] == "tag_valid"]
    assert len(decided) == 1 and not events(d, "open")
    again = make_daemon(world, tmp_path / "d")
    try:
        settled = events(again, "open_unconfirmed")
        assert len(settled) == 1 and settled[0]["decision"] == decided[0]["event_id"]
        assert board.flash_writes == 1  # reconciling never pulses
        again.handle_epc("lane", EPC_A, 0)  # the car is still there: it is not opened again
        assert decisions(again) == [] and board.flash_writes == 1
        assert again.outbox is not None
        kinds = [e.type for e in again.outbox.pending(100)]
        assert kinds.count(EventType.OPEN_UNCONFIRMED) == 1
    finally:
        again.stop()
    third = make_daemon(world, tmp_path / "d")  # settled once, not at every start
    try:
        assert not events(third, "open_unconfirmed")
    finally:
        third.stop()
        d.stop()  # what the crash left running (its relay pollers) goes too


def test_confirm_reads_waits_for_identical_reads(world, tmp_path):
    reader = world.gates["lane"].reader
    board = world.gates["lane"].board
    d = make_daemon(world, tmp_path / "d", confirm_reads=2)
    try:
        wait_until(lambda: d.readers["lane"].stats()["connected"], 5, what="reader up")
        frames = d.readers["lane"].stats()["frames"]
        reader.push_once(EPC_A)
        wait_until(lambda: d.readers["lane"].stats()["frames"] > frames, 5, what="the frame")
        wait_until(lambda: d.lanes["lane"].as_dict()["queue"] == 0, 5, what="the lane idle")
        assert board.flash_writes == 0 and not decisions(d)
        reader.push_once(EPC_A)
        assert board.wait_flash_writes(1, 5)
        assert decisions(d) == [(EPC_A, "tag_valid")]
    finally:
        d.stop()


def test_a_dead_lane_is_restarted_within_the_budget_then_the_daemon_gives_up(world, tmp_path):
    d = make_daemon(world, tmp_path / "d")
    d.supervisor = Supervisor(budget=2, period_s=60)
    lane = d.lanes["lane"]
    d.supervisor.watch("lane lane", lane.alive, lane.last_progress, lane.restart)
    try:
        for n in range(3):
            lane.mailbox.stop()
            wait_until(lambda: not lane.alive(), 5, what="the lane to stop")
            assert d.supervise() is False
            assert lane.alive() is (n < 2)
        assert "restart budget spent" in " ".join(d.failures)
        assert json.dumps(d.health()["workers"])  # reported in health
    finally:
        d.stop()


@pytest.mark.stack
@pytest.mark.timeout(180)
def test_kill_9_of_the_real_daemon_with_a_tag_in_the_field_never_opens_twice(make_stack):
    stack = make_stack([GateSpec("main-in", SITE, "entry")],
                       StackOptions(policy={"dedup_hold_s": 30}))
    c = stack.cloud
    c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": CAR_A}).raise_for_status()
    v = c.post(f"/api/v1/sites/{SITE}/tags", json={"epc": EPC_A, "vrn": CAR_A,
                                                   "status": "active"}).json()
    stack.wait_edge_version(SITE, v["rules_version"], 15)
    gate = stack.world.gates["main-in"]
    gate.reader.tag_enter(EPC_A)  # parked on the loop, read 20 times a second
    assert gate.board.wait_flash_writes(1, 5)
    for _ in range(3):
        stack.kill_edge()
        stack.start_edge()

        def duplicates() -> int:
            events, _ = stack.edge_events_after(0, wait=0.2)  # the new daemon's ring
            return sum(1 for e in events if e["type"] == "decision"
                       and e["reason"] == "duplicate_read")

        wait_until(lambda: duplicates() >= 10, 10, what="reads after the restart")
        assert gate.board.flash_writes == 1
    gate.reader.tag_leave(EPC_A)


def test_a_refused_plate_on_the_loop_is_decided_again_when_the_rules_change(world, tmp_path):
    """The camera reads a car once; while it stays on the loop, a rules change (its tag
    activated) decides it again at once and the boom goes up."""
    board = world.gates["lane"].board
    d = make_daemon(world, tmp_path / "d")
    try:
        assert d.cache is not None
        blocked = rules().model_copy(update={"version": 2, "tags": [
            TagRule(epc=EPC_A, site=SITE, status=TagStatus.BLOCKED, vrn=CAR_A)]})
        d.cache.apply_snapshot(blocked)
        d.rules_versions[SITE] = 2
        frame = np.zeros((90, 160, 3), "uint8")
        assert d.handle_plate("lane", PlateEvidence(((CAR_A, 0.95),)), frame, None, 0)
        assert decisions(d) == [(CAR_A, "tag_inactive")]
        world.gates["lane"].boom.set_loop(True)  # the car waits on the loop
        lane = d.lanes["lane"]
        wait_until(lambda: lane.inputs is not None and lane.inputs.loop, 5, what="the loop")
        d.cache.apply_snapshot(rules().model_copy(update={"version": 3}))  # tag active again
        d.rules_versions[SITE] = 3
        d.rules_touched(SITE)
        assert board.wait_flash_writes(1, 5), "the waiting car was not decided again"
        assert decisions(d)[-1] == (CAR_A, "plate_valid")
    finally:
        world.gates["lane"].boom.set_loop(False)
        d.stop()

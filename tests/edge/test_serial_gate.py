"""A gate wired entirely over serial lines: reader on a pty, relay board on Modbus RTU.

The daemon runs in-process against the simulated hardware with no cloud reachable, and a
vehicle drives through: decision, flash-on over RTU, and the pass from the loop input.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import EdgeConfig
from edge.daemon.wiring import EdgeDaemon
from gatepost.devstack.stack import wait_until
from hardware_sim.barrier import BarrierTiming, Boom
from hardware_sim.ptypair import PtyPair
from hardware_sim.reader import SimReader
from hardware_sim.relay_board import BoardBank, BoardServer, RelayBoard
from hardware_sim.world import SimGate, SimWorld
from shared.clock import SystemClock
from shared.contract import RulesSnapshot, TagRule
from shared.vocab import TagStatus

EPC = "E2801160600002040000AB01"


@pytest.fixture
def serial_gate(tmp_path: Path):
    pair = PtyPair().start()
    bank = BoardBank()
    boom = Boom(BarrierTiming(rise_s=0.2, fall_s=0.2, close_after_pass_s=0.1))
    board = bank.add(RelayBoard(4, boom))
    server = BoardServer(bank, serial_port=pair.a, baudrate=19200)
    server.start()
    reader = SimReader("pty-gate", transport="pty", rate_hz=20)
    reader.start()
    world = SimWorld(["lane"])
    world.gates["lane"] = SimGate("lane", 4, reader, board, boom)
    cfg = EdgeConfig.model_validate({
        "id": "serial-box", "data_dir": str(tmp_path / "data"),
        "cloud": {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9"},
        "policy": {"poll_ms": 30},
        "gates": [{"id": "lane", "site": "green-acres", "direction": "entry", "pulse_ms": 500,
                   "reader": {"url": reader.url, "baud": 57600},
                   "relay": {"url": pair.b, "unit": 4, "baud": 19200}}],
    })
    daemon = EdgeDaemon(cfg, SystemClock())
    daemon.start()
    assert daemon.cache is not None
    daemon.cache.apply_snapshot(RulesSnapshot(
        site="green-acres", version=1, gates=[], vehicles=[],
        tags=[TagRule(epc=EPC, site="green-acres", status=TagStatus.ACTIVE, vrn="MH12AB1234")]))
    yield daemon, world, board
    daemon.stop()
    reader.stop()
    server.stop()
    pair.stop()


def test_a_car_passes_a_gate_wired_over_serial(serial_gate):
    daemon, world, board = serial_gate
    wait_until(lambda: daemon.lanes["lane"].reader_ok and daemon.lanes["lane"].relay_ok, 10,
               what="reader and relay up")
    result = world.vehicle("lane", EPC, give_up_after=5)
    assert result.opened and result.passed
    assert board.flash_writes == 1 and board.pulses[0].relay == 0
    wait_until(lambda: daemon.counters["passes"] == 1, 5, what="the pass from the loop input")
    assert daemon.presence is not None and daemon.presence.is_inside("MH12AB1234") is True
    types = [e["type"] for e in daemon.ring.after(0)
             if e["type"] in ("decision", "open", "pass") and e.get("outcome") != "ignored"]
    assert types == ["decision", "open", "pass"]


def test_an_unattributed_pass_is_recorded_without_a_vehicle(serial_gate):
    daemon, _, board = serial_gate
    wait_until(lambda: daemon.lanes["lane"].relay_ok, 10, what="relay up")
    # The guard opens with the operator's own button and a car drives through.
    board.boom.press_open()
    assert board.boom.wait_for(lambda s: s.open_limit, 5)
    board.boom.set_loop(True)
    wait_until(lambda: daemon.lanes["lane"].inputs is not None
               and daemon.lanes["lane"].inputs.loop, 5, what="loop seen occupied")
    board.boom.set_loop(False)
    wait_until(lambda: daemon.counters["passes"] == 1, 5, what="the pass")
    passes = [e for e in daemon.ring.after(0) if e["type"] == "pass"]
    assert passes[-1]["vrn"] is None and passes[-1]["attributed"] is False

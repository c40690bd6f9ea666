"""The edge's Modbus barrier adapter against the simulated board over Modbus TCP."""

from __future__ import annotations

import pytest

from edge.adapters.relay import GateInputs, ModbusBarrier, ModbusBus
from hardware_sim.barrier import BarrierTiming, Boom
from hardware_sim.relay_board import BoardBank, BoardServer, RelayBoard


@pytest.fixture
def board():
    bank = BoardBank()
    b = bank.add(RelayBoard(3, Boom(BarrierTiming(rise_s=0.1, fall_s=0.1,
                                                  close_after_pass_s=0.05))))
    server = BoardServer(bank)
    server.start()
    yield b, server
    server.stop()


def barrier(url: str, unit: int = 3) -> ModbusBarrier:
    return ModbusBarrier(ModbusBus(url, timeout_s=0.5), unit=unit, relay=1, loop_input=1,
                         open_input=2, closed_input=3)


def test_open_is_one_flash_on_that_releases_by_itself(board):
    b, server = board
    res = barrier(server.url).open(300)
    assert res.ok
    assert b.flash_writes == 1  # one write; software never sends the "off"
    assert b.wait_pulses(1, 2)
    pulse = b.pulses[0]
    assert pulse.relay == 0
    assert b.boom.wait_for(lambda s: s.open_limit, 5)
    # The board released the relay by itself after 3 × 100 ms.
    assert b.boom.wait_for(lambda s: not b.coils[0], 5)
    assert pulse.off_at is not None and pulse.off_at - pulse.on_at >= 0.25


def test_inputs_follow_the_loop_and_limits(board):
    b, server = board
    bar = barrier(server.url)
    assert bar.read_inputs() == GateInputs(loop=False, open_limit=False, closed_limit=True)
    bar.open(100)
    assert b.boom.wait_for(lambda s: s.open_limit, 5)
    b.boom.set_loop(True)
    i = bar.read_inputs()
    assert i is not None and i.loop and i.open_limit and not i.closed_limit
    b.boom.set_loop(False)
    assert not bar.read_inputs().loop


def test_failed_open_is_reported_and_never_retried(board):
    b, server = board
    bar = barrier(server.url, unit=9)  # no board answers unit 9
    res = bar.open(500)
    assert not res.ok and "unit 9" in res.error
    assert b.flash_writes == 0 and bar.bus.healthy is False
    # The same bus recovers for the next (new) request, and nothing was replayed.
    good = barrier(server.url)
    good.bus = bar.bus
    assert good.open(100).ok and b.flash_writes == 1


def test_board_gone_then_back(board):
    b, server = board
    bar = barrier(server.url)
    assert bar.open(100).ok
    server.stop()
    assert bar.open(100).ok is False
    assert bar.read_inputs() is None
    server2 = BoardServer(server.bank, port=server.port)
    server2.start()
    try:
        assert bar.open(100).ok and bar.bus.healthy is True
        assert b.flash_writes == 2  # the failed one was not replayed
    finally:
        server2.stop()

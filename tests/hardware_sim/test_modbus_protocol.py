"""The relay board's Modbus RTU frames, byte-exact, over a real serial line (pty pair)."""

from __future__ import annotations

import pytest
from pymodbus.client import ModbusSerialClient
from pymodbus.framer import FramerType

from edge.drivers.waveshare import RawWriteCoil, flash_on
from hardware_sim.barrier import BarrierTiming, Boom
from hardware_sim.ptypair import PtyPair
from hardware_sim.relay_board import BoardBank, BoardServer, RelayBoard


@pytest.fixture
def rtu():
    """A relay board on an RTU line, and a client on the other end of the cable."""
    pair = PtyPair().start()
    bank = BoardBank()
    board = bank.add(RelayBoard(1, Boom(BarrierTiming(rise_s=0.05, fall_s=0.05))))
    server = BoardServer(bank, serial_port=pair.a, baudrate=115200)
    server.start()
    sent: list[bytes] = []
    received: list[bytes] = []

    def trace(sending: bool, data: bytes) -> bytes:
        (sent if sending else received).append(bytes(data))
        return data

    client = ModbusSerialClient(pair.b, framer=FramerType.RTU, baudrate=115200, timeout=2,
                                retries=0, trace_packet=trace)
    client.register(RawWriteCoil)
    assert client.connect()
    yield client, board, sent, received
    client.close()
    server.stop()
    pair.stop()


def test_flash_on_frame_is_byte_exact(rtu):
    client, board, sent, received = rtu
    reply = client.execute(False, flash_on(1, 1000, 1))
    assert sent[-1] == bytes.fromhex("01 05 02 00 00 0A 4C 75")
    assert received[-1] == bytes.fromhex("01 05 02 00 00 0A 4C 75")  # the board echoes
    assert isinstance(reply, RawWriteCoil) and reply.value == 10
    assert board.flash_writes == 1 and board.pulses[-1].relay == 0


@pytest.mark.parametrize(("call", "frame"), [
    (lambda c: c.write_coil(0, True, device_id=1), "01 05 00 00 FF 00 8C 3A"),
    (lambda c: c.write_coil(0, False, device_id=1), "01 05 00 00 00 00 CD CA"),
    (lambda c: c.read_coils(0, count=8, device_id=1), "01 01 00 00 00 08 3D CC"),
    (lambda c: c.read_discrete_inputs(0, count=8, device_id=1), "01 02 00 00 00 08 79 CC"),
], ids=["relay 1 on", "relay 1 off", "read 8 coils", "read 8 inputs"])
def test_stock_requests_match_vectors(rtu, call, frame):
    client, _board, sent, _ = rtu
    result = call(client)
    assert sent[-1] == bytes.fromhex(frame)
    assert not result.isError()


def test_relay_state_and_inputs_over_rtu(rtu):
    client, board, _, _ = rtu
    bits = client.read_discrete_inputs(0, count=8, device_id=1).bits
    assert bits[:3] == [False, False, True]  # loop clear, boom down
    client.write_coil(0, True, device_id=1)  # relay 1 is the boom's OPEN button
    assert client.read_coils(0, count=8, device_id=1).bits[:2] == [True, False]
    client.write_coil(0, False, device_id=1)
    assert board.boom.wait_for(lambda s: s.open_limit, 5)
    bits = client.read_discrete_inputs(0, count=8, device_id=1).bits
    assert bits[:3] == [False, True, False]  # open limit, not closed


def test_bad_flash_value_is_refused(rtu):
    client, board, _, _ = rtu
    reply = client.execute(False, RawWriteCoil(0x0200, 0, dev_id=1))
    assert reply.isError() and board.flash_writes == 0


def test_plain_fc05_with_odd_value_is_refused(rtu):
    client, board, _, _ = rtu
    assert client.execute(False, RawWriteCoil(0, 0x1234, dev_id=1)).isError()
    assert board.coils[0] is False

"""Waveshare-style Modbus relay board: the flash-on command the stock FC05 cannot express.

FC05 normally carries 0xFF00 (on) or 0x0000 (off). The board also accepts FC05 at
0x0200 + n with the pulse length in 100 ms units and releases relay n by itself, so a crashed
daemon can never leave a barrier held open. pymodbus decodes FC05 values as booleans, so this
PDU keeps the raw value both ways; registered on a client it also decodes FC05 replies.
"""

from __future__ import annotations

import struct

from pymodbus.pdu import ModbusPDU

FLASH_BASE = 0x0200


class RawWriteCoil(ModbusPDU):
    """FC05 with a raw 16-bit value (request and its echo reply)."""

    function_code = 5
    rtu_frame_size = 8

    def __init__(self, address: int = 0, value: int = 0, dev_id: int = 0,
                 transaction_id: int = 0) -> None:
        super().__init__(dev_id=dev_id, transaction_id=transaction_id, address=address)
        self.value = value

    def encode(self) -> bytes:
        """Address and value, big-endian."""
        return struct.pack(">HH", self.address, self.value)

    def decode(self, data: bytes) -> None:
        """Address and value, big-endian."""
        self.address, self.value = struct.unpack(">HH", data[:4])


def flash_on(relay: int, pulse_ms: int, unit: int) -> RawWriteCoil:
    """The request that pulses relay *relay* (1-based, as printed on the board)."""
    if not 1 <= relay <= 8:
        raise ValueError("relay must be 1..8")
    return RawWriteCoil(FLASH_BASE + relay - 1, pulse_units(pulse_ms), dev_id=unit)


def set_relay(relay: int, on: bool, unit: int) -> RawWriteCoil:
    """The request that closes (``on``) or opens relay *relay* (1-based) and leaves it so:
    FC05 to coil ``relay - 1`` with 0xFF00 or 0x0000 (the board's latching write)."""
    if not 1 <= relay <= 8:
        raise ValueError("relay must be 1..8")
    return RawWriteCoil(relay - 1, 0xFF00 if on else 0x0000, dev_id=unit)


def pulse_units(pulse_ms: int) -> int:
    """Pulse length in the board's 100 ms units (1–255)."""
    return max(1, min(255, round(pulse_ms / 100)))

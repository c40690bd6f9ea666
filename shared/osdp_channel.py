"""The byte channel libosdp talks over, on a pyserial port: an RS-485 adapter, a pseudo-terminal,
or any pyserial URL. Shared by the edge's keypad driver and the keypad simulator."""

from __future__ import annotations

import osdp
import serial


class SerialChannel(osdp.Channel):
    """An OSDP channel over a pyserial port (non-blocking reads)."""

    def __init__(self, port: serial.SerialBase) -> None:
        super().__init__()
        self.port = port
        self.open = True

    def read(self, max_bytes: int) -> bytes:
        if not self.open:
            return b""
        try:
            waiting = self.port.in_waiting
            return bytes(self.port.read(min(max_bytes, waiting))) if waiting else b""
        except (OSError, serial.SerialException):
            return b""

    def write(self, buf: bytes) -> int:
        if not self.open:
            return len(buf)  # unplugged: the bytes go nowhere
        try:
            return int(self.port.write(buf) or 0)
        except (OSError, serial.SerialException):
            return 0

    def flush(self) -> None:
        pass

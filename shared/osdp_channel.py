"""The byte channel libosdp talks over, on a pyserial port: an RS-485 adapter, a pseudo-terminal,
or any pyserial URL; and libosdp's control panel and peripheral device run often enough for a
keypad's code to be answered within OSDP's own poll interval. Shared by the edge's keypad
driver and the keypad simulator."""

from __future__ import annotations

import logging
import threading
import time

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
            # Off the line: what the other end sends meanwhile is lost, not kept for later
            # (stale frames read after a re-plug would answer polls long gone).
            try:
                self.port.reset_input_buffer()
            except (OSError, serial.SerialException):
                pass
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


TICK_S = 0.002  # how often the state machines run: a frame is answered within this


def _run(event: threading.Event, lock: threading.Lock, ctx: object) -> None:
    while not event.is_set():
        with lock:
            ctx.refresh()  # type: ignore[attr-defined]
        time.sleep(TICK_S)


class ControlPanel(osdp.ControlPanel):
    """libosdp's control panel, run every ``TICK_S`` (the binding's own loop sleeps 20 ms
    between runs, which adds up to tens of milliseconds to every poll and reply), and without
    the binding's event queue, which keeps every event for a ``get_event`` nobody calls."""

    refresh = staticmethod(_run)

    def _internal_event_handler(self, pd: int, event: dict) -> int:
        if self.user_event_handler is None:
            return 0
        try:
            return int(self.user_event_handler(pd, event))
        except Exception:
            logging.getLogger(__name__).exception("OSDP event handler failed")
            return -1


class PeripheralDevice(osdp.PeripheralDevice):
    """libosdp's peripheral device, run every ``TICK_S`` (a reader answers a poll within a
    few milliseconds), without the binding's command queue."""

    refresh = staticmethod(_run)

    def _internal_command_handler(self, command: dict) -> tuple[int, dict | None]:
        if self.user_command_handler is None:
            return 0, None
        try:
            status, reply = self.user_command_handler(command)
            return int(status), reply
        except Exception:
            logging.getLogger(__name__).exception("OSDP command handler failed")
            return -1, None

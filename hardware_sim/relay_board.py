"""Simulated Waveshare-style Modbus relay boards, one per unit id, served by pymodbus.

Map (PROTOCOLS.md): relays 1–8 are coils 0–7 (FC01 read, FC05 write single, FC15 write
multiple; FC05 0xFF00 on, 0x0000 off; coil 0x00FF addresses all relays); FC05 to 0x0200+n with
value = pulse length in 100 ms units is *flash-on*; FC02 inputs 0–7 carry the loop detector
and the boom's limit switches. Relay 1 is wired to the operator's OPEN input, relay 2 to STOP.
Inputs: 1 loop occupied, 2 open limit, 3 closed limit.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadCoilsResponse,
    ReadDiscreteInputsResponse,
    WriteMultipleCoilsRequest,
    WriteMultipleCoilsResponse,
)
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice

from hardware_sim.barrier import Boom

log = logging.getLogger(__name__)

RELAY_OPEN, RELAY_STOP = 0, 1
FLASH_BASE = 0x0200
ALL_RELAYS = 0x00FF


@dataclass
class Pulse:
    """One closure of a relay contact, in monotonic seconds."""

    relay: int
    on_at: float
    off_at: float | None = None


class RelayBoard:
    """Eight relays and eight inputs; relay 1 presses the boom's OPEN, relay 2 its STOP."""

    def __init__(self, unit: int, boom: Boom | None = None) -> None:
        self.unit = unit
        self.boom = boom
        self.coils = [False] * 8
        self.pulses: list[Pulse] = []
        self.flash_writes = 0
        self._lock = threading.Lock()
        self._timers: dict[int, threading.Timer] = {}
        self._pulse_cond = threading.Condition(self._lock)

    def set_relay(self, n: int, on: bool) -> None:
        """Close or open relay contact *n* (0-based)."""
        with self._lock:
            self._set(n, on)

    def _set(self, n: int, on: bool) -> None:
        was = self.coils[n]
        self.coils[n] = on
        if on and not was:
            self.pulses.append(Pulse(n, time.monotonic()))
            del self.pulses[:-500]
            if self.boom is not None:
                if n == RELAY_OPEN:
                    self.boom.press_open()
                elif n == RELAY_STOP:
                    self.boom.set_stop(True)
        elif was and not on:
            for p in reversed(self.pulses):
                if p.relay == n and p.off_at is None:
                    p.off_at = time.monotonic()
                    break
            if self.boom is not None and n == RELAY_STOP:
                self.boom.set_stop(False)
        self._pulse_cond.notify_all()

    def flash_on(self, n: int, units: int) -> None:
        """Close relay *n* now and release it by itself after ``units`` × 100 ms."""
        with self._lock:
            self.flash_writes += 1
            self._pulse_cond.notify_all()
            old = self._timers.pop(n, None)
            if old:
                old.cancel()
            self._set(n, True)
            t = threading.Timer(units / 10.0, self.set_relay, args=(n, False))
            t.daemon = True
            self._timers[n] = t
            t.start()

    def inputs(self) -> list[bool]:
        """The eight digital inputs: loop, open limit, closed limit, then unused."""
        if self.boom is None:
            return [False] * 8
        s = self.boom.snapshot()
        return [s.loop, s.open_limit, s.closed_limit] + [False] * 5

    def wait_flash_writes(self, count: int, timeout: float) -> bool:
        """Wait until at least *count* flash-on writes have been received."""
        deadline = time.monotonic() + timeout
        with self._pulse_cond:
            while self.flash_writes < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pulse_cond.wait(left)
            return True

    def wait_pulses(self, count: int, timeout: float) -> bool:
        """Wait until at least *count* pulses have been seen."""
        deadline = time.monotonic() + timeout
        with self._pulse_cond:
            while len(self.pulses) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pulse_cond.wait(left)
            return True

    def write_single(self, address: int, value: int) -> ExcCodes | None:
        """FC05 semantics of the board."""
        if FLASH_BASE <= address < FLASH_BASE + 8:
            if not 1 <= value <= 0xFF:
                return ExcCodes.ILLEGAL_VALUE
            self.flash_on(address - FLASH_BASE, value)
            return None
        if value not in (0xFF00, 0x0000):
            return ExcCodes.ILLEGAL_VALUE
        if address == ALL_RELAYS:
            for n in range(8):
                self.set_relay(n, value == 0xFF00)
            return None
        if 0 <= address < 8:
            self.set_relay(address, value == 0xFF00)
            return None
        return ExcCodes.ILLEGAL_ADDRESS


class BoardBank:
    """The boards behind one Modbus server (a TCP gateway, or one RS-485 line)."""

    def __init__(self) -> None:
        self.boards: dict[int, RelayBoard] = {}
        self.requests = 0

    def add(self, board: RelayBoard) -> RelayBoard:
        """Put a board on the line."""
        self.boards[board.unit] = board
        return board

    def board(self, unit: int) -> RelayBoard | None:
        """The board answering *unit*, if any."""
        self.requests += 1
        return self.boards.get(unit)


def _pdus(bank: BoardBank) -> list[type[ModbusPDU]]:
    """Request PDUs bound to *bank*; registered on the server, they replace stock handling."""

    def missing(fc: int) -> ExceptionResponse:
        return ExceptionResponse(fc, ExcCodes.GATEWAY_NO_RESPONSE)

    class ReadCoils(ReadCoilsRequest):
        async def datastore_update(self, context, device_id):
            b = bank.board(self.dev_id)
            if b is None:
                return missing(1)
            if self.address + self.count > 8:
                return ExceptionResponse(1, ExcCodes.ILLEGAL_ADDRESS)
            bits = b.coils[self.address : self.address + self.count]
            return ReadCoilsResponse(bits=bits, dev_id=self.dev_id,
                                     transaction_id=self.transaction_id)

    class ReadInputs(ReadCoilsRequest):
        function_code = 2

        async def datastore_update(self, context, device_id):
            b = bank.board(self.dev_id)
            if b is None:
                return missing(2)
            if self.address + self.count > 8:
                return ExceptionResponse(2, ExcCodes.ILLEGAL_ADDRESS)
            bits = b.inputs()[self.address : self.address + self.count]
            return ReadDiscreteInputsResponse(bits=bits, dev_id=self.dev_id,
                                              transaction_id=self.transaction_id)

    class WriteSingle(ModbusPDU):
        """FC05 with the raw 16-bit value, so flash-on lengths survive decoding."""

        function_code = 5
        rtu_frame_size = 8

        def __init__(self, address: int = 0, value: int = 0, dev_id: int = 0,
                     transaction_id: int = 0) -> None:
            super().__init__(dev_id=dev_id, transaction_id=transaction_id, address=address)
            self.value = value

        def encode(self) -> bytes:
            return struct.pack(">HH", self.address, self.value)

        def decode(self, data: bytes) -> None:
            self.address, self.value = struct.unpack(">HH", data[:4])

        async def datastore_update(self, context, device_id):
            b = bank.board(self.dev_id)
            if b is None:
                return missing(5)
            if exc := b.write_single(self.address, self.value):
                return ExceptionResponse(5, exc)
            return WriteSingle(self.address, self.value, self.dev_id, self.transaction_id)

    class WriteMultiple(WriteMultipleCoilsRequest):
        async def datastore_update(self, context, device_id):
            b = bank.board(self.dev_id)
            if b is None:
                return missing(15)
            bits: Sequence[bool] = self.bits[: self.count]
            if self.address + len(bits) > 8:
                return ExceptionResponse(15, ExcCodes.ILLEGAL_ADDRESS)
            for i, bit in enumerate(bits):
                b.set_relay(self.address + i, bool(bit))
            return WriteMultipleCoilsResponse(address=self.address, count=len(bits),
                                              dev_id=self.dev_id,
                                              transaction_id=self.transaction_id)

    return [ReadCoils, ReadInputs, WriteSingle, WriteMultiple]


class BoardServer:
    """A pymodbus server for a :class:`BoardBank`: Modbus TCP, or RTU on a serial device."""

    def __init__(self, bank: BoardBank, *, host: str = "127.0.0.1", port: int = 0,
                 serial_port: str | None = None, baudrate: int = 9600) -> None:
        self.bank = bank
        self.host = host
        self.port = port
        self.serial_port = serial_port
        self.baudrate = baudrate
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """What the edge's relay adapter is given."""
        return self.serial_port or f"tcp://{self.host}:{self.port}"

    def start(self) -> None:
        """Serve in a thread of its own; returns once the port is bound."""
        if not self.serial_port and self.port == 0:
            import socket

            with socket.socket() as s:
                s.bind((self.host, 0))
                self.port = s.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name="sim-modbus", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("modbus simulator did not start")
        if self._error:
            raise RuntimeError(f"modbus simulator failed: {self._error}")

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        device = SimDevice(0, simdata=SimData(0, values=0))
        if self.serial_port:
            self._server = ModbusSerialServer(
                device, framer=FramerType.RTU, port=self.serial_port, baudrate=self.baudrate,
                custom_pdu=_pdus(self.bank),
            )
        else:
            self._server = ModbusTcpServer(
                device, address=(self.host, self.port), custom_pdu=_pdus(self.bank)
            )
        await self._server.serve_forever(background=True)
        self._ready.set()
        while self._server is not None and not self._server.serving.done():
            for b in self.bank.boards.values():
                if b.boom is not None:
                    b.boom.tick()
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        """Shut the server down and join its thread."""
        if self._loop and self._server:
            server = self._server
            fut = asyncio.run_coroutine_threadsafe(server.shutdown(), self._loop)
            try:
                fut.result(5)
            except Exception:  # already closed
                pass
            self._server = None
        if self._thread:
            self._thread.join(5)

"""Barrier actuator over Modbus (TCP gateway or RTU line), one lock per bus.

The open is a single flash-on write, never on+off from software, and is never retried: a late
open is worse than none (the car may have gone, or another may be there). Failures are
logged on transitions only: the first at ERROR, then quiet, then "recovered" once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType

from edge.drivers.waveshare import RawWriteCoil, flash_on, set_relay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenResult:
    """Outcome of one open pulse."""

    ok: bool
    ack_mono_ns: int
    error: str = ""


@dataclass(frozen=True)
class GateInputs:
    """The board's inputs that matter to a gate."""

    loop: bool
    open_limit: bool
    closed_limit: bool


class BarrierActuator(Protocol):
    """Port: what the daemon needs from a barrier."""

    def open(self, pulse_ms: int) -> OpenResult:
        """Pulse the OPEN contact."""
        ...

    def read_inputs(self) -> GateInputs | None:
        """Loop and limit switches, or None when the board cannot be read."""
        ...

    def hold(self, on: bool) -> bool:
        """Latch (or release) the operator's STOP/hold input; False when not wired or the
        board did not acknowledge."""
        ...


class ModbusBus:
    """One Modbus line (or TCP gateway): one request at a time, reconnect after faults."""

    def __init__(self, url: str, *, timeout_s: float = 0.5, baudrate: int = 9600) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.baudrate = baudrate
        self.lock = threading.Lock()
        self.healthy: bool | None = None
        self.failures = 0
        self._client: ModbusTcpClient | ModbusSerialClient | None = None

    def _make(self) -> ModbusTcpClient | ModbusSerialClient:
        if self.url.startswith("tcp://"):
            u = urlparse(self.url)
            client: ModbusTcpClient | ModbusSerialClient = ModbusTcpClient(
                u.hostname or "127.0.0.1", port=u.port or 502, timeout=self.timeout_s,
                retries=0, reconnect_delay=0,
            )
        else:
            client = ModbusSerialClient(
                self.url, framer=FramerType.RTU, baudrate=self.baudrate,
                timeout=self.timeout_s, retries=0, reconnect_delay=0,
            )
        client.register(RawWriteCoil)
        return client

    def call(self, what: str, fn):
        """Run ``fn(client)`` under the bus lock; return its result or None on failure."""
        with self.lock:
            try:
                if self._client is None:
                    self._client = self._make()
                if not self._client.connected and not self._client.connect():
                    raise ConnectionError(f"cannot connect to {self.url}")
                result = fn(self._client)
                if getattr(result, "isError", lambda: False)():
                    raise ModbusException(f"{what}: device answered {result}")
            except (ModbusException, OSError, ConnectionError, ValueError) as exc:
                self.failures += 1
                if self.healthy is not False:
                    log.error("modbus %s failed on %s: %s", what, self.url, exc)
                self.healthy = False
                if self._client is not None:
                    self._client.close()
                    self._client = None
                return None
            if self.healthy is False:
                log.warning("modbus %s recovered", self.url)
            self.healthy = True
            return result

    def close(self) -> None:
        """Close the client."""
        with self.lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class ModbusBarrier:
    """A barrier wired to one board: OPEN on a relay, loop and limits on inputs (1-based)."""

    def __init__(self, bus: ModbusBus, *, unit: int, relay: int, loop_input: int,
                 open_input: int, closed_input: int, hold_relay: int | None = None) -> None:
        self.bus = bus
        self.unit = unit
        self.relay = relay
        self.hold_relay = hold_relay
        self.loop_input = loop_input
        self.open_input = open_input
        self.closed_input = closed_input

    def open(self, pulse_ms: int) -> OpenResult:
        """One flash-on write; acknowledged means the board echoed it."""
        req = flash_on(self.relay, pulse_ms, self.unit)

        def write(client):
            reply = client.execute(False, req)
            if isinstance(reply, RawWriteCoil) and (reply.address, reply.value) != (
                req.address, req.value
            ):
                raise ModbusException(f"flash-on echo mismatch: {reply.address}/{reply.value}")
            return reply

        result = self.bus.call("flash-on", write)
        ack = time.monotonic_ns()
        if result is None:
            return OpenResult(False, ack, f"relay board {self.bus.url} unit {self.unit} failed")
        return OpenResult(True, ack)

    def hold(self, on: bool) -> bool:
        """Latch or release the hold relay (wired to the operator's STOP): a boom held at its
        open limit stays up until released, whatever its auto-close timer says."""
        if self.hold_relay is None:
            return False
        req = set_relay(self.hold_relay, on, self.unit)

        def write(client):
            reply = client.execute(False, req)
            if not isinstance(reply, RawWriteCoil) or (reply.address, reply.value) != (
                    req.address, req.value):
                raise ModbusException("hold echo mismatch")
            return reply

        return self.bus.call("hold", write) is not None

    def read_inputs(self) -> GateInputs | None:
        """Read the eight inputs (FC02) and pick the gate's."""
        rr = self.bus.call(
            "read inputs", lambda c: c.read_discrete_inputs(0, count=8, device_id=self.unit)
        )
        if rr is None:
            return None
        bits = rr.bits
        return GateInputs(bits[self.loop_input - 1], bits[self.open_input - 1],
                          bits[self.closed_input - 1])

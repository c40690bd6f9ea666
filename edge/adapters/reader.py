"""Credential reader over a serial line (device path or pyserial URL such as ``socket://``).

Reads bytes, feeds the protocol's stream decoder, hands every EPC to ``on_epc`` with the
monotonic time the frame completed, counts rejected frames by reason, and reopens the line
with back-off when it drops. Logs on transitions only. The line's state starts unknown and is
reported on every change, the first failure included (a reader dead at boot is reported).
The daemon sees only the ``CredentialReader`` port; ``open_reader`` picks the protocol by name.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

import serial

from edge.drivers import uhf18

log = logging.getLogger(__name__)

EpcHandler = Callable[[str, int], None]


class CredentialReader(Protocol):
    """Port: a reader that hands credentials to the daemon from a thread of its own."""

    def last_progress(self) -> float:
        """When the reading thread last went round its loop (monotonic)."""
        ...

    def start(self) -> None:
        """Start (or start again after the thread died)."""
        ...

    def stop(self) -> None:
        """Stop and join."""
        ...

    def alive(self) -> bool:
        """Whether the reading thread runs."""
        ...

    def stats(self) -> dict[str, Any]:
        """Line state and counters."""
        ...


PROTOCOLS = ("uhf18",)


def open_reader(name: str, protocol: str, url: str, *, baud: int, on_epc: EpcHandler,
                on_reject: Callable[[uhf18.Rejected], None] | None = None,
                on_state: Callable[[bool, str], None] | None = None) -> CredentialReader:
    """A reader of the named protocol family."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unsupported reader protocol {protocol!r} (supported: "
                         f"{', '.join(PROTOCOLS)})")
    return SerialReader(name, url, baud=baud, protocol=protocol, on_epc=on_epc,
                        on_reject=on_reject, on_state=on_state)


class SerialReader:
    """One reader's line; a thread of its own."""

    def __init__(self, name: str, url: str, *, baud: int = 57600, protocol: str = "uhf18",
                 on_epc: EpcHandler, on_reject: Callable[[uhf18.Rejected], None] | None = None,
                 on_state: Callable[[bool, str], None] | None = None) -> None:
        if protocol != "uhf18":
            raise ValueError(f"unsupported reader protocol {protocol!r} (supported: uhf18)")
        self.name = name
        self.url = url
        self.baud = baud
        self.on_epc = on_epc
        self.on_reject = on_reject
        self.on_state = on_state
        self.frames = 0
        self.rejected: Counter[str] = Counter()
        self.reconnects = 0
        self.handler_errors = 0
        self.state: bool | None = None  # None: not known yet (nothing tried or answered)
        self.progress = time.monotonic()
        self.settle_s = 1.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._serial: serial.SerialBase | None = None
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        """Whether the line is up."""
        return bool(self.state)

    def alive(self) -> bool:
        """Whether the reading thread runs."""
        return bool(self._thread and self._thread.is_alive())

    def last_progress(self) -> float:
        """When the reading thread last went round its loop (monotonic)."""
        return self.progress

    def stats(self) -> dict[str, Any]:
        """Line state and counters."""
        return {"connected": self.connected, "frames": self.frames,
                "rejected": dict(self.rejected)}

    def start(self) -> None:
        """Start the reading thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"reader-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and join."""
        self._stop.set()
        with self._lock:
            if self._serial is not None:
                try:
                    self._serial.close()
                except Exception:
                    pass
        if self._thread:
            self._thread.join(3)

    def send(self, frame: bytes) -> bool:
        """Write a command frame to the reader (for commissioning tools)."""
        with self._lock:
            if self._serial is None:
                return False
            self._serial.write(frame)
            return True

    def _set_state(self, up: bool, why: str) -> None:
        if up == self.state:
            return
        self.state = up
        if up:
            log.info("reader %s connected at %s", self.name, self.url)
        else:
            log.error("reader %s lost: %s", self.name, why)
        if self.on_state:
            self.on_state(up, why)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            self.progress = time.monotonic()
            try:
                ser = serial.serial_for_url(self.url, baudrate=self.baud, timeout=0.01)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._set_state(False, str(exc))
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, 1.0)
                continue
            with self._lock:
                self._serial = ser
            self.reconnects += 1
            try:
                self._pump(ser)
                backoff = 0.1
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                if not self._stop.is_set():
                    self._set_state(False, str(exc) or type(exc).__name__)
            finally:
                with self._lock:
                    self._serial = None
                try:
                    ser.close()
                except Exception:
                    pass

    def _pump(self, ser: serial.SerialBase) -> None:
        """Read until the line fails. The line counts as up once it has delivered bytes or
        stayed open for ``settle_s``: a port that opens and drops at once is not flapping up."""
        decoder = uhf18.StreamDecoder()
        opened = time.monotonic()
        # pyserial's socket:// line says only whether *some* bytes wait (in_waiting is 0 or
        # 1), and a read of more than that waits out the timeout: drain it non-blocking, or
        # a noisy line costs one Python round trip per byte.
        socket_line = type(ser).__module__.endswith("protocol_socket")
        while not self._stop.is_set():
            data = ser.read(max(1, ser.in_waiting))
            if data and socket_line and ser.in_waiting:
                ser.timeout = 0
                try:
                    data += ser.read(4096)
                finally:
                    ser.timeout = 0.01
            now = self.progress = time.monotonic()
            now_ns = time.monotonic_ns()
            if not self.connected and (data or now - opened >= self.settle_s):
                self._set_state(True, "")
            results = decoder.feed(data, now) if data else decoder.expire(now)
            for item in results:
                if isinstance(item, uhf18.Rejected):
                    self._reject(item)
                    continue
                self.frames += 1
                for epc in item.epcs():
                    try:
                        self.on_epc(epc, now_ns)
                    except Exception:
                        # A failing handler must not take the reader down with it.
                        self.handler_errors += 1
                        log.exception("reader %s: handling %s failed", self.name, epc)

    def _reject(self, item: uhf18.Rejected) -> None:
        self.rejected[item.reason] += 1
        total = sum(self.rejected.values())
        if total == 1 or total % 100 == 0:
            log.warning("reader %s rejected %d frames so far (%s); latest %s: %s", self.name,
                        total, dict(self.rejected), item.reason, item.raw.hex(" "))
        else:
            log.debug("reader %s rejected %s: %s", self.name, item.reason, item.raw.hex())
        if self.on_reject:
            self.on_reject(item)

"""A simulated UHF reader on a TCP port (pyserial ``socket://``) or a pseudo-terminal.

In scan mode it pushes a 0xEE frame for every tag in its field at ``rate_hz``; in any mode it
answers inventory, reader-info, scan-time, power and work-mode commands. Fault knobs corrupt
CRCs, split and merge frames, inject garbage, and take the line away.
"""

from __future__ import annotations

import logging
import os
import random
import select
import socket
import threading
import time
import tty
from dataclasses import dataclass

from hardware_sim import uhf_codec

log = logging.getLogger(__name__)

MODE_ANSWER, MODE_SCAN, MODE_TRIGGER = 0, 1, 2


@dataclass
class ReaderFaults:
    """Probabilities (0–1) applied to each frame the reader sends."""

    corrupt_crc: float = 0.0
    split: float = 0.0
    merge: float = 0.0
    garbage: float = 0.0
    seed: int = 7


class SimReader:
    """One reader at one gate."""

    def __init__(
        self,
        name: str,
        *,
        transport: str = "tcp",
        host: str = "127.0.0.1",
        port: int = 0,
        rate_hz: float = 20.0,
        adr: int = 0x00,
        faults: ReaderFaults | None = None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.host = host
        self.port = port
        self.rate_hz = rate_hz
        self.adr = adr
        self.faults = faults or ReaderFaults()
        self.mode = MODE_SCAN
        self.scan_time = 10
        self.power = 30
        self.frames_sent = 0
        self.commands_seen = 0
        self._field: dict[str, int] = {}
        self._lock = threading.RLock()
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._noise_on = threading.Event()
        self._noise_bps = 0.0
        self._line_up = threading.Event()
        self._line_up.set()
        self._client: socket.socket | None = None
        self._connected = threading.Event()
        self._listener: socket.socket | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._pending_merge = b""
        self._rng = random.Random(self.faults.seed)
        self._threads: list[threading.Thread] = []
        self._parser = uhf_codec.CommandParser()

    # Life cycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """What the edge opens: ``socket://host:port`` or the pty's device path."""
        if self.transport == "pty":
            assert self._slave is not None
            return os.ttyname(self._slave)
        return f"socket://{self.host}:{self.port}"

    def start(self) -> None:
        """Open the port and start pushing."""
        if self.transport == "pty":
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            self._connected.set()
            self._spawn(self._pty_loop, "rx")
        else:
            self._listener = socket.create_server((self.host, self.port))
            self.port = self._listener.getsockname()[1]
            self._spawn(self._accept_loop, "accept")
        self._spawn(self._push_loop, "push")

    def stop(self) -> None:
        """Close everything and join the threads."""
        self._stop.set()
        self._drop_client()
        if self._listener:
            self._listener.close()
        for t in self._threads:
            t.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _spawn(self, fn, what: str) -> None:
        t = threading.Thread(target=fn, name=f"sim-reader-{self.name}-{what}", daemon=True)
        t.start()
        self._threads.append(t)

    # The world -----------------------------------------------------------------------------
    def tag_enter(self, epc: str) -> None:
        """A tag comes into the antenna's field."""
        with self._lock:
            self._field[epc.upper()] = self._field.get(epc.upper(), 0) + 1

    def tag_leave(self, epc: str) -> None:
        """A tag leaves the field."""
        with self._lock:
            n = self._field.get(epc.upper(), 0) - 1
            if n <= 0:
                self._field.pop(epc.upper(), None)
            else:
                self._field[epc.upper()] = n

    def in_field(self) -> list[str]:
        """Tags now in the field."""
        with self._lock:
            return list(self._field)

    def push_once(self, epc: str) -> int:
        """Send one scan frame for *epc*; return ``time.monotonic_ns()`` after its last byte."""
        frame = uhf_codec.scan_push(epc, self.adr)
        self._write(frame)
        return time.monotonic_ns()


    def noise(self, bytes_per_s: float, seed: int = 11) -> None:
        """Send random bytes at *bytes_per_s* (a broken or unterminated line; 5,760 B/s is
        57,600 baud 8N1 flat out) until called again with 0."""
        self._noise_bps = bytes_per_s
        if bytes_per_s > 0 and not self._noise_on.is_set():
            self._noise_on.set()
            self._spawn(lambda: self._noise_loop(seed), "noise")
        elif bytes_per_s <= 0:
            self._noise_on.clear()

    def _noise_loop(self, seed: int) -> None:
        rng = random.Random(seed)
        tick = 0.01
        next_at, owed = time.monotonic(), 0.0
        while self._noise_on.is_set() and not self._stop.is_set():
            owed += self._noise_bps * tick
            n = int(owed)
            owed -= n
            if n:
                self._write(rng.randbytes(n))
            next_at += tick
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()

    def line_down(self) -> None:
        """The cable is pulled: the host's connection drops and the port stops answering."""
        self._line_up.clear()
        if self._listener is not None:
            self._listener.close()
        self._drop_client()

    def line_up(self) -> None:
        """The cable is back: the port listens again (same address)."""
        if self.transport == "tcp" and not self._line_up.is_set():
            self._listener = socket.create_server((self.host, self.port))
            self._spawn(self._accept_loop, "accept")
        self._line_up.set()

    # Sending -------------------------------------------------------------------------------
    def _send_faulty(self, frame: bytes) -> None:
        f, rng = self.faults, self._rng
        if f.corrupt_crc and rng.random() < f.corrupt_crc:
            frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
        if f.garbage and rng.random() < f.garbage:
            frame = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6))) + frame
        if f.merge and rng.random() < f.merge and not self._pending_merge:
            self._pending_merge = frame
            return
        frame, self._pending_merge = self._pending_merge + frame, b""
        if f.split and rng.random() < f.split and len(frame) > 2:
            cut = rng.randint(1, len(frame) - 1)
            self._write(frame[:cut])
            time.sleep(0.002)  # the second half arrives in a later read on the host
            self._write(frame[cut:])
        else:
            self._write(frame)

    def _write(self, data: bytes) -> None:
        with self._send_lock:
            try:
                if self.transport == "pty":
                    if self._master is not None and self._line_up.is_set():
                        os.write(self._master, data)
                elif self._client is not None:
                    self._client.sendall(data)
                else:
                    return
                self.frames_sent += 1
            except OSError:
                self._drop_client()

    def _push_loop(self) -> None:
        period = 1.0 / self.rate_hz if self.rate_hz > 0 else 0.05
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += period
            if self.mode == MODE_SCAN and self._line_up.is_set():
                for epc in self.in_field():
                    self._send_faulty(uhf_codec.scan_push(epc, self.adr))
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at = time.monotonic()
            elif self._stop.wait(delay):
                return

    # Receiving -----------------------------------------------------------------------------
    def _handle(self, data: bytes) -> None:
        for adr, cmd, body in self._parser.feed(data):
            if adr not in (self.adr, 0xFF):
                continue
            self.commands_seen += 1
            self._write(self._answer(cmd, body))

    def _answer(self, cmd: int, body: bytes) -> bytes:
        a = self.adr
        if cmd == 0x01:
            return uhf_codec.inventory_reply(self.in_field(), a)
        if cmd == 0x21:
            # version 3.1, type 0x09, protocols 6B+6C, max/min frequency index, power, scan time
            return uhf_codec.reply(0x21, 0x00, bytes([3, 1, 0x09, 0x03, 0x4E, 0x00,
                                                       self.power, self.scan_time]), a)
        if cmd == 0x25 and len(body) == 1:
            self.scan_time = body[0]
            return uhf_codec.reply(0x25, 0x00, b"", a)
        if cmd == 0x2F and len(body) == 1 and body[0] <= 30:
            self.power = body[0]
            return uhf_codec.reply(0x2F, 0x00, b"", a)
        if cmd == 0x35 and len(body) >= 1 and body[0] <= 3:
            self.mode = MODE_SCAN if body[0] == 1 else body[0]
            return uhf_codec.reply(0x35, 0x00, b"", a)
        if cmd == 0x36:
            # Wiegand mode, interval, pulse width, pulse interval, read mode, mode state,
            # memory, first address, word count, tag time
            return uhf_codec.reply(0x36, 0x00, bytes([0, 0, 0, 0, self.mode, 0, 1, 2, 6, 0]), a)
        if cmd in (0x25, 0x2F, 0x35):
            return uhf_codec.reply(cmd, 0xFF, b"", a)
        return uhf_codec.reply(cmd, 0xFE, b"", a)

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        listener.settimeout(0.2)
        while not self._stop.is_set() and listener is self._listener:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._line_up.is_set():
                conn.close()
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._drop_client()
            self._client = conn
            self._connected.set()
            self._spawn(lambda c=conn: self._client_loop(c), "rx")

    def _client_loop(self, conn: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([conn], [], [], 0.2)
                if not ready:
                    continue
                data = conn.recv(4096)
            except (OSError, ValueError):
                break
            if not data:
                break
            self._handle(data)
        if self._client is conn:
            self._drop_client()

    def _pty_loop(self) -> None:
        assert self._master is not None
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.2)
                if ready:
                    self._handle(os.read(self._master, 4096))
            except OSError:
                if self._stop.wait(0.05):
                    return

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._connected.clear()
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()

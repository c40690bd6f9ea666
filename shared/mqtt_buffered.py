"""A paho client for heavy MQTT traffic: reads in blocks, and sends small packets at once.

paho reads a packet a few bytes at a time (the fixed header's first byte, then each byte of the
remaining length, then the body): three or four ``recv`` calls for every small message, which a
cloud process receiving thousands of events a second pays for each one. And paho leaves Nagle's
algorithm on, so a small packet waits for the ACK of the one before, which the peer delays by
up to 40 ms: an event's ack took 45 ms on an idle machine instead of 5. :class:`Client` changes
only the transport under paho: a plain TCP socket gets ``TCP_NODELAY`` and is wrapped so that
reads are served from a 64 KiB buffer (paho's loop asks :meth:`BufferedSocket.pending`, as it
does for TLS, before waiting in ``select``). Every packet, callback and guarantee of paho stays
as it is. TLS sockets are left alone: they already read a whole record at a time.
"""

from __future__ import annotations

import socket
from typing import Any

import paho.mqtt.client as mqtt

READ_BLOCK = 65536


class BufferedSocket:
    """A non-blocking TCP socket whose reads come from a buffer filled a block at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        """Up to *bufsize* bytes: from the buffer, or one block from the socket when it is
        empty (``BlockingIOError`` when nothing has arrived; ``b""`` at the peer's close)."""
        if self._pos >= len(self._buf):
            self._buf, self._pos = self._sock.recv(READ_BLOCK), 0
            if not self._buf:
                return b""
        end = self._pos + bufsize
        out = self._buf[self._pos:end]
        self._pos = min(end, len(self._buf))
        return out

    def pending(self) -> int:
        """Bytes read from the socket and not yet handed out (paho does not ``select`` while
        there are any)."""
        return len(self._buf) - self._pos

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Send what the socket takes now."""
        return self._sock.send(data)

    def fileno(self) -> int:
        """The socket's descriptor, for ``select``."""
        return self._sock.fileno()

    def close(self) -> None:
        """Close the socket and drop what was buffered."""
        self._buf, self._pos = b"", 0
        self._sock.close()

    def __getattr__(self, name: str) -> Any:  # setblocking, setsockopt, getpeername, ...
        return getattr(self._sock, name)


class Client(mqtt.Client):
    """``paho.mqtt.client.Client`` with ``TCP_NODELAY``, over a :class:`BufferedSocket` when
    the connection is plain TCP."""

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if isinstance(sock, socket.socket) and sock.family != socket.AF_UNIX:  # TCP, TLS
            # Nagle's algorithm would hold a small packet back while an earlier one is
            # unacknowledged, and the peer delays its ACK by up to 40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return BufferedSocket(sock) if type(sock) is socket.socket else sock

"""MQTT 3.1.1 on the wire, as much as a simulated edge box needs, for the load generator.

``gatepost bench ingest`` drives hundreds of boxes from each load process, on the same cores
as the broker and the cloud it measures. Through paho, a box's every packet costs a message
object, locks, a reason code and a properties object on each side; the load processes then
took a third of the machine, and the cloud's figures measured the load generator as much as the
cloud. :class:`WireClient` speaks the same protocol to the same broker (CONNECT with the box's
own user, SUBSCRIBE, PUBLISH at QoS 1 awaiting PUBACK, incoming PUBLISH at QoS 0 or 1, PINGREQ)
and nothing more: no reconnect, no session, no TLS. The edge itself keeps paho.
"""

from __future__ import annotations

import socket
import struct

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 0x10, 0x20, 0x30, 0x40, 0x82, 0x90
PINGREQ, PINGRESP, DISCONNECT = 0xC0, 0xD0, 0xE0


def _text(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def _packet(head: int, body: bytes) -> bytes:
    n, length = len(body), bytearray()
    while True:  # the remaining length: 7 bits a byte, the high bit says more follow
        n, digit = divmod(n, 128)
        length.append(digit | (0x80 if n else 0))
        if not n:
            return bytes([head]) + bytes(length) + body


class ProtocolError(Exception):
    """The broker sent what this client cannot read, or refused it."""


class WireClient:
    """One box's connection: packets out are buffered until :meth:`flush`; :meth:`read`
    returns what arrived, parsed."""

    def __init__(self, client_id: str, username: str, password: str,
                 keepalive: int = 60) -> None:
        self.client_id, self.username, self.password = client_id, username, password
        self.keepalive = keepalive
        self.sock: socket.socket | None = None
        self._out = bytearray()
        self._in = bytearray()
        self._mid = 0

    def connect(self, host: str, port: int) -> None:
        """Open the connection and queue CONNECT (clean session, the box's user)."""
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        flags = 0x80 | 0x40 | 0x02  # user name, password, clean session
        body = (_text("MQTT") + bytes([4, flags]) + struct.pack("!H", self.keepalive)
                + _text(self.client_id) + _text(self.username) + _text(self.password))
        self._out += _packet(CONNECT, body)

    def fileno(self) -> int:
        """The socket's descriptor, for a selector."""
        assert self.sock is not None
        return self.sock.fileno()

    def _next_mid(self) -> int:
        self._mid = self._mid % 65535 + 1
        return self._mid

    def subscribe(self, topic: str, qos: int) -> None:
        """Queue a SUBSCRIBE to one topic filter."""
        self._out += _packet(SUBSCRIBE, struct.pack("!H", self._next_mid()) + _text(topic)
                             + bytes([qos]))

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        """Queue a PUBLISH; its packet id (0 at QoS 0)."""
        if qos == 0:
            self._out += _packet(PUBLISH, _text(topic) + payload)
            return 0
        mid = self._next_mid()
        self._out += _packet(PUBLISH | qos << 1, _text(topic) + struct.pack("!H", mid) + payload)
        return mid

    def ping(self) -> None:
        """Queue a PINGREQ (keepalive)."""
        self._out += bytes([PINGREQ, 0])

    def want_write(self) -> bool:
        """Whether packets wait to be written."""
        return bool(self._out)

    def flush(self) -> None:
        """Write every queued packet (blocking until the kernel took them)."""
        if self._out and self.sock is not None:
            self.sock.sendall(self._out)
            self._out.clear()

    def read(self) -> list[tuple[int, int, str, bytes]]:
        """What arrived: ``(type, packet id, topic, payload)`` per packet, in order (a
        CONNACK's return code stands in its packet id). An incoming QoS 1 PUBLISH is
        acknowledged (queued). ``ConnectionError`` when the broker closed the connection."""
        assert self.sock is not None
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return []
        if not data:
            raise ConnectionError("the broker closed the connection")
        buf, pos, out = self._in, 0, []
        buf += data
        while len(buf) - pos >= 2:
            n, mult, i = 0, 1, pos + 1
            while i < len(buf):  # the remaining length
                digit = buf[i]
                i += 1
                n += (digit & 0x7F) * mult
                mult *= 128
                if not digit & 0x80:
                    break
            else:
                break  # not all of it here yet
            if i + n > len(buf):
                break
            out.append(self._parse(buf[pos], bytes(buf[i:i + n])))
            pos = i + n
        del buf[:pos]
        return out

    def _parse(self, head: int, body: bytes) -> tuple[int, int, str, bytes]:
        kind = head & 0xF0
        if kind == CONNACK:
            return CONNACK, body[1], "", b""
        if kind in (PUBACK, SUBACK):
            return kind, struct.unpack_from("!H", body)[0], "", b""
        if kind == PUBLISH:
            qos = (head >> 1) & 3
            (tlen,) = struct.unpack_from("!H", body)
            topic, at, mid = body[2:2 + tlen].decode(), 2 + tlen, 0
            if qos:
                (mid,) = struct.unpack_from("!H", body, at)
                at += 2
                self._out += bytes([PUBACK, 2]) + struct.pack("!H", mid)
            return PUBLISH, mid, topic, body[at:]
        if kind == PINGRESP:
            return PINGRESP, 0, "", b""
        raise ProtocolError(f"unexpected packet 0x{head:02x}")

    def disconnect(self) -> None:
        """Send DISCONNECT and close."""
        if self.sock is not None:
            self._out += bytes([DISCONNECT, 0])
            try:
                self.flush()
            finally:
                self.sock.close()
                self.sock = None

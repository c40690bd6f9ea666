"""The simulated reader's side of the UHFReader18 protocol.

Written apart from ``edge.drivers.uhf18`` on purpose (table-driven CRC, its own parser) so a
mistake cannot hide by being made twice; both are tested against the vectors in PROTOCOLS.
"""

from __future__ import annotations


def _make_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc(data: bytes) -> bytes:
    """The two CRC bytes (low first) that end a frame over *data*."""
    value = 0xFFFF
    for b in data:
        value = (value >> 8) ^ _TABLE[(value ^ b) & 0xFF]
    return value.to_bytes(2, "little")


def reply(cmd: int, status: int, data: bytes = b"", adr: int = 0x00) -> bytes:
    """A reader → host frame."""
    head = bytes((len(data) + 5, adr, cmd, status)) + data
    return head + crc(head)


def scan_push(epc_hex: str, adr: int = 0x00) -> bytes:
    """The frame a reader in scan mode sends each time it sees a tag (reCmd 0xEE)."""
    return reply(0xEE, 0x00, bytes.fromhex(epc_hex), adr)


def inventory_reply(epcs: list[str], adr: int = 0x00) -> bytes:
    """Answer-mode inventory reply: status 0x01 with the tags, or 0xFB when none is in field."""
    if not epcs:
        return reply(0x01, 0xFB, b"", adr)
    body = bytes([len(epcs)])
    for e in epcs:
        raw = bytes.fromhex(e)
        body += bytes([len(raw)]) + raw
    return reply(0x01, 0x01, body, adr)


class CommandParser:
    """Splits the host's byte stream into commands ``(adr, cmd, data)``; bad frames are dropped."""

    def __init__(self) -> None:
        self.buf = b""
        self.bad = 0

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        """Return the complete, CRC-valid commands now buffered."""
        self.buf += data
        out = []
        while self.buf:
            n = self.buf[0]
            if n < 4:
                self.buf = self.buf[1:]
                self.bad += 1
                continue
            if len(self.buf) < n + 1:
                break
            frame = self.buf[: n + 1]
            if crc(frame[:-2]) != frame[-2:]:
                self.buf = self.buf[1:]
                self.bad += 1
                continue
            self.buf = self.buf[n + 1 :]
            out.append((frame[1], frame[2], frame[3:-2]))
        return out

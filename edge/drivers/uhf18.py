"""UHFReader18 binary protocol (Chafon CF-RU5xxx family and clones): codec and stream decoder.

Pure code, no IO. Host → reader: ``Len Adr Cmd Data… CRC_lo CRC_hi``; reader → host:
``Len Adr reCmd Status Data… CRC_lo CRC_hi``. ``Len`` counts the bytes after itself.
CRC-16: preset 0xFFFF, reflected polynomial 0x8408, low byte first; a whole frame checks to 0.
"""

from __future__ import annotations

import binascii
import heapq
from dataclasses import dataclass

CMD_INVENTORY = 0x01
CMD_READER_INFO = 0x21
CMD_SCAN_TIME = 0x25
CMD_RF_POWER = 0x2F
CMD_SET_WORK_MODE = 0x35
CMD_GET_WORK_MODE = 0x36
RECMD_SCAN_PUSH = 0xEE

STATUS_TEXT = {
    0x00: "ok",
    0x01: "done",
    0x02: "scan-time overflow",
    0x03: "more frames follow",
    0x04: "buffer full",
    0xFA: "poor communication",
    0xFB: "no tag",
    0xFD: "bad length",
    0xFE: "illegal command",
    0xFF: "parameter error",
}

MIN_LEN = 5  # Adr reCmd Status CRC CRC


def crc16_bitwise(data: bytes) -> int:
    """CRC-16 of the protocol, computed bit by bit as the datasheet gives it (the reference
    the fast ``crc16`` is tested against)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


# The protocol's CRC is the reflected form of CRC-CCITT (poly 0x1021, preset 0xFFFF, no final
# xor). ``binascii.crc_hqx`` computes the unreflected form in C; reversing each byte's bits
# before and the result's after gives the same value about a hundred times faster.
_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def crc16(data: bytes | bytearray) -> int:
    """CRC-16 of the protocol (preset 0xFFFF, reflected polynomial 0x8408)."""
    r = binascii.crc_hqx(bytes(data).translate(_REVERSED), 0xFFFF)
    return int(f"{r:016b}"[::-1], 2)


def _checks(frame: bytes) -> bool:
    """Whether a whole frame, CRC included, checks to 0 (a reflection of 0 is 0)."""
    return binascii.crc_hqx(frame.translate(_REVERSED), 0xFFFF) == 0


def plausible(frame: bytes) -> bool:
    """Whether a CRC-valid reader → host frame also makes sense: a known status, and for tag
    replies a body whose lengths add up. Garbage that happens to pass the CRC (1 in 65,536)
    and swallows the head of a real frame is caught here, so the real frame is not lost."""
    cmd, status, data = frame[2], frame[3], frame[4:-2]
    if status not in STATUS_TEXT:
        return False
    if cmd == RECMD_SCAN_PUSH:
        return status == 0x00 and len(data) >= 2 and len(data) % 2 == 0
    if cmd == CMD_INVENTORY and status in (0x01, 0x02, 0x03, 0x04):
        if not data:
            return False
        i = 1
        for _ in range(data[0]):
            if i >= len(data):
                return False
            i += 1 + data[i]
        return i == len(data)
    return True


def encode_command(cmd: int, data: bytes = b"", adr: int = 0x00) -> bytes:
    """A host → reader frame."""
    body = bytes([len(data) + 4, adr, cmd]) + data
    crc = crc16(body)
    return body + bytes([crc & 0xFF, crc >> 8])


@dataclass(frozen=True, slots=True)
class Reply:
    """A reader → host frame that passed its CRC."""

    adr: int
    cmd: int
    status: int
    data: bytes
    raw: bytes

    def epcs(self) -> list[str]:
        """EPCs carried by a scan push (0xEE) or an inventory reply (0x01), as upper hex."""
        if self.cmd == RECMD_SCAN_PUSH:
            return [self.data.hex().upper()] if self.data else []
        if self.cmd == CMD_INVENTORY and self.status in (0x01, 0x02, 0x03, 0x04) and self.data:
            out, i, count = [], 1, self.data[0]
            for _ in range(count):
                if i >= len(self.data):
                    break
                n = self.data[i]
                out.append(self.data[i + 1 : i + 1 + n].hex().upper())
                i += 1 + n
            return out
        return []


@dataclass(frozen=True, slots=True)
class Rejected:
    """Bytes the decoder threw away, with the reason."""

    reason: str  # "bad_crc" | "implausible" | "bad_length" | "garbage" | "stale_partial"
    raw: bytes


class StreamDecoder:
    """Turns an unreliable byte stream into frames, resynchronising after any fault.

    A candidate frame starts at the buffer head; if its CRC fails, one byte is dropped and the
    search resumes, so a good frame after garbage is always found. A partial frame that makes
    no progress for ``gap_s`` (the line went quiet) is abandoned the same way.

    Cost is proportional to the bytes received: every offset of the stream is checked as a
    frame start at most once as the head and at most once as a frame further on (offsets are
    kept by absolute stream position, so nothing is rescanned when more bytes arrive), and each
    check is one CRC in C. A line of pure noise costs a few microseconds per byte.
    """

    def __init__(self, *, max_len: int = 255, gap_s: float = 0.05,
                 max_skipped: int = 256) -> None:
        self._buf = bytearray()
        self._max_len = max_len
        self._gap_s = gap_s
        self._max_skipped = max_skipped
        self._last_data_at = 0.0
        self._skipped = bytearray()
        self._abs = 0  # stream position of the buffer's first byte
        self._next_start = 1  # stream position of the next offset not yet a candidate
        self._pending: list[tuple[int, int]] = []  # (end, start) of incomplete candidates
        self._valid_ahead: list[int] = []  # starts of complete, valid frames further on
        self._scanned_to = -1  # stream position of the buffer's end at the last look ahead

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes, now: float) -> list[Reply | Rejected]:
        """Add bytes received at monotonic time *now*; return what is now complete."""
        if data:
            self._buf += data
            self._last_data_at = now
        return self._drain(final=False)

    def expire(self, now: float) -> list[Reply | Rejected]:
        """Abandon a partial frame once the line has been quiet for ``gap_s``."""
        if self._buf and now - self._last_data_at >= self._gap_s:
            out: list[Reply | Rejected] = []
            while self._buf:
                step = self._drain(final=True)
                out.extend(step)
                if not step and self._buf:
                    break
            if self._skipped:
                out.append(Rejected("stale_partial", bytes(self._skipped)))
                self._skipped.clear()
            return out
        return []

    def _flush_skipped(self, out: list[Reply | Rejected], reason: str) -> None:
        if self._skipped:
            out.append(Rejected(reason, bytes(self._skipped)))
            self._skipped.clear()

    def _frame_ahead(self) -> int | None:
        """Offset of a complete, CRC-valid frame after the head, if one is buffered.

        A head byte that claims a long frame would otherwise hold good frames back until
        the gap timer fires; a whole valid frame further on proves the head was junk.
        """
        buf, base = self._buf, self._abs
        end = base + len(buf)
        if end == self._scanned_to and not self._valid_ahead:
            return None  # no byte came since the last look, and nothing valid was ahead then
        self._scanned_to = end
        for k in range(max(self._next_start, base + 1), end - MIN_LEN):
            n = buf[k - base]
            if MIN_LEN <= n <= self._max_len:
                heapq.heappush(self._pending, (k + n + 1, k))
        self._next_start = max(self._next_start, end - MIN_LEN, base + 1)
        pending = self._pending
        while pending and pending[0][0] <= end:
            stop, k = heapq.heappop(pending)
            if k <= base or buf[k - base + 3] not in STATUS_TEXT:  # cheap test first
                continue
            frame = bytes(buf[k - base : stop - base])
            if _checks(frame) and plausible(frame):
                heapq.heappush(self._valid_ahead, k)
        ahead = self._valid_ahead
        while ahead and ahead[0] <= base:
            heapq.heappop(ahead)
        return ahead[0] - base if ahead else None

    def _drop(self, n: int) -> None:
        """Forget the buffer's first *n* bytes."""
        del self._buf[:n]
        self._abs += n

    def _drain(self, *, final: bool) -> list[Reply | Rejected]:
        out: list[Reply | Rejected] = []
        buf = self._buf
        while buf:
            if len(self._skipped) >= self._max_skipped:  # a noisy line: report as it goes
                self._flush_skipped(out, "garbage")
            length = buf[0]
            if length < MIN_LEN or length > self._max_len:
                self._skipped.append(buf[0])
                self._drop(1)
                continue
            total = length + 1
            if len(buf) < total:
                if not final:
                    ahead = self._frame_ahead()
                    if ahead is None:
                        break
                    self._skipped += buf[:ahead]
                    self._drop(ahead)
                    continue
                # Line quiet: this head byte cannot start a frame.
                self._skipped.append(buf[0])
                self._drop(1)
                continue
            if buf[3] not in STATUS_TEXT and self._skipped:
                # Cannot be a frame (unknown status), and the run of skipped bytes it joins was
                # already reported: no CRC needed to drop it.
                self._skipped.append(buf[0])
                self._drop(1)
                continue
            frame = bytes(buf[:total])
            checks = _checks(frame)
            if checks and plausible(frame):
                self._flush_skipped(out, "garbage")
                self._drop(total)
                out.append(Reply(frame[1], frame[2], frame[3], frame[4:-2], frame))
            else:
                # Report a CRC failure once per candidate that looked like a whole frame.
                if not self._skipped:
                    out.append(Rejected("implausible" if checks else "bad_crc", frame))
                self._skipped.append(buf[0])
                self._drop(1)
        if self._skipped and not buf:
            self._flush_skipped(out, "garbage")
        return out
